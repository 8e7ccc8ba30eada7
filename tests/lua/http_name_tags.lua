-- params.name groups URLs into one sub-metric; params.tags and options.tags
-- tag the samples; sub-metrics appear in the export through thresholds.
local http = require("stampede.http")

options = {
  vus = 1,
  iterations = 1,
  tags = { suite = "lua" },
  thresholds = {
    ["http_req_duration{name:/echo/{id}}"] = { "p(95)<60000" },
    ["http_reqs{name:/echo/{id}}"] = { "count==3" },
    ["http_reqs{page:product}"] = { "count==2" },
    ["http_reqs{method:POST}"] = { "count==1" },
    ["http_reqs{suite:lua}"] = { "count==5" },
    ["http_reqs{status:404}"] = { "count==1" },
  },
}

function default()
  for id = 1, 3 do
    http.get(ENV.BASE_URL .. "/echo?id=" .. id, { name = "/echo/{id}" })
  end
  http.post(ENV.BASE_URL .. "/ok", "x", { tags = { page = "product" } })
  http.get(ENV.BASE_URL .. "/nothing-here", { tags = { page = "product" } })
end
