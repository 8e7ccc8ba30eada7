-- stampede.encoding and stampede.crypto: RFC 4648 base64/hex, FIPS 180 and
-- RFC 4231 known answers, round trips over bytes 0-255, misuse raises.
local encoding = require("stampede.encoding")
local crypto = require("stampede.crypto")

options = { vus = 1, iterations = 1 }

local function raises(fn, ...)
  local ok, err = pcall(fn, ...)
  return not ok and type(err) == "string"
end

function default()
  local rfc4648 = {
    { "", "", "" }, { "f", "Zg==", "66" }, { "fo", "Zm8=", "666f" }, { "foo", "Zm9v", "666f6f" },
    { "foob", "Zm9vYg==", "666f6f62" }, { "fooba", "Zm9vYmE=", "666f6f6261" },
    { "foobar", "Zm9vYmFy", "666f6f626172" },
  }
  local b64_ok, hex_ok = true, true
  for _, c in ipairs(rfc4648) do
    if encoding.b64encode(c[1]) ~= c[2] or encoding.b64decode(c[2], "std", "s") ~= c[1] then
      b64_ok = false
    end
    if encoding.hexencode(c[1]) ~= c[3] or encoding.hexdecode(c[3]) ~= c[1] then hex_ok = false end
  end
  local bytes = {}
  for i = 0, 255 do bytes[#bytes + 1] = string.char(i) end
  local all = table.concat(bytes)
  local variants_ok = true
  for _, v in ipairs({ "std", "rawstd", "url", "rawurl" }) do
    if encoding.b64decode(encoding.b64encode(all, v), v) ~= all then variants_ok = false end
  end
  local k1, k4 = string.rep("\11", 20), {}
  for i = 1, 25 do k4[i] = string.char(i) end
  k4 = table.concat(k4)

  check(true, {
    ["rfc4648 base64"] = b64_ok,
    ["rfc4648 hex"] = hex_ok,
    ["base64 variants round trip 0-255"] = variants_ok,
    ["rawurl alphabet"] = encoding.b64encode("\251\255", "rawurl") == "-_8",
    ["url escaping round trip 0-255"] = encoding.urldecode(encoding.urlencode(all)) == all,
    ["urlencode"] = encoding.urlencode("a b&c") == "a%20b%26c",
    ["urldecode plus"] = encoding.urldecode("a+b%2F") == "a b/",
    ["bad base64 raises"] = raises(encoding.b64decode, "Zg="),
    ["bad base64 names position"] = select(2, pcall(encoding.b64decode, "Zm9v!"))
        :find("encoding.b64decode: illegal base64 data at input byte 4", 1, true) ~= nil,
    ["bad variant raises"] = raises(encoding.b64encode, "x", "nope"),
    ["bad hex raises"] = raises(encoding.hexdecode, "abc"),
    ["bad url escape raises"] = raises(encoding.urldecode, "%zz"),
    ["md5 empty"] = crypto.md5("", "hex") == "d41d8cd98f00b204e9800998ecf8427e",
    ["md5 abc"] = crypto.md5("abc", "hex") == "900150983cd24fb0d6963f7d28e17f72",
    ["sha1 abc"] = crypto.sha1("abc", "hex") == "a9993e364706816aba3e25717850c26c9cd0d89d",
    ["sha256 abc"] = crypto.sha256("abc", "hex")
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    ["sha512 abc"] = crypto.sha512("abc", "hex")
        == "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        .. "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    ["sha512_256 abc"] = crypto.sha512_256("abc", "hex")
        == "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
    ["md5 base64"] = crypto.md5("", "base64") == "1B2M2Y8AsgTpgAmY7PhCfg==",
    ["hmac sha256 tc1"] = crypto.hmac("sha256", k1, "Hi There", "hex")
        == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ["hmac sha256 tc2"] = crypto.hmac("sha256", "Jefe", "what do ya want for nothing?", "hex")
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ["hmac sha384 tc3"] = crypto.hmac("sha384", string.rep("\170", 20), string.rep("\221", 50), "hex")
        == "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b"
        .. "2a5ab39dc13814b94e3ab6e101a34f27",
    ["hmac sha512 tc4"] = crypto.hmac("sha512", k4, string.rep("\205", 50), "hex")
        == "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db"
        .. "a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
    ["hmac sha256 tc6"] = crypto.hmac("sha256", string.rep("\170", 131),
        "Test Using Larger Than Block-Size Key - Hash Key First", "hex")
        == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ["randomBytes length"] = #crypto.randomBytes(16) == 16,
    ["randomBytes too many raises"] = raises(crypto.randomBytes, 1048577),
    ["unknown algorithm raises"] = raises(crypto.hmac, "sha3", "k", "d", "hex"),
    ["unknown output encoding raises"] = raises(crypto.sha256, "abc", "hexx"),
    ["wrong input type raises"] = raises(crypto.md5, {}, "hex"),
  })
end
