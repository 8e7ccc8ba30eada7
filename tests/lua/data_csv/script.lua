-- stampede.data: a CSV with a header shared by every VU of 2 worker threads;
-- users:perVu() gives VU n row ((n-1) % 4) + 1 every time; rows by index,
-- #users, out-of-range nil, read-only rows, a header-less file with ";".
local http = require("stampede.http")
local data = require("stampede.data")

local users = data.csv("users.csv", { header = true })
local plain = data.csv("plain.csv", { separator = ";" })
local again = data.csv("users.csv", { header = true })

options = { scenarios = { s = { executor = "per-vu-iterations", vus = 5, iterations = 2 } } }

function default()
  local u = users:perVu()
  http.post(ENV.BASE_URL .. "/echo?vu=" .. vu.id, u.username .. ":" .. u.password,
    { headers = { ["content-type"] = "text/plain" } })
  local r = users:random()
  local first = users[1]
  first.username = "changed"  -- a private copy: the shared row stays
  -- perVu(): the VU's own table, the same one each call (kept across
  -- iterations); another VU's or users[i] never see its changes.
  local mine = users:perVu()
  local seen_before = mine.note
  mine.note = "vu" .. vu.id
  check(users, {
    ["#users is 4"] = function(t) return #t == 4 and #again == 4 end,
    ["users[1] by header name"] = function(t) return t[1].username == "alice" and t[1].password == "pw,1" end,
    ["quotes unescaped"] = function(t) return t[2].password == 'say "hi"' end,
    ["out of range is nil"] = function(t) return t[0] == nil and t[5] == nil and t[1.5] == nil end,
    ["rows are copies"] = function(t) return t[1].username == "alice" end,
    ["random row is a row"] = function() return r.username ~= nil and r.password ~= nil end,
    ["no header: a list"] = function() return #plain == 2 and plain[1][1] == "a" and plain[2][2] == "d" end,
    ["shared data is read-only"] = function(t) return not pcall(function() t[1] = {} end) end,
    ["perVu is the same table each call"] = function() return users:perVu() == u and mine == u end,
    ["perVu keeps the VU's change"] = function()
      return (vu.iteration == 0 and seen_before == nil) or seen_before == "vu" .. vu.id
    end,
    ["perVu change stays the VU's"] = function(t) return t[(vu.id - 1) % 4 + 1].note == nil end,
    ["tostring"] = function(t) return tostring(t):find("4 rows", 1, true) ~= nil end,
    ["data.csv outside init raises"] = function() return not pcall(data.csv, "users.csv") end,
  })
end
