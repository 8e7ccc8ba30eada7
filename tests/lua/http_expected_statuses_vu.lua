-- Without a callback, k6's default: 200–399 expected. setResponseCallback()
-- called while a VU runs changes that VU's callback from then on, across its
-- iterations; nil judges nothing (no http_req_failed sample, no tag).
local http = require("stampede.http")

local B = ENV.BASE_URL

options = {
  scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = 2 } },
  thresholds = {
    ["http_req_failed{name:d404}"] = { "rate==1" },
    ["http_req_failed{name:d200}"] = { "rate==0" },
    ["http_req_failed{name:s404}"] = { "rate==0" },
    ["http_reqs{name:nil500}"] = { "count==1" },
    ["http_reqs{name:kept500}"] = { "count==1" },
    ["http_reqs{expected_response:true}"] = { "count==2" },
    ["http_reqs{expected_response:false}"] = { "count==1" },
  },
}

function default()
  if vu.iteration == 0 then
    http.get(B .. "/status?code=404", { name = "d404" })   -- failed: outside 200–399
    http.get(B .. "/status?code=200", { name = "d200" })
    http.setResponseCallback(nil)
    http.get(B .. "/status?code=500", { name = "nil500" }) -- not judged
  else
    http.get(B .. "/status?code=500", { name = "kept500" }) -- still not judged
    http.setResponseCallback(http.expectedStatuses(404))
    http.get(B .. "/status?code=404", { name = "s404" })
  end
end
