local http = require("stampede.http")

options = {
  scenarios = {
    each = { executor = "per-vu-iterations", vus = 3, iterations = 4 },
  },
}

function default()
  http.get(ENV.BASE_URL .. "/echo?vu=" .. vu.id)
end
