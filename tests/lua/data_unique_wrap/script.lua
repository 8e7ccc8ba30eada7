-- users:unique() with exhausted = "wrap": 3 rows, 9 iterations on 2 worker
-- threads, every row exactly 3 times.
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.csv("users.csv", { header = true, exhausted = "wrap" })

options = { scenarios = { s = { executor = "shared-iterations", vus = 3, iterations = 9 } } }

function default()
  http.post(ENV.BASE_URL .. "/echo", users:unique().name, { headers = { ["content-type"] = "text/plain" } })
end
