-- users:unique() past the last row (default exhausted = "error"): the
-- iteration fails with a message naming the file, the row count and the fix.
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.csv("users.csv")

options = { scenarios = { s = { executor = "shared-iterations", vus = 2, iterations = 5 } } }

function default()
  http.post(ENV.BASE_URL .. "/echo", users:unique()[1], { headers = { ["content-type"] = "text/plain" } })
end
