-- A scenario's `env` adds ENV entries for that scenario's VUs only, and
-- pairs(ENV) lists them with the process environment (BASE_URL comes from -e).
local http = require("stampede.http")

options = {
  scenarios = {
    with_env = { executor = "per-vu-iterations", vus = 1, iterations = 2, env = { NOTE = "from-scenario" } },
    without_env = { executor = "per-vu-iterations", vus = 1, iterations = 1 },
  },
}

function default()
  local listed = {}
  for k, v in pairs(ENV) do listed[k] = v end
  http.get(ENV.BASE_URL .. "/echo?scenario=" .. scenario.name .. "&note=" .. tostring(ENV.NOTE)
    .. "&listed_note=" .. tostring(listed.NOTE) .. "&listed_base=" .. tostring(listed.BASE_URL == ENV.BASE_URL))
end
