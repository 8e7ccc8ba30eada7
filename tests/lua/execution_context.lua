-- require("stampede.execution"): k6's field names at init, in setup, in
-- iterations of two scenarios over two worker threads; iterationInTest
-- unique across the threads (each iteration reports it to /echo); vu.tags
-- set in an iteration tag the VU's later requests; test.options consolidated.
local http = require("stampede.http")
local execution = require("stampede.execution")

local init_vu_ok, init_vu_err = pcall(function() return execution.vu.idInTest end)
local init_sc_ok = pcall(function() return execution.scenario.name end)
local INIT = {
  vu_refused = not init_vu_ok and tostring(init_vu_err):find("init context", 1, true) ~= nil,
  scenario_refused = not init_sc_ok,
  instance_ok = type(execution.instance.iterationsCompleted) == "number",
  options_table = type(execution.test.options) == "table",
}

options = {
  scenarios = {
    shared = { executor = "shared-iterations", vus = 4, iterations = 40 },
    tagged = { executor = "per-vu-iterations", vus = 2, iterations = 3, exec = "tagged",
               tags = { kind = "per-vu" } },
  },
  thresholds = { ["http_reqs{phase:warm}"] = { "count>=0" }, ["http_reqs{scenario:tagged}"] = { "count>=0" } },
}

function setup()
  local sc_ok = pcall(function() return execution.scenario.name end)
  check(execution, {
    ["setup: vu.idInInstance is 0"] = function(e) return e.vu.idInInstance == 0 end,
    ["setup: scenario refused"] = function() return not sc_ok end,
  })
end

function default()
  local e = execution
  local sit = e.scenario.iterationInTest
  http.get(string.format("%s/echo?sit=%d&sii=%d&vu=%d&sc=%s", ENV.BASE_URL, sit,
    e.scenario.iterationInInstance, e.vu.idInTest, e.scenario.name))
  local now_ms = os.time() * 1000
  check(e, {
    ["init: vu refused"] = function() return INIT.vu_refused end,
    ["init: scenario refused"] = function() return INIT.scenario_refused end,
    ["init: instance readable"] = function() return INIT.instance_ok end,
    ["init: options readable"] = function() return INIT.options_table end,
    ["iterationInTest stable in the iteration"] = function() return e.scenario.iterationInTest == sit end,
    ["iterationInInstance == iterationInTest alone"] = function() return e.scenario.iterationInInstance == sit end,
    ["idInTest == idInInstance alone"] = function() return e.vu.idInTest == e.vu.idInInstance end,
    ["vu ids from 1"] = function() return e.vu.idInInstance >= 1 end,
    ["iterationInScenario == iterationInInstance"] = function()
      return e.vu.iterationInScenario == e.vu.iterationInInstance and e.vu.iterationInScenario >= 0
    end,
    ["scenario name and executor"] = function()
      return e.scenario.name == "shared" and e.scenario.executor == "shared-iterations"
    end,
    ["startTime is now-ish unix ms"] = function()
      return math.abs(e.scenario.startTime - now_ms) < 120000
    end,
    ["progress in [0,1]"] = function() return e.scenario.progress >= 0 and e.scenario.progress <= 1 end,
    ["currentTestRunDuration >= 0"] = function() return e.instance.currentTestRunDuration >= 0 end,
    ["instance counters are numbers"] = function()
      return type(e.instance.vusActive) == "number" and type(e.instance.vusInitialized) == "number"
        and type(e.instance.iterationsInterrupted) == "number"
    end,
    ["options consolidated"] = function()
      local o = e.test.options
      return o.scenarios.shared.executor == "shared-iterations" and o.scenarios.shared.iterations == 40
        and o.scenarios.tagged.vus == 2
    end,
    ["read-only fields"] = function()
      local ok, err = pcall(function() e.vu.idInTest = 5 end)
      return not ok and tostring(err):find("read-only", 1, true) ~= nil
    end,
    ["unknown field is nil"] = function() return e.vu.nope == nil and e.scenario.nope == nil end,
  })
end

function tagged()
  local e = execution
  -- The first iteration's request is untagged; then the tag sticks for the
  -- VU's later iterations.
  http.get(ENV.BASE_URL .. "/echo?tagged=" .. e.vu.iterationInScenario)
  e.vu.tags.phase = "warm"
  e.vu.tags.step = e.vu.iterationInScenario   -- numbers become strings
  local reserved_ok, reserved_err = pcall(function() e.vu.tags.name = "x" end)
  local seen = {}
  for k, v in pairs(e.vu.tags) do seen[k] = v end
  check(e, {
    ["tags read back"] = function() return e.vu.tags.phase == "warm" and e.vu.metrics.tags.phase == "warm" end,
    ["number tag as string"] = function() return e.vu.tags.step == tostring(e.vu.iterationInScenario) end,
    ["scenario tags visible"] = function() return e.vu.tags.scenario == "tagged" and e.vu.tags.kind == "per-vu" end,
    ["reserved tag refused"] = function()
      return not reserved_ok and tostring(reserved_err):find("stampede sets itself", 1, true) ~= nil
    end,
    ["pairs lists the tags"] = function() return seen.phase == "warm" and seen.scenario == "tagged" end,
    ["progress counts iterations"] = function() return e.scenario.progress > 0 end,
  })
  e.vu.tags.step = nil
end
