-- Two scenarios side by side: different executors, `exec` functions,
-- `startTime` and scenario `tags`; sub-metrics by scenario and by tag.
-- (Scenario `env` has its own case: scenario_env.)
local http = require("stampede.http")

options = {
  scenarios = {
    browsing = {
      executor = "per-vu-iterations", vus = 2, iterations = 3,
      exec = "browse", tags = { flow = "browse" },
    },
    buying = {
      executor = "shared-iterations", vus = 1, iterations = 4,
      startTime = "500ms", exec = "buy", tags = { flow = "buy" },
    },
  },
  thresholds = {
    ["http_reqs{scenario:browsing}"] = { "count==6" },
    ["http_reqs{scenario:buying}"] = { "count==4" },
    ["http_reqs{flow:buy}"] = { "count==4" },
    ["iterations{scenario:buying}"] = { "count==4" },
    ["checks{scenario:browsing}"] = { "rate==1" },
  },
}

function browse()
  http.get(ENV.BASE_URL .. "/echo?fn=browse&scenario=" .. scenario.name)
  check(scenario, { ["scenario.name in browse"] = function(s) return s.name == "browsing" end })
end

function buy()
  http.post(ENV.BASE_URL .. "/echo?fn=buy&scenario=" .. scenario.name, "x")
end

function default()
  error("default() must not run when every scenario has exec")
end
