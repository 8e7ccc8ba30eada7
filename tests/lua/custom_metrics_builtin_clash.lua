-- A custom metric may not take a built-in's name, even with the same type.
local metrics = require("stampede.metrics")
local mine = metrics.Trend("http_req_duration", true)

function default() mine:add(1) end
