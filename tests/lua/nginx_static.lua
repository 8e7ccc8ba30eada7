-- A real server: nginx's 612-byte index page, 2 VUs sharing 20 iterations.
local http = require("stampede.http")

options = { vus = 2, iterations = 20 }

function default()
  local res = http.get(ENV.BASE_URL .. "/", { name = "index" })
  check(res, {
    ["status 200"] = function(r) return r.status == 200 end,
    ["612-byte page"] = function(r) return #r.body == 612 end,
    ["served by nginx"] = function(r) return (r.headers["server"] or ""):find("nginx", 1, true) == 1 end,
  })
end
