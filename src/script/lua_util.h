// Internal to script/: small helpers shared by the Lua binding files.
// Every C function registered by OpenBindings carries the Runtime as its
// first upvalue.
#pragma once

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include <string>
#include <string_view>

#include "core/rng.h"

#include "script/runtime.h"
#include "script/vu.h"

namespace stampede::script::lua {

inline Runtime& RuntimeOf(lua_State* L) {
  return *static_cast<Runtime*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// Raises a Lua error with `message`; the std::string is destroyed first so
// nothing non-trivial is live across the longjmp/unwind.
[[noreturn]] inline int RaiseError(lua_State* L, std::string message) {
  luaL_where(L, 1);  // "file:line: " of the Lua code that called the API
  lua_pushlstring(L, message.data(), message.size());
  lua_concat(L, 2);
  message.clear();
  message.shrink_to_fit();
  lua_error(L);
  __builtin_unreachable();
}

inline Vu& RequireVu(lua_State* L, const char* fn) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  if (vu == nullptr) {
    RaiseError(L, std::string(fn) +
                      " can only be called while a VU runs (in default, setup, teardown or an "
                      "exec function), not at init");
  }
  return *vu;
}

// The running VU's random generator; at init (no VU), one per thread seeded
// from RuntimeOptions::seed, shared by every API that draws at init.
inline core::Rng& RngOf(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (Vu* vu = rt.VuFor(L)) return vu->rng();
  static thread_local core::Rng init_rng(rt.options().seed);
  return init_rng;
}

inline std::string_view ToView(lua_State* L, int index) {
  size_t len;
  const char* s = lua_tolstring(L, index, &len);
  return {s, len};
}


inline void PushClosure(lua_State* L, Runtime& rt, lua_CFunction fn) {
  lua_pushlightuserdata(L, &rt);
  lua_pushcclosure(L, fn, 1);
}

inline void SetFunction(lua_State* L, Runtime& rt, const char* name, lua_CFunction fn) {
  PushClosure(L, rt, fn);
  lua_setfield(L, -2, name);
}


inline void SetNumber(lua_State* L, const char* key, double value) {
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

}  // namespace stampede::script::lua
