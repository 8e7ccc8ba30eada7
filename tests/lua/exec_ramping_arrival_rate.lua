local http = require("stampede.http")

options = {
  scenarios = {
    rar = {
      executor = "ramping-arrival-rate",
      startRate = 0, timeUnit = "1s",
      stages = { { duration = "1s", target = 20 }, { duration = "1s", target = 20 } },
      preAllocatedVUs = 20, maxVUs = 40,
    },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
