// `require("stampede.crypto")`: k6/crypto's hash, HMAC and randomBytes
// functions in Lua, through OpenSSL (EVP digests, HMAC(), RAND_bytes).
//
//   local crypto = require("stampede.crypto")
//   crypto.sha256("abc", "hex")
//   crypto.hmac("sha256", secret, data, "base64")
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <string>
#include <string_view>

#include "script/codec_bindings.h"
#include "script/lua_util.h"

namespace stampede::script {
namespace {

using lua::RaiseError;
using lua::ToView;

constexpr char kAlgorithms[] =
    "\"md5\", \"sha1\", \"sha256\", \"sha384\", \"sha512\" or \"sha512_256\"";
constexpr char kEncodings[] = "\"hex\", \"base64\", \"base64url\", \"base64rawurl\" or \"binary\"";
constexpr lua_Integer kMaxRandomBytes = 1 << 20;

const EVP_MD* DigestByName(std::string_view name) {
  if (name == "md5") return EVP_md5();
  if (name == "sha1") return EVP_sha1();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha512") return EVP_sha512();
  if (name == "sha512_256") return EVP_sha512_256();
  return nullptr;
}

std::string_view CheckBytes(lua_State* L, int idx, const char* fn, const char* what) {
  if (lua_type(L, idx) != LUA_TSTRING) {
    RaiseError(L, std::string(fn) + ": " + what + " (argument #" + std::to_string(idx) +
                      ") must be a string, got " + luaL_typename(L, idx));
  }
  return ToView(L, idx);
}

// Validates the output encoding at `idx` before any work is done.
std::string_view CheckEncoding(lua_State* L, int idx, const char* fn) {
  if (lua_type(L, idx) == LUA_TSTRING) {
    const std::string_view e = ToView(L, idx);
    if (e == "hex" || e == "base64" || e == "base64url" || e == "base64rawurl" || e == "binary") {
      return e;
    }
  }
  RaiseError(L, std::string(fn) + ": unknown output encoding '" +
                    (lua_type(L, idx) == LUA_TSTRING ? std::string(ToView(L, idx))
                                                     : std::string(luaL_typename(L, idx))) +
                    "' (expected " + kEncodings + ")");
}

void PushEncoded(lua_State* L, const unsigned char* md, unsigned int len, std::string_view enc) {
  const std::string_view raw(reinterpret_cast<const char*>(md), len);
  std::string out;
  if (enc == "hex") {
    out = codec::HexEncode(raw);
  } else if (enc == "base64") {
    out = codec::B64Encode(raw, codec::B64Variant::kStd);
  } else if (enc == "base64url") {
    out = codec::B64Encode(raw, codec::B64Variant::kUrl);
  } else if (enc == "base64rawurl") {
    out = codec::B64Encode(raw, codec::B64Variant::kRawUrl);
  } else {
    out.assign(raw);
  }
  lua_pushlstring(L, out.data(), out.size());
}

// md5(input, outputEncoding) and friends; the digest is the upvalue.
int Hash(lua_State* L) {
  const auto* md = static_cast<const EVP_MD*>(lua_touserdata(L, lua_upvalueindex(1)));
  const char* fn = lua_tostring(L, lua_upvalueindex(2));
  const std::string_view in = CheckBytes(L, 1, fn, "input");
  const std::string_view enc = CheckEncoding(L, 2, fn);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(in.data(), in.size(), out, &len, md, nullptr) != 1) {
    RaiseError(L, std::string(fn) + ": OpenSSL digest failed");
  }
  PushEncoded(L, out, len, enc);
  return 1;
}

int Hmac(lua_State* L) {
  constexpr char kFn[] = "crypto.hmac";
  if (lua_type(L, 1) != LUA_TSTRING || DigestByName(ToView(L, 1)) == nullptr) {
    RaiseError(L, std::string(kFn) + ": unknown algorithm '" +
                      (lua_type(L, 1) == LUA_TSTRING ? std::string(ToView(L, 1))
                                                     : std::string(luaL_typename(L, 1))) +
                      "' (expected " + kAlgorithms + ")");
  }
  const EVP_MD* md = DigestByName(ToView(L, 1));
  const std::string_view secret = CheckBytes(L, 2, kFn, "secret");
  const std::string_view data = CheckBytes(L, 3, kFn, "data");
  const std::string_view enc = CheckEncoding(L, 4, kFn);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // HMAC() rejects a null key pointer; an empty Lua string has a valid one.
  if (HMAC(md, secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out,
           &len) == nullptr) {
    RaiseError(L, std::string(kFn) + ": OpenSSL HMAC failed");
  }
  PushEncoded(L, out, len, enc);
  return 1;
}

int RandomBytes(lua_State* L) {
  if (lua_type(L, 1) != LUA_TNUMBER) {
    RaiseError(
        L, std::string("crypto.randomBytes: size must be a number, got ") + luaL_typename(L, 1));
  }
  const lua_Number n = lua_tonumber(L, 1);
  if (!(n >= 0 && n <= static_cast<lua_Number>(kMaxRandomBytes)) ||
      n != static_cast<lua_Number>(static_cast<lua_Integer>(n))) {
    RaiseError(L, "crypto.randomBytes: size must be an integer from 0 to " +
                      std::to_string(kMaxRandomBytes) + ", got " + std::to_string(n));
  }
  std::string out(static_cast<size_t>(n), '\0');
  if (!out.empty() &&
      RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) != 1) {
    RaiseError(L, "crypto.randomBytes: RAND_bytes failed");
  }
  lua_pushlstring(L, out.data(), out.size());
  return 1;
}

}  // namespace

int OpenCryptoModule(lua_State* L) {
  static constexpr const char* kHashes[] = {"md5",    "sha1",   "sha256",
                                            "sha384", "sha512", "sha512_256"};
  lua_createtable(L, 0, 8);
  for (const char* name : kHashes) {
    lua_pushlightuserdata(L, const_cast<EVP_MD*>(DigestByName(name)));
    lua_pushfstring(L, "crypto.%s", name);
    lua_pushcclosure(L, Hash, 2);
    lua_setfield(L, -2, name);
  }
  lua_pushcfunction(L, Hmac);
  lua_setfield(L, -2, "hmac");
  lua_pushcfunction(L, RandomBytes);
  lua_setfield(L, -2, "randomBytes");
  return 1;
}

}  // namespace stampede::script
