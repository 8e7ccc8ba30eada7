-- bench/get_check.lua plus one shared-data row read per iteration (issue #9:
-- the per-iteration cost of stampede.data). ENV.DATA: a CSV with a header
-- (e.g. the one bench/shared_data_memory.sh generates). ENV.ROW: "perVu"
-- (default: the VU's cached row), "index" (users[i], a fresh table each
-- iteration) or "unique" (users:unique(), a fresh row and the shared
-- counter; the CSV needs enough rows, exhausted = "wrap" otherwise).
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.csv(ENV.DATA, { header = true, exhausted = "wrap" })
local mode = ENV.ROW or "perVu"
local n = #users

local read
if mode == "index" then
  local i = 0
  read = function() i = i % n + 1; return users[i] end
elseif mode == "unique" then
  read = function() return users:unique() end
else
  read = function() return users:perVu() end
end

function default()
  local user = read()
  local res = http.get(ENV.URL)
  check(res, { ["status is 200"] = function(r) return r.status == 200 and user.username ~= nil end })
end
