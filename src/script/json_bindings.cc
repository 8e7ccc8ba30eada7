// `require("stampede.json")`: json.encode(value) and json.decode(string).
#include "script/json_bindings.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include <string>

#include "script/lua_json.h"

namespace stampede::script {
namespace {

// Raises `message` as a Lua error after destroying it (nothing non-trivial
// may stay live across lua_error's longjmp).
[[noreturn]] void Raise(lua_State* L, std::string message) {
  luaL_where(L, 1);
  lua_pushlstring(L, message.data(), message.size());
  lua_concat(L, 2);
  std::string().swap(message);
  lua_error(L);
  __builtin_unreachable();
}

int Encode(lua_State* L) {
  if (lua_gettop(L) < 1) Raise(L, "json.encode(value): expects a value");
  std::string error;
  std::string text;
  {
    nlohmann::json j;
    if (LuaToJson(L, 1, "value", &j, &error)) text = j.dump();
  }
  if (!error.empty()) Raise(L, "json.encode: " + error);
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

int Decode(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) {
    Raise(L, std::string("json.decode(text): text must be a string, got ") +
                 lua_typename(L, lua_type(L, 1)));
  }
  size_t len = 0;
  const char* s = lua_tolstring(L, 1, &len);
  std::string error;
  {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(s, s + len);
    } catch (const nlohmann::json::parse_error& e) {
      // e.what(): "[json.exception.parse_error.101] parse error at line 1,
      // column 5: ..." (control characters already shown as <U+000A>).
      std::string what = e.what();
      size_t start = what.find("] ");
      error = "json.decode: invalid JSON at byte " + std::to_string(e.byte) + " (" +
              (start == std::string::npos ? what : what.substr(start + 2)) + ")";
    }
    if (error.empty()) {
      PushJson(L, j);
      return 1;
    }
  }
  Raise(L, std::move(error));
}

}  // namespace

int OpenJsonModule(lua_State* L) {
  lua_createtable(L, 0, 2);
  lua_pushcfunction(L, Encode);
  lua_setfield(L, -2, "encode");
  lua_pushcfunction(L, Decode);
  lua_setfield(L, -2, "decode");
  return 1;
}

}  // namespace stampede::script
