local http = require("stampede.http")

-- Two hosts of the same server: 127.0.0.1 and localhost.
options = { batch = 0, batchPerHost = 2 }

function default()
  local other = ENV.BASE_URL:gsub("127%.0%.0%.1", "localhost")
  local reqs = {}
  for i = 1, 5 do
    reqs[#reqs + 1] = ENV.BASE_URL .. "/slow-headers?ms=600&host=ip&i=" .. i
    reqs[#reqs + 1] = other .. "/slow-headers?ms=600&host=name&i=" .. i
  end
  local responses = http.batch(reqs)
  for i, res in ipairs(responses) do
    check(res, { ["status is 200"] = function(r) return r.status == 200 end })
  end
end
