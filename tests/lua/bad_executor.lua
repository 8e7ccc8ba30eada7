options = { scenarios = { s = { executor = "constant-vuz", vus = 1, duration = "1s" } } }

function default() end
