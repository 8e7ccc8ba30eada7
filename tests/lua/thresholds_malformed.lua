local http = require("stampede.http")

options = {
  vus = 1,
  iterations = 1,
  thresholds = { http_req_duration = { "p95<500" } },
}

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
