local http = require("stampede.http")

options = {
  vus = 1,
  iterations = 3,
  thresholds = {
    http_req_duration = { "p(95)<60000", "max<60000" },
    http_req_failed = { "rate==0" },
    http_reqs = { "count==3" },
    checks = { "rate>0.99" },
    iterations = { "count>=3" },
  },
}

function default()
  local res = http.get(ENV.BASE_URL .. "/ok")
  check(res, { ["200"] = function(r) return r.status == 200 end })
end
