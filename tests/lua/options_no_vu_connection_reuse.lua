local http = require("stampede.http")

-- Two VUs on one worker (--threads 1), so that they could share the worker's
-- pool; 3 iterations each of 2 sequential requests.
options = {
  scenarios = { two = { executor = "per-vu-iterations", vus = 2, iterations = 3 } },
  noVUConnectionReuse = true,
}

function default()
  for i = 1, 2 do
    local res = http.get(ENV.BASE_URL .. "/slow-headers?ms=20&vu=" .. vu.id)
    check(res, { ["status is 200"] = function(r) return r.status == 200 end })
  end
end
