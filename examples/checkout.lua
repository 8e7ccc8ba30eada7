-- checkout.lua: customers log in, look at four products, put one in the cart
-- and check out. An open model: new customers arrive at a fixed rate whatever
-- the service's latency, as in production. Against the demo shop
-- (examples/shop):
--
--   node examples/shop/server.js                      # prints "listening on PORT"
--   stampede run examples/checkout.lua -e BASE_URL=http://127.0.0.1:PORT
--
-- Optional: -e RATE=10 (customers per second), -e DURATION=1m.

local http = require("stampede.http")

local BASE_URL = ENV.BASE_URL or "http://127.0.0.1:8080"
local RATE = tonumber(ENV.RATE or "5")
local PRODUCT_NAME = "/product/{product_id}" -- one metrics/span name for all product pages

options = {
  scenarios = {
    checkout = {
      executor = "constant-arrival-rate",
      rate = RATE,              -- iterations started ...
      timeUnit = "1s",          -- ... per second
      duration = ENV.DURATION or "30s",
      preAllocatedVUs = 10,     -- VUs ready at the start
      maxVUs = 50,              -- more are started if iterations pile up
      gracefulStop = "10s",
      tags = { flow = "checkout" },
    },
  },
  thresholds = {
    http_req_duration = { "p(95)<500", "p(99)<1000" },
    -- A sub-metric: only the product pages, grouped by their request name.
    ["http_req_duration{name:" .. PRODUCT_NAME .. "}"] = { "p(95)<300" },
    -- Only the requests made inside group("checkout").
    ["http_req_duration{group:::checkout}"] = { "max<2000" },
    -- Stop early if more than 5% of requests fail, but not in the first 10 s.
    http_req_failed = { { threshold = "rate<0.05", abortOnFail = true, delayAbortEval = "10s" } },
    checks = { "rate>0.99" },
  },
}

-- Runs once, before the load: the product ids to pick from.
function setup()
  local res = http.get(BASE_URL .. "/api/products")
  if res.status ~= 200 then
    fail("the shop at " .. BASE_URL .. " is not answering (status " .. res.status ..
      (res.error and (", " .. res.error) or "") .. "); start it with node examples/shop/server.js")
  end
  local ids = {}
  for _, product in ipairs(res:json()) do ids[#ids + 1] = product.id end
  return { product_ids = ids }
end

-- One customer. `data` is what setup() returned.
function default(data)
  local ids = data.product_ids

  -- 1. Log in: the session comes back as a cookie and as a token in the JSON.
  local token = group("authenticate", function()
    -- A table body is sent as an HTML form (application/x-www-form-urlencoded).
    local res = http.post(BASE_URL .. "/authenticate",
      { username = "customer" .. vu.id, password = "secret" })
    local ok = check(res, {
      ["login status is 200"] = function(r) return r.status == 200 end,
      ["login sets the session cookie"] = function(r)
        return (r.headers["set-cookie"] or ""):find("session=", 1, true) ~= nil
      end,
    })
    return ok and res:json().token or nil
  end)
  if not token then fail("login failed") end
  -- The VU's cookie jar would send the cookie by itself; saying it explicitly
  -- keeps the script independent of it.
  local session = { cookie = "session=" .. token }

  -- 2. Four product pages, fetched in parallel like a browser's tabs. Every one
  -- has its own URL but the same name, so they make one line in the summary.
  local picked = {}
  group("products", function()
    local requests = {}
    for i = 1, 4 do
      picked[i] = ids[random_int(1, #ids)]
      requests[i] = {
        method = "GET",
        url = BASE_URL .. "/product/" .. picked[i],
        params = { name = PRODUCT_NAME, tags = { page = "product" } },
      }
    end
    local responses = http.batch(requests)
    for _, res in ipairs(responses) do
      check(res, {
        ["product page status is 200"] = function(r) return r.status == 200 end,
        ["product page has an add-to-cart form"] = function(r)
          return r.body ~= nil and r.body:find('action="/cart/add"', 1, true) ~= nil
        end,
      })
    end
  end)
  sleep(random_int(2, 8) / 10) -- reading

  -- 3. One of them into the cart, as the page's add-to-cart form would post it
  -- (a table body is a form; see browse.lua for a JSON body).
  local choice = picked[random_int(1, #picked)]
  group("add to cart", function()
    local res = http.post(BASE_URL .. "/cart/add", { product_id = choice, quantity = 1 }, {
      headers = session,
    })
    check(res, {
      ["add to cart status is 200"] = function(r) return r.status == 200 end,
      ["the cart holds one item"] = function(r) return r.status == 200 and r:json().item_count == 1 end,
    })
  end)
  sleep(random_int(1, 5) / 10)

  -- 4. Check out.
  group("checkout", function()
    local res = http.post(BASE_URL .. "/checkout/confirm", "", { headers = session, timeout = "5s" })
    check(res, {
      ["checkout status is 200"] = function(r) return r.status == 200 end,
      ["checkout returns an order id"] = function(r)
        if r.status ~= 200 then return false end
        local order = r:json()
        return type(order.order_id) == "string" and order.order_id:match("^o%d+$") ~= nil
      end,
    })
  end)
end

-- Runs once, after the load.
function teardown(data)
  local res = http.get(BASE_URL .. "/health")
  check(res, { ["the shop survived"] = function(r) return r.status == 200 end })
end
