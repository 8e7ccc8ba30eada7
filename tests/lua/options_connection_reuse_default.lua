local http = require("stampede.http")

-- 2 iterations of 3 sequential requests, and 2 requests in setup().
options = {
  scenarios = { one = { executor = "per-vu-iterations", vus = 1, iterations = 2 } },
}

function setup()
  http.get(ENV.BASE_URL .. "/ok?phase=setup")
  http.get(ENV.BASE_URL .. "/ok?phase=setup")
end

function default()
  for i = 1, 3 do
    local res = http.get(ENV.BASE_URL .. "/ok?phase=load")
    check(res, { ["status is 200"] = function(r) return r.status == 200 end })
  end
end
