local http = require("stampede.http")

options = {
  scenarios = {
    car = {
      executor = "constant-arrival-rate",
      rate = 20, timeUnit = "1s", duration = "2s",
      preAllocatedVUs = 20, maxVUs = 40,
    },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
