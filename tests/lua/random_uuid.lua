-- random_int() stays in its bounds and reaches both; uuid() is a version-4
-- UUID and does not repeat; misuse raises.
options = { vus = 2, iterations = 4 }

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

function default()
  local seen, in_bounds = {}, true
  for _ = 1, 300 do
    local n = random_int(1, 3)
    if n < 1 or n > 3 or n ~= math.floor(n) then in_bounds = false end
    seen[n] = true
  end
  local ids, unique, shaped = {}, true, true
  for _ = 1, 100 do
    local id = uuid()
    if type(id) ~= "string" or not id:match(UUID) then shaped = false end
    if ids[id] then unique = false end
    ids[id] = true
  end
  check(true, {
    ["random_int in [1, 3]"] = in_bounds,
    ["random_int reaches 1 and 3"] = seen[1] == true and seen[3] == true,
    ["random_int(5, 5) is 5"] = random_int(5, 5) == 5,
    ["random_int(-3, -3) is -3"] = random_int(-3, -3) == -3,
    ["random_int(3, 1) raises"] = not pcall(random_int, 3, 1),
    ["random_int('a', 2) raises"] = not pcall(random_int, "a", 2),
    ["uuid is v4"] = shaped,
    ["uuids are unique"] = unique,
    ["math.random in [0, 1)"] = (function() local x = math.random() return x >= 0 and x < 1 end)(),
  })
end
