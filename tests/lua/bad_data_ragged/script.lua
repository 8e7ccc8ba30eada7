local data = require("stampede.data")
local users = data.csv("users.csv", { header = true })

options = { vus = 1, iterations = 1 }

function default() end
