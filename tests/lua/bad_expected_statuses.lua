-- Misuse of http.expectedStatuses / setResponseCallback / params.responseCallback
-- raises a Lua error that names the function, the argument and the fix: each
-- iteration below ends in one (counted in script_errors, the first messages
-- on stderr), no request is sent for them; the last iteration checks every
-- message with pcall and shows the VU still works.
local http = require("stampede.http")

local B = ENV.BASE_URL
local MISUSE = {
  [0] = function() http.expectedStatuses("200") end,                 -- a string
  function() http.expectedStatuses(200, { min = 400, max = 300 }) end,  -- min > max
  function() http.setResponseCallback({ 200 }) end,                  -- not a callback
  function() http.get(B .. "/echo", { responseCallback = 200 }) end, -- not a callback
  function() http.expectedStatuses(200.5) end,                       -- not an integer
  function() http.expectedStatuses(1000) end,                        -- not a status
  function() http.expectedStatuses({ min = 200 }) end,               -- no max
  function() http.expectedStatuses() end,                            -- nothing
  function() http.setResponseCallback() end,                         -- no argument
  function() http.get(B .. "/echo", { responseCallback = true }) end,
  function() http.get(B .. "/echo", { responseCallback = function() return true end }) end,
}
local N = 11
local WANT = {
  [0] = "http.expectedStatuses: argument 1: expected a status (e.g. 200) or a range {min = 200, max = 299}, got string",
  "http.expectedStatuses: argument 2: min 400 is greater than max 300",
  "http.setResponseCallback: expects the result of http.expectedStatuses(...), or nil to judge no response; got table",
  "http.get: params.responseCallback must be the result of http.expectedStatuses(...) or false, got number",
  "http.expectedStatuses: argument 1: the status 200.5 is not an integer",
  "http.expectedStatuses: argument 1: the status 1000 is not an HTTP status (100-999)",
  "http.expectedStatuses: argument 1: max must be an integer status, got nil (a range is {min = 200, max = 299})",
  "http.expectedStatuses: give at least one status (e.g. 200) or range ({min = 200, max = 299})",
  "http.setResponseCallback: expects the result of http.expectedStatuses(...), or nil to judge no response; got no argument",
  "http.get: params.responseCallback must be the result of http.expectedStatuses(...) or false, got boolean",
  "http.get: params.responseCallback must be the result of http.expectedStatuses(...) or false, got function",
}

options = { scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = N + 1 } } }

function default()
  local i = vu.iteration
  if i < N then
    MISUSE[i]()
    return
  end
  local checks = {}
  for j = 0, N - 1 do
    local ok, err = pcall(MISUSE[j])
    checks["misuse " .. j .. " raises its message"] = not ok and tostring(err):find(WANT[j], 1, true) ~= nil
    if ok or not tostring(err):find(WANT[j], 1, true) then print("misuse " .. j .. ": " .. tostring(err)) end
  end
  check(nil, checks)
  -- Misuse changed nothing: the default (200–399) still judges.
  local res = http.get(B .. "/echo?last=1")
  check(res, { ["VU still works"] = function(r) return r.status == 200 end })
end
