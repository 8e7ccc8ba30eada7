options = { userAgent = 5 }

function default() end
