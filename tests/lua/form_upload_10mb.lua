-- A 10 MiB file (every byte value) in one multipart upload; the server
-- parses it and reports its size and sha256.
local http = require("stampede.http")
local crypto = require("stampede.crypto")

local bytes = {}
for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
local DATA = string.rep(table.concat(bytes), 10 * 1024 * 1024 / 256)
local SHA = crypto.sha256(DATA, "hex")

options = { vus = 1, iterations = 2 }

function default()
  local res = http.post(ENV.BASE_URL .. "/form", {
    note = "ten megabytes",
    big = http.file(DATA, "big.bin"),
  }, { responseCallback = http.expectedStatuses(200) })
  local form = res.status == 200 and res:json() or { fields = {}, files = {} }
  check(res, {
    ["10 MiB upload status is 200"] = function(r) return r.status == 200 end,
    ["10 MiB upload arrives whole"] = function()
      local f = form.files.big and form.files.big[1] or {}
      return f.size == #DATA and f.size == 10485760 and f.sha256 == SHA and f.filename == "big.bin"
    end,
    ["the other field arrives"] = function() return form.fields.note and form.fields.note[1] == "ten megabytes" end,
  })
end
