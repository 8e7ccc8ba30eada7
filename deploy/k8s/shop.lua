-- shop.lua: the worked example of docs/kubernetes.md. Each VU logs in as its
-- own user from users.csv, lists the catalogue and looks at one product.
-- Run by `stampede coordinator` in the cluster (deploy/k8s/test.yaml), which
-- splits the load below across the agents; locally the same script runs with
--
--   stampede run deploy/k8s/shop.lua -e BASE_URL=http://127.0.0.1:PORT
local http = require("stampede.http")
local data = require("stampede.data")

local BASE_URL = ENV.BASE_URL or "http://127.0.0.1:8080"

-- Read once, relative to this script (the coordinator ships it to the agents).
local users = data.csv("users.csv", { header = true })

options = {
  scenarios = {
    shoppers = {
      executor = "ramping-vus",
      startVUs = 0,
      stages = {
        { duration = "1m", target = 200 },
        { duration = "3m", target = 200 },
        { duration = "1m", target = 0 },
      },
    },
  },
  thresholds = {
    http_req_failed = { "rate<0.01" },
    checks = { "rate>0.99" },
  },
}

function default()
  local user = users:perVu()
  local login = http.post(BASE_URL .. "/authenticate",
    { username = user.username, password = user.password }, { name = "login" })
  check(login, { ["logged in"] = function(r) return r.status == 200 end })

  local res = http.get(BASE_URL .. "/api/products", { name = "products" })
  check(res, { ["catalogue listed"] = function(r) return r.status == 200 end })
  -- Only decode a 200: res:json() raises a Lua error on a body that is not JSON.
  local products = res.status == 200 and res:json() or {}
  if #products > 0 then
    local p = products[random_int(1, #products)]
    http.get(BASE_URL .. "/api/products/" .. p.id, { name = "GET /api/products/:id" })
  end
  sleep(random_int(5, 15) / 10)
end
