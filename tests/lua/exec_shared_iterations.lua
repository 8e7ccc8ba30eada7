local http = require("stampede.http")

options = {
  scenarios = {
    shared = { executor = "shared-iterations", vus = 3, iterations = 17, maxDuration = "30s" },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
