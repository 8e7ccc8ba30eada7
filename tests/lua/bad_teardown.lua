local http = require("stampede.http")

options = { vus = 1, iterations = 2 }

function default()
  http.get(ENV.BASE_URL .. "/ok")
end

function teardown()
  error("teardown broke")
end
