-- vu.id, vu.iteration and scenario.name in iterations, at init and in
-- setup/teardown; ENV from -e (winning over the process environment).
local http = require("stampede.http")

local INIT = { id = vu.id, iteration = vu.iteration, scenario = scenario.name }

options = { scenarios = { pervu = { executor = "per-vu-iterations", vus = 2, iterations = 3 } } }

local function report(phase)
  http.get(string.format("%s/echo?phase=%s&vu=%d&iter=%d&scenario=%s&greeting=%s&only=%s",
    ENV.BASE_URL, phase, vu.id, vu.iteration, tostring(scenario.name), tostring(ENV.GREETING),
    tostring(ENV.PROCESS_ONLY)))
end

function setup()
  report("setup")
end

function default()
  report("iter")
  check(INIT, {
    ["vu.id is 0 at init"] = function(i) return i.id == 0 end,
    ["vu.iteration is -1 at init"] = function(i) return i.iteration == -1 end,
    ["scenario.name is nil at init"] = function(i) return i.scenario == nil end,
  })
end

function teardown()
  report("teardown")
end
