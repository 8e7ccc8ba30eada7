local http = require("stampede.http")

options = { vus = 1, iterations = 3 }

function setup()
  http.get(ENV.BASE_URL .. "/echo?phase=setup")
  local t = nil
  return t.field -- line 8
end

function default()
  http.get(ENV.BASE_URL .. "/echo?phase=iter")
end

function teardown()
  http.get(ENV.BASE_URL .. "/echo?phase=teardown")
end
