-- The script benchmark of issue #3: one http.get and one check per iteration.
local http = require("stampede.http")

function default()
  local res = http.get(ENV.URL)
  check(res, { ["status is 200"] = function(r) return r.status == 200 end })
end
