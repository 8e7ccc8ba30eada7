-- users:unique() across VUs and 2 worker threads: 6 rows, 6 iterations, each
-- row exactly once.
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.csv("users.csv")

options = { scenarios = { s = { executor = "shared-iterations", vus = 4, iterations = 6 } } }

function default()
  local row = users:unique()
  http.post(ENV.BASE_URL .. "/echo?vu=" .. vu.id, row[1], { headers = { ["content-type"] = "text/plain" } })
end
