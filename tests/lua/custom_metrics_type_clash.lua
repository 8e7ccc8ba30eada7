-- The same name twice with another type is an init error (the same type
-- twice is the same metric).
local metrics = require("stampede.metrics")
local a = metrics.Counter("things")
local same = metrics.Counter("things")
local b = metrics.Gauge("things")

function default() a:add(1) end
