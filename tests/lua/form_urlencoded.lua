-- A table body without a JSON content type is an HTML form (k6):
-- application/x-www-form-urlencoded, keys sorted (reproducible bodies), the
-- WHATWG serializer (space → +), numbers like tostring, list values as
-- repeated keys; parsed by the server with urllib.parse.parse_qs.
local http = require("stampede.http")

options = { vus = 1, iterations = 1 }

local FORM = {
  q = "a b+c&d=e",
  utf = "café €",
  list = { "1", "2" },
  n = 42,
  neg = -0.5,
  big = 1e20,
  t = false,
  empty = "",
}

local function same(list, expected)
  if type(list) ~= "table" or #list ~= #expected then return false end
  for i = 1, #expected do
    if list[i] ~= expected[i] then return false end
  end
  return true
end

function default()
  local res = http.post(ENV.BASE_URL .. "/form?case=parsed", FORM)
  local form = res.status == 200 and res:json() or { fields = {} }
  local f = form.fields
  check(res, {
    ["urlencoded status is 200"] = function(r) return r.status == 200 end,
    ["urlencoded content type"] = function() return form.content_type == "application/x-www-form-urlencoded" end,
    ["special characters survive"] = function()
      return same(f.q, { "a b+c&d=e" }) and same(f.utf, { "café €" }) and same(f.empty, { "" })
    end,
    ["numbers and booleans as tostring"] = function()
      return same(f.n, { "42" }) and same(f.neg, { "-0.5" }) and same(f.big, { "1e+20" }) and
          same(f.t, { "false" })
    end,
    ["a list is a repeated key"] = function() return same(f.list, { "1", "2" }) end,
  })
  -- The exact bytes (checked by the expectation), twice: bodies are reproducible.
  http.post(ENV.BASE_URL .. "/echo?case=bytes", FORM)
  http.post(ENV.BASE_URL .. "/echo?case=bytes", FORM)
  -- A user's Content-Type stays; an empty table is an empty form.
  http.put(ENV.BASE_URL .. "/echo?case=user-ct", { a = "1" },
    { headers = { ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8" } })
  http.patch(ENV.BASE_URL .. "/echo?case=empty", {})
end
