-- execution.test.abort() in setup(): no iteration runs, teardown() does, exit 108.
local http = require("stampede.http")
local execution = require("stampede.execution")

options = { vus = 2, duration = "30s" }

function setup()
  local res = http.get(ENV.BASE_URL .. "/echo?phase=setup")
  if res.status == 200 then execution.test.abort("the service is not in a testable state") end
end

function default()
  http.get(ENV.BASE_URL .. "/echo?phase=iter")
end

function teardown()
  http.get(ENV.BASE_URL .. "/echo?phase=teardown")
end
