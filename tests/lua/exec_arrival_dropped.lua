local http = require("stampede.http")

options = {
  scenarios = {
    car = {
      executor = "constant-arrival-rate",
      rate = 20, timeUnit = "1s", duration = "2s",
      preAllocatedVUs = 1, maxVUs = 1,
    },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/slow-headers?ms=300")
end
