-- A request to a server that never answers ends with error_code "timeout"
-- (string and number timeouts); the test goes on.
local http = require("stampede.http")

options = { vus = 1, iterations = 1 }

function default()
  local a = http.get(ENV.BASE_URL .. "/stall", { timeout = "300ms" })
  local b = http.get(ENV.BASE_URL .. "/stall", { timeout = 200 })
  for _, res in ipairs({ a, b }) do
    check(res, {
      ["timed out"] = function(r) return r.error_code == "timeout" end,
      ["status 0"] = function(r) return r.status == 0 end,
      ["error text"] = function(r) return type(r.error) == "string" and #r.error > 0 end,
      ["no body"] = function(r) return r.body == nil end,
    })
  end
  -- The VU is still usable afterwards.
  local ok = http.get(ENV.BASE_URL .. "/ok")
  check(ok, { ["then /ok answers"] = function(r) return r.status == 200 end })
end
