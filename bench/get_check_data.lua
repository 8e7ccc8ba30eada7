-- bench/get_check.lua plus one shared-data row read per iteration (issue #9:
-- the per-iteration cost of stampede.data). ENV.DATA: a CSV with a header
-- (e.g. the one bench/shared_data_memory.sh generates).
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.csv(ENV.DATA, { header = true })

function default()
  local user = users:perVu()
  local res = http.get(ENV.URL)
  check(res, { ["status is 200"] = function(r) return r.status == 200 and user ~= nil end })
end
