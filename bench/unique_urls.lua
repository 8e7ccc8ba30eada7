-- The positive control of bench/hot_path_allocs.sh: every request has a URL
-- never seen before, so the worker parses it and caches a new target (heap
-- allocations by design). Proves the counter sees the workers' allocations.
local http = require("stampede.http")

function default()
  http.get(ENV.URL .. "?n=" .. vu.id .. "-" .. vu.iteration)
end
