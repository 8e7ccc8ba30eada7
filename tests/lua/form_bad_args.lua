-- Misuse of http.file and of form bodies raises a one-line Lua error naming
-- the field and the fix; no request is sent for them (the expectation counts
-- requests). Each misuse runs under pcall and its message is checked.
local http = require("stampede.http")

local B = ENV.BASE_URL .. "/form"
local FIX = "form values are strings, numbers, booleans, http.file(...) or lists of those " ..
    "(to send the table as JSON, set params.headers[\"Content-Type\"] = \"application/json\")"
local MISUSE = {
  { "http.file data not a string", function() http.file(42) end,
    "http.file(data [, filename [, content_type]]): data must be a string (open(path) returns one), got number" },
  { "http.file filename not a string", function() http.file("x", 5) end,
    "http.file(data [, filename [, content_type]]): filename must be a string, got number" },
  { "http.file content type with CR LF", function() http.file("x", "a.txt", "text/plain\r\nX-Injected: 1") end,
    "content_type must not contain CR or LF" },
  { "nested table", function() http.post(B, { meta = { x = 1 } }) end,
    "http.post: form field \"meta\" is a table that is not a list; " .. FIX },
  { "function value", function() http.put(B, { cb = function() end }) end,
    "http.put: form field \"cb\" is a function; " .. FIX },
  { "a list is not a form", function() http.post(B, { 1, 2, 3 }) end,
    "http.post: a form body's keys must be field names (strings), got a number key" },
  { "a file as the whole body", function() http.post(B, http.file("x")) end,
    "http.post: a file is sent as a field of a table body: { file = http.file(data, \"a.png\") }" },
  { "a table inside a list", function() http.post(B, { l = { "a", { "nested" } } }) end,
    "http.post: form field \"l\" item 2 is a table; " .. FIX },
  { "a userdata-like value in a list", function() http.post(B, { l = { "a", coroutine.create(print) } }) end,
    "http.post: form field \"l\" item 2 is a thread; " .. FIX },
  { "a file under a non-multipart Content-Type", function()
      http.post(B, { f = http.file("x") }, { headers = { ["Content-Type"] = "text/plain" } })
    end,
    "http.post: a body with an http.file is sent as multipart/form-data, but params.headers sets " ..
      "Content-Type \"text/plain\"; remove that header (or set multipart/form-data)" },
  { "the user's boundary occurs in the body", function()
      http.post(B, { a = "--b" }, { headers = { ["Content-Type"] = "multipart/form-data; boundary=b" } })
    end,
    "http.post: the boundary in params.headers' Content-Type occurs in the body" },
}

options = { vus = 1, iterations = 1 }

function default()
  for _, m in ipairs(MISUSE) do
    local ok, err = pcall(m[2])
    check(err, {
      [m[1]] = function(e)
        return not ok and type(e) == "string" and e:find(m[3], 1, true) ~= nil and e:find("\n") == nil
      end,
    })
    if ok or not tostring(err):find(m[3], 1, true) then print("unexpected: " .. tostring(err)) end
  end
  local res = http.post(B, { ok = "1" })
  check(res, { ["VU still works"] = function(r) return r.status == 200 end })
end
