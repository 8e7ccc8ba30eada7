local data = open("no-such-file.csv")

options = { vus = 1, iterations = 1 }

function default() end
