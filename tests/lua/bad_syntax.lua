local http = require("stampede.http")

options = { vus = 1, iterations = 1 }

function default()
  http.get(ENV.BASE_URL .. "/ok"
end
