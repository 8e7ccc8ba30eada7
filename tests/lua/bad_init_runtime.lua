local http = require("stampede.http")

options = { vus = 1, iterations = 1 }

local config = nil
local port = config.port -- line 6: attempt to index a nil value

function default()
  http.get(ENV.BASE_URL .. "/ok")
end
