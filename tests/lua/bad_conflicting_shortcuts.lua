options = {
  duration = "1s",
  scenarios = { s = { executor = "per-vu-iterations", vus = 1, iterations = 1 } },
}

function default() end
