-- Thresholds on custom metrics (plain and tagged sub-metrics) that fail:
-- exit 99, while the passing ones stay passed.
local metrics = require("stampede.metrics")

local orders = metrics.Counter("orders")
local order_ok = metrics.Rate("order_ok")
local order_wait = metrics.Trend("order_wait", true)
local depth = metrics.Gauge("depth")

options = {
  vus = 1,
  iterations = 4,
  thresholds = {
    orders = { "count>=10", "count==4" },
    order_ok = { "rate>0.9" },
    ["order_wait{kind:slow}"] = { "p(95)<100" },
    ["order_wait{kind:fast}"] = { "p(95)<100" },
    depth = { "value<5" },
  },
}

function default()
  orders:add(1)
  order_ok:add(vu.iteration % 2 == 0)
  order_wait:add(250, { kind = "slow" })
  order_wait:add(20, { kind = "fast" })
  depth:add(7)
end
