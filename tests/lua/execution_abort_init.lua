-- execution.test.abort() at init: no load, exit 108, one line naming the reason.
local execution = require("stampede.execution")
if ENV.BASE_URL ~= nil then execution.test.abort("no target configured for this environment") end
function default() end
