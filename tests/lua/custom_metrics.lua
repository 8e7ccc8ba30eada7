-- Custom metrics (require("stampede.metrics")) with exact values: 2 VUs x 3
-- iterations (per-vu-iterations), so every count below is known. Also
-- group_duration, tagged with each group's own path, also for a group left by
-- an error.
local metrics = require("stampede.metrics")

local orders = metrics.Counter("orders")
local queue = metrics.Gauge("queue_depth")
local order_ok = metrics.Rate("order_ok")
local order_wait = metrics.Trend("order_wait", true)
local basket = metrics.Trend("basket_size")
local lifecycle = metrics.Counter("lifecycle_marks")

options = {
  scenarios = { s = { executor = "per-vu-iterations", vus = 2, iterations = 3 } },
  tags = { testid = "cm" },
  thresholds = {
    orders = { "count==12" },
    ["orders{kind:a}"] = { "count==6" },
    queue_depth = { "value==3" },
    order_ok = { "rate>0.6", "rate<0.7" },
    order_wait = { "avg==10", "min==5", "max==15", "p(95)<100" },
    ["order_wait{kind:a}"] = { "max<6" },
    basket_size = { "avg==10" },
    ["basket_size{testid:override}"] = { "max==15" },
    ["group_duration{group:::checkout}"] = { "min>=10" },
    ["group_duration{group:::checkout::pay}"] = { "min>=0" },
    ["group_duration{group:::failing}"] = { "min>=5" },
    ["lifecycle_marks{group:::in_setup}"] = { "count==1" },
    ["lifecycle_marks{phase:setup}"] = { "count==1" },
    ["lifecycle_marks{phase:teardown}"] = { "count==1" },
    ["group_duration{group:::in_setup}"] = { "max>=0" },
  },
}

-- setup() and teardown() record too (as k6 does).
function setup()
  group("in_setup", function() lifecycle:add(1, { phase = "setup" }) end)
end

function teardown()
  lifecycle:add(1, { phase = "teardown" })
end

function default()
  orders:add(1)
  orders:add(1, { kind = "a" })
  queue:add(vu.iteration + 1)          -- each VU's last value is 3
  order_ok:add(true)
  order_ok:add(false)
  order_ok:add(1)
  order_wait:add(5, { kind = "a" })    -- milliseconds
  order_wait:add(15, { kind = "b" })
  basket:add(5)
  basket:add(15, { testid = "override" })  -- the call's tags win over options.tags
  group("checkout", function()
    sleep(0.01)
    group("pay", function() end)
  end)
  -- A group left by an error still records its duration.
  local ok = pcall(group, "failing", function()
    sleep(0.005)
    error("boom")
  end)
  assert(not ok)
end
