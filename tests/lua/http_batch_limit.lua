local http = require("stampede.http")

options = { batch = 2 }

function default()
  local reqs = {}
  for i = 1, 6 do reqs[i] = ENV.BASE_URL .. "/slow-headers?ms=500&i=" .. i end
  local responses = http.batch(reqs)
  for i, res in ipairs(responses) do
    check(res, { ["status is 200"] = function(r) return r.status == 200 end })
  end
end
