options = { scenarios = { s = { executor = "per-vu-iterations", vuss = 2, iterations = 1 } } }

function default() end
