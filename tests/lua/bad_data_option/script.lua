local data = require("stampede.data")
local users = data.csv("users.csv", { header = true, seperator = ";" })

options = { vus = 1, iterations = 1 }

function default() end
