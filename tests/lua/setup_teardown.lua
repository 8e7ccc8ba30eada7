-- setup() runs once and makes requests; its return value (JSON-converted) is
-- the `data` of every iteration and of teardown().
local http = require("stampede.http")

options = { vus = 2, iterations = 4 }

function setup()
  local res = http.get(ENV.BASE_URL .. "/echo?phase=setup")
  return { token = "tok-" .. res.status, list = { 10, 20, 30 }, nested = { flag = true } }
end

function default(data)
  http.get(ENV.BASE_URL .. "/echo?phase=iter", { headers = { authorization = "Bearer " .. data.token } })
  check(data, {
    ["data.list is a list"] = function(d) return #d.list == 3 and d.list[3] == 30 end,
    ["data.nested.flag"] = function(d) return d.nested.flag == true end,
  })
end

function teardown(data)
  -- Guarded so that teardown itself runs either way; the body says what it got
  -- (case teardown_data asserts it).
  local body = type(data) == "table" and (data.token .. ":" .. #data.list) or ("data is " .. type(data))
  http.post(ENV.BASE_URL .. "/echo?phase=teardown", body)
end
