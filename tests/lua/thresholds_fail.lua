local http = require("stampede.http")

options = {
  vus = 1,
  iterations = 3,
  thresholds = {
    http_reqs = { "count<2", "count>0" },
    ["http_reqs{status:500}"] = { "count<1" },
    checks = { "rate==1" },
  },
}

function default()
  local res = http.get(ENV.BASE_URL .. "/status?code=500")
  check(res, { ["is 200"] = function(r) return r.status == 200 end })
end
