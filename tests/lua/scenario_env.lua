-- A scenario's `env` adds ENV entries for that scenario's VUs only.
local http = require("stampede.http")

options = {
  scenarios = {
    with_env = { executor = "per-vu-iterations", vus = 1, iterations = 2, env = { NOTE = "from-scenario" } },
    without_env = { executor = "per-vu-iterations", vus = 1, iterations = 1 },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/echo?scenario=" .. scenario.name .. "&note=" .. tostring(ENV.NOTE))
end
