-- A multipart upload (k6's http.file) parsed by the server with Python's
-- email package: every field, list values as repeated parts, a binary file
-- read with open(path, "b") (NUL and 0xFF bytes) and its sha256, a file with
-- k6's defaults, escaped field names, and multipart forced by the user's
-- Content-Type on a table without files.
local http = require("stampede.http")
local crypto = require("stampede.crypto")

local BLOB = open("blob.bin", "b")
local UPLOAD = http.file(BLOB, "blob.bin", "image/png")
local PLAIN = http.file("plain text")

options = { vus = 1, iterations = 1 }

local function same(list, expected)
  if type(list) ~= "table" or #list ~= #expected then return false end
  for i = 1, #expected do
    if list[i] ~= expected[i] then return false end
  end
  return true
end

function default()
  check(BLOB, {
    ["open() keeps NUL and 0xFF bytes"] = function(b)
      return #b == 20 and b:find("\0", 1, true) ~= nil and b:find("\255", 1, true) ~= nil
    end,
  })
  check(UPLOAD, {
    ["http.file exposes k6's FileData fields"] = function(f)
      return f.data == BLOB and f.filename == "blob.bin" and f.content_type == "image/png"
    end,
  })
  check(PLAIN, {
    ["http.file defaults: octet-stream, a timestamp filename"] = function(f)
      return f.content_type == "application/octet-stream" and f.filename:match("^%d+$") ~= nil
    end,
  })

  local res = http.post(ENV.BASE_URL .. "/form?case=files", {
    title = "hello world",
    count = 3,
    ratio = 1.5,
    flag = true,
    empty = "",
    tags = { "a", "b c" },
    upload = UPLOAD,
    plain = PLAIN,
    ['quo"te'] = "q\r\nline",
    both = { "text", http.file("in a list", "l.txt", "text/plain") },
  })
  local form = res.status == 200 and res:json() or { fields = {}, files = {} }
  local fields, files = form.fields, form.files
  check(res, {
    ["multipart status is 200"] = function(r) return r.status == 200 end,
    ["multipart content type with a stampede boundary"] = function()
      return (form.content_type or ""):match("^multipart/form%-data; boundary=stampede%-%x+$") ~= nil
    end,
    ["text fields arrive"] = function()
      return same(fields.title, { "hello world" }) and same(fields.count, { "3" }) and
          same(fields.ratio, { "1.5" }) and same(fields.flag, { "true" }) and
          same(fields.empty, { "" })
    end,
    ["a list is repeated parts in order"] = function() return same(fields.tags, { "a", "b c" }) end,
    ["a field name's quote is escaped"] = function() return same(fields["quo%22te"], { "q\r\nline" }) end,
    ["the binary file arrives intact"] = function()
      local f = files.upload and files.upload[1] or {}
      return files.upload ~= nil and #files.upload == 1 and f.filename == "blob.bin" and f.content_type == "image/png" and
          f.size == #BLOB and f.sha256 == crypto.sha256(BLOB, "hex")
    end,
    ["the default file arrives"] = function()
      local f = files.plain and files.plain[1] or {}
      return f.filename == PLAIN.filename and f.content_type == "application/octet-stream" and
          f.size == 10
    end,
    ["a list mixes a text part and a file"] = function()
      local f = files.both and files.both[1] or {}
      return same(fields.both, { "text" }) and f.filename == "l.txt" and f.content_type == "text/plain"
    end,
  })

  -- No file, but the user asks for multipart: the boundary is appended.
  local forced = http.post(ENV.BASE_URL .. "/form?case=forced", { a = "1", b = { "2", "3" } },
    { headers = { ["Content-Type"] = "multipart/form-data" } })
  local f2 = forced.status == 200 and forced:json() or { fields = {} }
  check(forced, {
    ["forced multipart status is 200"] = function(r) return r.status == 200 end,
    ["forced multipart gets a boundary"] = function()
      return (f2.content_type or ""):match("^multipart/form%-data; boundary=stampede%-%x+$") ~= nil
    end,
    ["forced multipart fields"] = function()
      return same(f2.fields.a, { "1" }) and same(f2.fields.b, { "2", "3" })
    end,
  })

  -- The user's own boundary is kept.
  local own = http.post(ENV.BASE_URL .. "/form?case=own", { a = "1" },
    { headers = { ["content-type"] = "multipart/form-data; boundary=my-own-boundary" } })
  check(own, {
    ["the user's boundary is used"] = function(r)
      return r.status == 200 and same(r:json().fields.a, { "1" })
    end,
  })
end
