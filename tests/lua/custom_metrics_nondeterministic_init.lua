-- init runs once on the main thread (reading options, defining custom
-- metrics) and then once per worker. Here the first init leaves a marker file
-- in the working directory and the later ones create a metric the first did
-- not: an init error (exit 107), not a crash.
local metrics = require("stampede.metrics")
local marker = io.open("init_marker", "r")
if marker then
  marker:close()
  metrics.Counter("only_in_workers")
else
  io.open("init_marker", "w"):close()
end

options = { vus = 1, iterations = 1 }

function default() end
