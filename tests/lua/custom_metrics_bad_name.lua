-- An invalid custom metric name at init: exit 107 with file:line, no load.
local metrics = require("stampede.metrics")
local ok = metrics.Counter("orders")
local bad = metrics.Trend("order wait", true)

function default() ok:add(1) end
