// `require("stampede.encoding")`: k6/encoding in Lua, plus hex and URL
// escaping.
//
//   local encoding = require("stampede.encoding")
//   encoding.b64encode("foo", "rawurl")   --> "Zm9v"
//
// Base64 and hex are table-driven here (they are encodings, not crypto);
// their behaviour follows Go's encoding/base64 and net/url, which k6 uses.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "script/codec_bindings.h"
#include "script/lua_util.h"

namespace stampede::script {
namespace codec {
namespace {

constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

bool IsUrl(B64Variant v) { return v == B64Variant::kUrl || v == B64Variant::kRawUrl; }
bool IsPadded(B64Variant v) { return v == B64Variant::kStd || v == B64Variant::kUrl; }

// Reverse table: 0..63, or -1 for a byte outside the alphabet.
std::array<int8_t, 256> ReverseTable(const char* alphabet) {
  std::array<int8_t, 256> t{};
  t.fill(-1);
  for (int i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = static_cast<int8_t>(i);
  return t;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<B64Variant> ParseB64Variant(std::string_view name) {
  if (name == "std") return B64Variant::kStd;
  if (name == "rawstd") return B64Variant::kRawStd;
  if (name == "url") return B64Variant::kUrl;
  if (name == "rawurl") return B64Variant::kRawUrl;
  return std::nullopt;
}

std::string B64Encode(std::string_view in, B64Variant variant) {
  const char* a = IsUrl(variant) ? kUrlAlphabet : kStdAlphabet;
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    out += a[(v >> 6) & 63];
    out += a[v & 63];
  }
  const size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    out += a[v >> 18];
    out += a[(v >> 12) & 63];
    if (rest == 2) out += a[(v >> 6) & 63];
    if (IsPadded(variant)) out.append(3 - rest, '=');
  }
  return out;
}

std::optional<std::string> B64Decode(std::string_view in, B64Variant variant, size_t& bad_pos) {
  static const std::array<int8_t, 256> kStd = ReverseTable(kStdAlphabet);
  static const std::array<int8_t, 256> kUrl = ReverseTable(kUrlAlphabet);
  const std::array<int8_t, 256>& rev = IsUrl(variant) ? kUrl : kStd;
  const bool padded = IsPadded(variant);
  std::string out;
  out.reserve(in.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int n = 0;  // sextets in acc
  size_t i = 0;
  size_t last = 0;  // position of the last significant byte, for errors at the end
  for (; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') break;
    const int8_t d = rev[static_cast<unsigned char>(c)];
    if (d < 0) {
      bad_pos = i;
      return std::nullopt;
    }
    last = i;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    if (++n == 4) {
      out += static_cast<char>(acc >> 16);
      out += static_cast<char>((acc >> 8) & 0xff);
      out += static_cast<char>(acc & 0xff);
      acc = 0;
      n = 0;
    }
  }
  if (n == 1) {  // one sextet cannot end a quantum
    bad_pos = last;
    return std::nullopt;
  }
  if (i < in.size()) {  // at '='
    if (!padded || n == 0) {
      bad_pos = i;
      return std::nullopt;
    }
    int need = 4 - n;  // '=' count: 2 after two sextets, 1 after three
    size_t j = i;
    for (; j < in.size(); ++j) {
      const char c = in[j];
      if (c == '\r' || c == '\n') continue;
      if (c != '=' || need == 0) {
        bad_pos = j;
        return std::nullopt;
      }
      --need;
    }
    if (need != 0) {
      bad_pos = in.size();
      return std::nullopt;
    }
  } else if (padded && n != 0) {  // padding missing
    bad_pos = in.size();
    return std::nullopt;
  }
  if (n == 2) {
    out += static_cast<char>(acc >> 4);
  } else if (n == 3) {
    out += static_cast<char>(acc >> 10);
    out += static_cast<char>((acc >> 2) & 0xff);
  }
  return out;
}

std::string HexEncode(std::string_view in) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(in.size() * 2);
  for (const char c : in) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

}  // namespace codec

namespace {

using lua::RaiseError;
using lua::ToView;

constexpr char kVariants[] = "\"std\", \"rawstd\", \"url\" or \"rawurl\"";

// The string argument at `idx`; anything else raises.
std::string_view CheckBytes(lua_State* L, int idx, const char* fn) {
  if (lua_type(L, idx) != LUA_TSTRING) {
    RaiseError(L, std::string(fn) + ": argument #" + std::to_string(idx) +
                      " must be a string, got " + luaL_typename(L, idx));
  }
  return ToView(L, idx);
}

codec::B64Variant CheckVariant(lua_State* L, int idx, const char* fn) {
  if (lua_isnoneornil(L, idx)) return codec::B64Variant::kStd;
  if (lua_type(L, idx) == LUA_TSTRING) {
    if (auto v = codec::ParseB64Variant(ToView(L, idx))) return *v;
  }
  RaiseError(L, std::string(fn) + ": unknown base64 variant '" +
                    (lua_type(L, idx) == LUA_TSTRING ? std::string(ToView(L, idx))
                                                     : std::string(luaL_typename(L, idx))) +
                    "' (expected " + kVariants + ")");
}

void PushString(lua_State* L, const std::string& s) { lua_pushlstring(L, s.data(), s.size()); }

int B64Encode(lua_State* L) {
  const std::string_view in = CheckBytes(L, 1, "encoding.b64encode");
  const codec::B64Variant v = CheckVariant(L, 2, "encoding.b64encode");
  PushString(L, codec::B64Encode(in, v));
  return 1;
}

int B64Decode(lua_State* L) {
  const std::string_view in = CheckBytes(L, 1, "encoding.b64decode");
  const codec::B64Variant v = CheckVariant(L, 2, "encoding.b64decode");
  // k6's third argument "s" asks for a string instead of an ArrayBuffer; a
  // Lua string is both, so "s" and nil give the same result.
  if (!lua_isnoneornil(L, 3) && !(lua_type(L, 3) == LUA_TSTRING && ToView(L, 3) == "s")) {
    RaiseError(L, "encoding.b64decode: argument #3 must be \"s\" or nil");
  }
  size_t bad = 0;
  std::optional<std::string> out = codec::B64Decode(in, v, bad);
  if (!out) {
    RaiseError(L, "encoding.b64decode: illegal base64 data at input byte " + std::to_string(bad) +
                      " (variant \"" + std::string(lua_isnoneornil(L, 2) ? "std" : ToView(L, 2)) +
                      "\")");
  }
  PushString(L, *out);
  return 1;
}

int HexEncode(lua_State* L) {
  PushString(L, codec::HexEncode(CheckBytes(L, 1, "encoding.hexencode")));
  return 1;
}

int HexDecode(lua_State* L) {
  const std::string_view in = CheckBytes(L, 1, "encoding.hexdecode");
  std::string out;
  out.reserve(in.size() / 2);
  for (size_t i = 0; i < in.size(); i += 2) {
    const int hi = codec::HexValue(in[i]);
    if (hi < 0)
      RaiseError(L, "encoding.hexdecode: invalid hex digit at input byte " + std::to_string(i));
    if (i + 1 == in.size()) {
      RaiseError(L, "encoding.hexdecode: odd length " + std::to_string(in.size()));
    }
    const int lo = codec::HexValue(in[i + 1]);
    if (lo < 0) {
      RaiseError(L, "encoding.hexdecode: invalid hex digit at input byte " + std::to_string(i + 1));
    }
    out += static_cast<char>(hi << 4 | lo);
  }
  PushString(L, out);
  return 1;
}

// RFC 3986 unreserved characters stay; every other byte becomes %XX.
int UrlEncode(lua_State* L) {
  const std::string_view in = CheckBytes(L, 1, "encoding.urlencode");
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(in.size() * 3);
  for (const char c : in) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '.' || b == '_' || b == '~') {
      out += c;
    } else {
      out += '%';
      out += kDigits[b >> 4];
      out += kDigits[b & 15];
    }
  }
  PushString(L, out);
  return 1;
}

// Go's url.QueryUnescape: '+' is a space, '%' needs two hex digits.
int UrlDecode(lua_State* L) {
  const std::string_view in = CheckBytes(L, 1, "encoding.urldecode");
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      const int hi = i + 1 < in.size() ? codec::HexValue(in[i + 1]) : -1;
      const int lo = i + 2 < in.size() ? codec::HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        RaiseError(L, "encoding.urldecode: invalid URL escape \"" + std::string(in.substr(i, 3)) +
                          "\" at input byte " + std::to_string(i));
      }
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    } else {
      out += c;
    }
  }
  PushString(L, out);
  return 1;
}

}  // namespace

int OpenEncodingModule(lua_State* L) {
  static const luaL_Reg kFunctions[] = {
      {"b64encode", B64Encode}, {"b64decode", B64Decode}, {"hexencode", HexEncode},
      {"hexdecode", HexDecode}, {"urlencode", UrlEncode}, {"urldecode", UrlDecode},
      {nullptr, nullptr},
  };
  lua_createtable(L, 0, 6);
  for (const luaL_Reg* r = kFunctions; r->name != nullptr; ++r) {
    lua_pushcfunction(L, r->func);
    lua_setfield(L, -2, r->name);
  }
  return 1;
}

}  // namespace stampede::script
