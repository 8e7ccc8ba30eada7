-- Misuse of the API inside iterations raises a Lua error that ends the
-- iteration (counted in script_errors); the test goes on and exits 0.
-- Iteration i makes misuse number i; no misuse sends a request.
local http = require("stampede.http")

local B = ENV.BASE_URL
local MISUSE = {
  [0] = function() http.get(42) end,                                   -- url not a string
  function() http.get("not a url") end,                                -- not an absolute URL
  function() http.post(B .. "/echo", function() end) end,              -- body neither string nor table
  function() http.get(B .. "/echo", "params as a string") end,         -- params not a table
  function() http.get(B .. "/echo", { headers = 5 }) end,              -- headers not a table
  function() http.get(B .. "/echo", { timeout = "soon" }) end,         -- invalid timeout
  function() local t = {} t.self = t http.post(B .. "/echo", t, { headers = { ["content-type"] = "application/json" } }) end,  -- cycle in a JSON body
  function() local t = {} t.self = t http.post(B .. "/echo", t) end,  -- a nested table in a form body
  function() http.batch({ B .. "/echo", 7 }) end,                      -- malformed batch item
  function() check(1, "not a table") end,
  function() group("", function() end) end,
  function() group("g", "not a function") end,
  function() sleep(-1) end,
  function() sleep("1") end,
  function() random_int(1) end,
  function() http.request(nil, B .. "/echo") end,
}
local N = 16

options = { scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = N + 1 } } }

function default()
  local i = vu.iteration
  if i < N then
    MISUSE[i]()
  else
    -- The last iteration shows the VU still works.
    local res = http.get(B .. "/echo?last=1")
    check(res, { ["VU still works"] = function(r) return r.status == 200 end })
  end
end
