-- fail() ends the iteration (counted in script_errors) and the test goes on;
-- sleep() with a fraction pauses without error.
local http = require("stampede.http")

options = { scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = 5 } } }

function default()
  http.get(ENV.BASE_URL .. "/echo?step=before&iter=" .. vu.iteration)
  sleep(0.01)
  if vu.iteration % 2 == 0 then
    fail("planned failure in iteration " .. vu.iteration)
  end
  if vu.iteration == 3 then
    fail()
  end
  http.get(ENV.BASE_URL .. "/echo?step=after&iter=" .. vu.iteration)
end
