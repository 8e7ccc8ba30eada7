options = { setupTimeout = true }

function setup() end
function default() end
