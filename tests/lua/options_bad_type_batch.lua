local http = require("stampede.http")

options = { batch = "2" }

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
