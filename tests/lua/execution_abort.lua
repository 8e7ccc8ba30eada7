-- execution.test.abort(reason) in an iteration: every worker stops at once,
-- teardown() still runs, exit code 108, the reason in the summary.
local http = require("stampede.http")
local execution = require("stampede.execution")

options = { scenarios = { load = { executor = "constant-vus", vus = 4, duration = "60s" } } }

function default()
  local n = execution.scenario.iterationInTest
  http.get(ENV.BASE_URL .. "/echo?phase=iter&n=" .. n)
  if n == 20 then execution.test.abort("enough: iteration " .. n) end
  sleep(0.01)
end

function teardown()
  http.get(ENV.BASE_URL .. "/echo?phase=teardown")
end
