local http = require("stampede.http")

options = { vus = 1, iterations = 3 }

function default()
  http.get(ENV.BASE_URL .. "/ok", { name = "home" })
end
