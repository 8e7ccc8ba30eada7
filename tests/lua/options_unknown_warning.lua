local http = require("stampede.http")

-- hosts, httpDebug, summaryTrendStats: k6 options stampede does not implement;
-- duraton: a typo of duration (so the run is 1 VU x 2 iterations, not timed).
options = {
  vus = 1,
  iterations = 2,
  hosts = { ["test.k6.io"] = "127.0.0.1" },
  httpDebug = "full",
  summaryTrendStats = { "avg", "p(99)" },
  duraton = "1h",
}

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
