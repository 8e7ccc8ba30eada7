local data = require("stampede.data")
local users = data.json("users.json")

options = { vus = 1, iterations = 1 }

function default() end
