local http = require("stampede.http")

options = { vus = 2, duration = "1s" }

function default()
  http.get(ENV.BASE_URL .. "/ok")
  sleep(0.05)
end
