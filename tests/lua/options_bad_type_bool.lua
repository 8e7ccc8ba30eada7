options = { vus = 1, discardResponseBodies = "yes" }

function default() end
