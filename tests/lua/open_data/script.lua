-- open() at init reads a data file next to the script (relative path); every
-- VU posts its own user. open() outside init raises an error.
local http = require("stampede.http")

local users = {}
for line in open("users.txt"):gmatch("[^\n]+") do users[#users + 1] = line end

options = { scenarios = { s = { executor = "per-vu-iterations", vus = 3, iterations = 1 } } }

function default()
  local user = users[(vu.id - 1) % #users + 1]
  http.post(ENV.BASE_URL .. "/echo?n=" .. #users, user, { headers = { ["content-type"] = "text/plain" } })
  local ok = pcall(open, "users.txt")
  check(ok, { ["open() outside init raises"] = function(v) return v == false end })
end
