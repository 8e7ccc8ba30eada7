-- :add() at init is an error, as in k6 (values are recorded only by VUs).
local metrics = require("stampede.metrics")
local c = metrics.Counter("at_init")
c:add(1)

function default() end
