local data = require("stampede.data")

options = { vus = 1, iterations = 2 }

function default()
  local users = data.csv("users.csv")
end
