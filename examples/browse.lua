-- browse.lua: shoppers browse the catalogue, look at a product and put it in
-- a cart, with think time between the steps. Ramps up to 20 VUs, holds, and
-- ramps down, against the demo shop (examples/shop).
--
--   node examples/shop/server.js                      # prints "listening on PORT"
--   stampede run examples/browse.lua -e BASE_URL=http://127.0.0.1:PORT

local http = require("stampede.http")

local BASE_URL = ENV.BASE_URL or "http://127.0.0.1:8080"

options = {
  stages = {
    { duration = "10s", target = 20 }, -- ramp up to 20 VUs
    { duration = "20s", target = 20 }, -- hold
    { duration = "10s", target = 0 },  -- ramp down
  },
  thresholds = {
    http_req_duration = { "p(95)<500", "p(99)<1000" },
    http_req_failed = { "rate<0.01" },
    checks = { "rate>0.99" },
  },
}

-- Sent on every request, so the service's logs and traces can tell load-test
-- traffic apart.
local HEADERS = { ["x-load-test"] = "stampede" }
-- A table body is a form unless the content type says JSON.
local JSON_HEADERS = { ["x-load-test"] = "stampede", ["content-type"] = "application/json" }

-- A shopper pauses 0.1 to 0.3 s between pages.
local function think()
  sleep(random_int(1, 3) / 10)
end

function default()
  -- 1. The catalogue.
  local products
  group("browse", function()
    local res = http.get(BASE_URL .. "/api/products", { headers = HEADERS })
    local ok = check(res, {
      ["catalogue status is 200"] = function(r) return r.status == 200 end,
      ["catalogue is JSON"] = function(r)
        return (r.headers["content-type"] or ""):find("application/json", 1, true) ~= nil
      end,
      -- Only decode a 200: res:json() raises a Lua error on a body that is not JSON.
      ["catalogue lists products"] = function(r) return r.status == 200 and #r:json() > 0 end,
    })
    if ok then products = res:json() end
  end)
  if not products then
    -- Nothing to browse: count the iteration as failed and start the next one.
    fail("the catalogue could not be loaded")
  end
  think()

  -- 2. One product's page; all product pages count as one URL in the metrics.
  local product = products[random_int(1, #products)]
  group("product", function()
    local res = http.get(BASE_URL .. "/product/" .. product.id, {
      headers = HEADERS,
      name = "/product/{product_id}",
    })
    check(res, {
      ["product page status is 200"] = function(r) return r.status == 200 end,
      ["product page shows the product"] = function(r)
        return r.body ~= nil and r.body:find(product.name, 1, true) ~= nil
      end,
    })
  end)
  think()

  -- 3. Into the cart (a JSON body: the content type makes the table JSON).
  group("cart", function()
    local quantity = random_int(1, 3)
    local res = http.post(BASE_URL .. "/api/cart", { product_id = product.id, quantity = quantity }, {
      headers = JSON_HEADERS,
    })
    check(res, {
      ["add to cart status is 200"] = function(r) return r.status == 200 end,
      ["cart holds the product"] = function(r)
        if r.status ~= 200 then return false end
        local cart = r:json()
        for _, item in ipairs(cart.items) do
          if item.product_id == product.id and item.quantity == quantity then return true end
        end
        return false
      end,
    })
  end)
  think()
end
