-- A 60 s test against a failing endpoint: abortOnFail stops it at the first
-- threshold evaluation; teardown() still runs.
local http = require("stampede.http")

options = {
  vus = 2,
  duration = "60s",
  thresholds = {
    http_req_failed = { { threshold = "rate<0.01", abortOnFail = true } },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/status?code=500")
  sleep(0.1)
end

function teardown()
  http.get(ENV.BASE_URL .. "/echo?phase=teardown")
end
