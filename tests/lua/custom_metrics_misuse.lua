-- Misuse of custom metrics inside iterations: a Lua error that ends the
-- iteration (counted in script_errors) and records nothing; the test goes on.
local metrics = require("stampede.metrics")
local counter = metrics.Counter("misuse_counter")
local rate = metrics.Rate("misuse_rate")
local trend = metrics.Trend("misuse_trend")

local MISUSE = {
  [0] = function() metrics.Counter("made_in_default") end,  -- constructor outside init
  function() counter:add("x") end,                           -- not a number
  function() rate:add("yes") end,                            -- not a boolean/number
  function() trend:add(-1) end,                              -- negative trend value
  function() counter:add(1, "tags") end,                     -- tags not a table
  function() counter:add(1, { flag = true }) end,            -- tag value not a string/number
  function() counter.add(1) end,                             -- called without the colon
}
local N = 7

options = {
  scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = N + 1 } },
  thresholds = { misuse_counter = { "count==1" }, misuse_rate = { "rate==1" } },
}

function default()
  local i = vu.iteration
  if i < N then
    MISUSE[i]()
  else
    counter:add(1)   -- the last iteration shows the metrics still work
    rate:add(true)
  end
end
