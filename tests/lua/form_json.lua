-- The JSON paths: a table body with a Content-Type containing "json" is still
-- JSON-encoded; stampede.json's encode/decode (k6's JSON.stringify/parse).
local http = require("stampede.http")
local json = require("stampede.json")

options = { vus = 1, iterations = 1 }

local JSON = { ["Content-Type"] = "application/json" }

function default()
  http.post(ENV.BASE_URL .. "/echo?case=table-json", { item = "cup", qty = 2, tags = { "a", "b" } },
    { headers = JSON })
  http.post(ENV.BASE_URL .. "/echo?case=vendor-json", { x = 1 },
    { headers = { ["content-type"] = "application/vnd.api+JSON" } })
  http.post(ENV.BASE_URL .. "/echo?case=encoded", json.encode({ nested = { ok = true }, list = { 1, 2 } }),
    { headers = JSON })

  local ok, err = pcall(json.decode, '{"a": [1, 2,, ]}')
  local bad_type = select(2, pcall(json.decode, 42))
  local bad_value = select(2, pcall(json.encode, { f = print }))
  check(json.decode('{"a": [1, 2.5, "x"], "b": {"c": null, "d": false}}'), {
    ["decode: arrays are lists"] = function(v) return #v.a == 3 and v.a[2] == 2.5 and v.a[3] == "x" end,
    ["decode: null is nil, false stays"] = function(v) return v.b.c == nil and v.b.d == false end,
  })
  check(json.encode({ b = 1, a = { 1, 2, "three" }, c = "q\"" }), {
    ["encode: sorted object keys, arrays"] = function(s) return s == '{"a":[1,2,"three"],"b":1,"c":"q\\""}' end,
    ["encode/decode round trip"] = function(s) return json.decode(s).a[3] == "three" end,
  })
  check(err, {
    ["decode error names the position"] = function(e)
      return not ok and e:find("json.decode: invalid JSON at byte 13", 1, true) ~= nil and not e:find("\n")
    end,
    ["decode of a non-string raises"] = function() return bad_type:find("text must be a string", 1, true) ~= nil end,
    ["encode of a function raises, naming it"] = function() return bad_value:find("value.f is a function", 1, true) ~= nil end,
  })
end
