-- Redirects: followed by default (each hop a request), `redirects = 0`
-- returns the 3xx, a limit stops a chain, 303 turns a POST into a GET
-- without body, 307 keeps the method and the body.
local http = require("stampede.http")

options = { vus = 1, iterations = 1 }

local B = ENV.BASE_URL

function default()
  local followed = http.get(B .. "/redirect?to=/ok&code=302&case=follow")
  check(followed, {
    ["followed to 200"] = function(r) return r.status == 200 end,
    ["res.url is the final URL"] = function(r) return r.url == B .. "/ok" end,
    ["final body"] = function(r) return r.body == "hello from fault_server\n" end,
  })

  local kept = http.get(B .. "/redirect?to=/ok&code=301&case=zero", { redirects = 0 })
  check(kept, {
    ["redirects=0 returns the 301"] = function(r) return r.status == 301 end,
    ["location header"] = function(r) return r.headers["location"] == "/ok" end,
  })

  -- Two hops; a limit of 1 stops at the second 302.
  local chain = "/redirect?case=chain&to=" .. "/redirect%3Fto%3D/ok%26case%3Dchain2"
  local limited = http.get(B .. chain, { redirects = 1 })
  check(limited, { ["limit 1 ends on the second 302"] = function(r) return r.status == 302 end })

  local see_other = http.post(B .. "/redirect?to=/echo%3Fcase%3Dafter303&code=303", "dropped")
  check(see_other, {
    ["303 continues as GET"] = function(r) return r.status == 200 and r:json().method == "GET" end,
    ["303 drops the body"] = function(r) return r:json().body_len == 0 end,
  })

  local temp = http.post(B .. "/redirect?to=/echo%3Fcase%3Dafter307&code=307", "kept-body")
  check(temp, {
    ["307 keeps POST"] = function(r) return r.status == 200 and r:json().method == "POST" end,
    ["307 keeps the body"] = function(r) return r:json().body == "kept-body" end,
  })
end
