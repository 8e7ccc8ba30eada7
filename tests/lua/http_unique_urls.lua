-- Every request a URL never seen before: the runtime's bounded target cache
-- (4096 entries) is emptied several times while other VUs' requests are in
-- flight; those requests keep their own reference (a use-after-free crash
-- before the fix).
local http = require("stampede.http")

options = { vus = 50, iterations = 20000 }

function default()
  local res = http.get(ENV.BASE_URL .. "/?n=" .. vu.id .. "-" .. vu.iteration)
  check(res, { ["status 200"] = function(r) return r.status == 200 end,
               ["url is this request's"] = function(r)
                 return r.url == ENV.BASE_URL .. "/?n=" .. vu.id .. "-" .. vu.iteration end })
end
