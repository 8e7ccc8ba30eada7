local http = require("stampede.http")

function default()
  local reqs = {}
  for i = 1, 10 do reqs[i] = ENV.BASE_URL .. "/slow-headers?ms=600&i=" .. i end
  local responses = http.batch(reqs)
  for i, res in ipairs(responses) do
    check(res, { ["status is 200"] = function(r) return r.status == 200 end })
  end
end
