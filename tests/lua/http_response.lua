-- The response object: status, lower-case headers, body, url, proto, timings,
-- res:json(); error/error_code on a refused port; a 404 is a normal response;
-- responseType = "none" discards the body.
local http = require("stampede.http")

options = { vus = 1, iterations = 1 }

local TIMINGS = { "blocked", "looking_up", "connecting", "tls_handshaking", "sending", "waiting",
  "receiving", "duration" }

function default()
  local res = http.get(ENV.BASE_URL .. "/echo?x=1", { headers = { ["X-Mixed-Case"] = "v" } })
  check(res, {
    ["status"] = function(r) return r.status == 200 end,
    ["headers are lower-case"] = function(r)
      return r.headers["content-type"] == "application/json" and r.headers["Content-Type"] == nil
    end,
    ["content-length header"] = function(r) return tonumber(r.headers["content-length"]) == #r.body end,
    ["body is a string"] = function(r) return type(r.body) == "string" and #r.body > 0 end,
    ["url"] = function(r) return r.url == ENV.BASE_URL .. "/echo?x=1" end,
    ["proto"] = function(r) return r.proto == "HTTP/1.1" end,
    ["timings are numbers >= 0"] = function(r)
      for _, k in ipairs(TIMINGS) do
        if type(r.timings[k]) ~= "number" or r.timings[k] < 0 then return false end
      end
      return true
    end,
    ["duration covers waiting"] = function(r) return r.timings.duration >= r.timings.waiting end,
    ["json() decodes"] = function(r)
      local j = r:json()
      return j.path == "/echo" and j.query.x[1] == "1" and j.method == "GET"
    end,
    ["request header seen by the server"] = function(r)
      for _, h in ipairs(r:json().headers) do
        if h[1]:lower() == "x-mixed-case" and h[2] == "v" then return true end
      end
      return false
    end,
    ["no error"] = function(r) return r.error == nil and r.error_code == nil end,
  })

  local refused = http.get(ENV.REFUSED_URL .. "/nothing")
  check(refused, {
    ["refused: status 0"] = function(r) return r.status == 0 end,
    ["refused: error_code"] = function(r) return r.error_code == "refused" end,
    ["refused: error text"] = function(r) return type(r.error) == "string" and #r.error > 0 end,
    ["refused: no body"] = function(r) return r.body == nil end,
  })

  local missing = http.get(ENV.BASE_URL .. "/status?code=404")
  check(missing, {
    ["404 is a response"] = function(r) return r.status == 404 and r.error_code == nil end,
    ["404 body"] = function(r) return r.body == "status 404\n" end,
  })

  local discarded = http.get(ENV.BASE_URL .. "/big?bytes=5000", { responseType = "none" })
  check(discarded, {
    ["responseType none: status"] = function(r) return r.status == 200 end,
    ["responseType none: no body"] = function(r) return r.body == nil end,
  })

  -- res:json() on a body that is not JSON raises a Lua error.
  local ok = pcall(function() return missing:json() end)
  check(ok, { ["json() on text raises"] = function(v) return v == false end })
end
