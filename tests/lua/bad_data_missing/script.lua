local data = require("stampede.data")
local users = data.csv("no-such-users.csv")

options = { vus = 1, iterations = 1 }

function default() end
