options = { vus = 1, duration = "ten seconds" }

function default() end
