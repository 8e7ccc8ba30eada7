local http = require("stampede.http")

options = {
  scenarios = {
    ramp = {
      executor = "ramping-vus",
      startVUs = 0,
      stages = {
        { duration = "1s", target = 4 },
        { duration = "1s", target = 4 },
        { duration = "1s", target = 0 },
      },
      gracefulRampDown = "1s",
    },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/ok")
  sleep(0.05)
end
