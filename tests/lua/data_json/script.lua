-- stampede.data: a JSON array shared by every VU; elements decoded on access.
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.json("users.json")

options = { scenarios = { s = { executor = "per-vu-iterations", vus = 3, iterations = 2 } } }

function default()
  local u = users:perVu()
  http.post(ENV.BASE_URL .. "/echo?vu=" .. vu.id, u.username, { headers = { ["content-type"] = "text/plain" } })
  check(users, {
    ["#users is 3"] = function(t) return #t == 3 end,
    ["strings, numbers, booleans"] = function(t)
      local a = t[1]
      return a.username == "alice" and a.age == 31 and a.admin == true and #a.tags == 2 and a.tags[2] == "b"
    end,
    ["escapes decoded"] = function(t) return t[1].note == 'line\nbreak "q" \195\169' end,
    ["null is nil, floats"] = function(t) return t[2].note == nil and t[2].age == 2.5 and t[2].admin == false end,
    ["nested"] = function(t) return t[3].nested.deep[2][2].x == "y" and t[3].age == -7 end,
    ["out of range is nil"] = function(t) return t[4] == nil and t[0] == nil end,
    ["pairs in order"] = function(t)
      local names = {}
      for i, row in pairs(t) do names[#names + 1] = i .. row.username end
      return table.concat(names, ",") == "1alice,2bob,3carol"
    end,
  })
end
