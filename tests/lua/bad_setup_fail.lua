options = { vus = 1, iterations = 3 }

function setup()
  fail("no test data")
end

function default() end
