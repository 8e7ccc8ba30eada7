-- Every function of stampede.http, each request checked at the server
-- (fault_server /echo logs method, headers and body) and by the echo itself.
local http = require("stampede.http")

local BASE = ENV.BASE_URL
local H = { ["x-load-test"] = "stampede" }
local FORM = { ["x-load-test"] = "stampede", ["content-type"] = "application/x-www-form-urlencoded" }
local JSON = { ["x-load-test"] = "stampede", ["content-type"] = "application/json" }

options = { vus = 1, iterations = 1 }

local function echoed(res, method)
  return check(res, {
    [method .. " status is 200"] = function(r) return r.status == 200 end,
    [method .. " echoes its method"] = function(r) return r:json().method == method end,
  })
end

function default()
  echoed(http.get(BASE .. "/echo?fn=get", { headers = H }), "GET")
  echoed(http.post(BASE .. "/echo?fn=post-string", "a=1&b=two", { headers = FORM }), "POST")
  -- A table body is a form unless the content type says JSON (k6).
  echoed(http.post(BASE .. "/echo?fn=post-table", { item = "cup", qty = 2 }, { headers = H }), "POST")
  echoed(http.post(BASE .. "/echo?fn=post-table-json", { item = "cup", qty = 2 }, { headers = JSON }), "POST")
  echoed(http.post(BASE .. "/echo?fn=post-array", { 1, 2, 3 }, { headers = JSON }), "POST")
  echoed(http.put(BASE .. "/echo?fn=put", "put-body", { headers = H }), "PUT")
  echoed(http.patch(BASE .. "/echo?fn=patch", { patched = true }, { headers = H }), "PATCH")
  echoed(http.del(BASE .. "/echo?fn=del", { headers = H }), "DELETE")
  echoed(http.options(BASE .. "/echo?fn=options", { headers = H }), "OPTIONS")
  echoed(http.request("purge", BASE .. "/echo?fn=request", "req-body", { headers = H }), "PURGE")
  echoed(http.post(BASE .. "/echo?fn=post-nobody", nil, { headers = H }), "POST")
  -- Any content type containing "json" keeps the table JSON, as set by the script.
  echoed(http.post(BASE .. "/echo?fn=post-table-ct", { x = 1 },
    { headers = { ["x-load-test"] = "stampede", ["content-type"] = "application/vnd.test+json" } }), "POST")

  local head = http.head(BASE .. "/echo?fn=head", { headers = H })
  check(head, {
    ["HEAD status is 200"] = function(r) return r.status == 200 end,
    ["HEAD has no body"] = function(r) return r.body == nil or r.body == "" end,
  })

  local responses = http.batch({
    BASE .. "/echo?fn=batch-bare",
    { "POST", BASE .. "/echo?fn=batch-positional", "positional-body", { headers = H } },
    { method = "PUT", url = BASE .. "/echo?fn=batch-named", body = { named = 1 }, params = { headers = H } },
  })
  check(responses, {
    ["batch returns 3 responses"] = function(rs) return #rs == 3 end,
    ["batch answers item 1 first"] = function(rs) return rs[1]:json().query.fn[1] == "batch-bare" end,
    ["batch answers item 2 second"] = function(rs) return rs[2]:json().query.fn[1] == "batch-positional" end,
    ["batch answers item 3 third"] = function(rs) return rs[3]:json().method == "PUT" end,
  })
  check(http.batch({}), { ["empty batch is an empty list"] = function(rs) return #rs == 0 end })
end
