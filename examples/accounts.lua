-- Accounts: every VU logs in as its own user from users.csv (one copy of
-- the file shared by all VUs and worker threads), uploads an avatar as
-- multipart/form-data, and reads its account back. Each upload carries a
-- caption numbered uniquely across the whole test, and the user's plan is
-- set as a VU tag, so every later request is broken down by plan.
--
--   stampede run examples/accounts.lua -e BASE_URL=http://127.0.0.1:PORT
--   stampede run examples/accounts.lua -e BASE_URL=... -e VUS=50 -e ITERATIONS=20
local http = require("stampede.http")
local data = require("stampede.data")
local crypto = require("stampede.crypto")
local execution = require("stampede.execution")

local BASE_URL = ENV.BASE_URL or "http://127.0.0.1:8080"
local VUS = tonumber(ENV.VUS or "10")

-- Init: both files are read once, here (paths relative to this script).
local users = data.csv("users.csv", { header = true })
local avatar = open("avatar.png")
local avatar_sha256 = crypto.sha256(avatar, "hex")

options = {
  scenarios = {
    accounts = {
      executor = "per-vu-iterations",
      vus = VUS,
      iterations = tonumber(ENV.ITERATIONS or "3"),
    },
  },
  thresholds = {
    http_req_failed = { "rate<0.01" },
    checks = { "rate>0.99" },
    ["http_req_duration{name:upload avatar}"] = { "p(95)<500" },
    -- Sub-metrics by the VU tag set below.
    ["http_req_duration{plan:pro}"] = { "p(95)<500" },
    ["http_req_duration{plan:free}"] = { "p(95)<500" },
  },
}

function default()
  -- The same user for this VU every iteration; VU n gets row n.
  local user = users:perVu()
  execution.vu.tags.plan = user.plan

  -- A table body without files is sent as a form (k6's rule).
  local login = http.post(BASE_URL .. "/authenticate",
    { username = user.username, password = user.password }, { name = "login" })
  check(login, { ["logged in"] = function(r) return r.status == 200 end })
  if login.status ~= 200 then return end

  -- A table with an http.file is sent as multipart/form-data.
  local caption = "upload " .. execution.scenario.iterationInTest .. " by " .. user.username
  local up = http.post(BASE_URL .. "/account/avatar", {
    avatar = http.file(avatar, "avatar.png", "image/png"),
    caption = caption,
  }, { name = "upload avatar" })
  check(up, {
    ["avatar accepted"] = function(r) return r.status == 200 end,
    ["server got the very bytes"] = function(r)
      local j = r:json()
      return j.sha256 == avatar_sha256 and j.size == #avatar and j.caption == caption
    end,
  })

  local me = http.get(BASE_URL .. "/account", { name = "account" })
  check(me, {
    ["account is this user's"] = function(r) return r:json().username == user.username end,
  })
  sleep(0.1)
end

-- Each VU logged in as a user of its own: the shop saw exactly that many.
function teardown()
  local stats = http.get(BASE_URL .. "/stats"):json()
  local want = math.min(VUS, #users)
  check(stats, {
    ["one account per VU"] = function(s) return s.accounts.users == want end,
    ["every account has an avatar"] = function(s) return s.accounts.avatars == want end,
  })
end
