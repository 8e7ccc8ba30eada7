// Internal to script/: `require("stampede.encoding")` and
// `require("stampede.crypto")`, k6's k6/encoding and k6/crypto with Lua byte
// strings in place of ArrayBuffers. Neither module needs the Runtime, so both
// openers work in any lua_State (the unit test opens them in a bare one).
// Misuse raises a Lua error naming the function and the accepted values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

struct lua_State;

namespace stampede::script {

// encoding_bindings.cc: b64encode, b64decode, hexencode, hexdecode,
// urlencode, urldecode. Pushes the module table; returns 1.
int OpenEncodingModule(lua_State* L);

// crypto_bindings.cc: md5, sha1, sha256, sha384, sha512, sha512_256, hmac,
// randomBytes (OpenSSL EVP, HMAC and RAND_bytes). Pushes the module table.
int OpenCryptoModule(lua_State* L);

namespace codec {

// Base64 variant, k6's names: "std" (padded), "rawstd", "url", "rawurl".
enum class B64Variant { kStd, kRawStd, kUrl, kRawUrl };
std::optional<B64Variant> ParseB64Variant(std::string_view name);

std::string B64Encode(std::string_view in, B64Variant variant);
// Decodes like Go's encoding/base64 (CR and LF skipped, padding required by
// the padded variants and refused by the raw ones). On failure returns
// nullopt and sets `bad_pos` to the offending input byte.
std::optional<std::string> B64Decode(std::string_view in, B64Variant variant, size_t& bad_pos);

std::string HexEncode(std::string_view in);

}  // namespace codec
}  // namespace stampede::script
