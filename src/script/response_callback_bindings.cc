// k6's response callbacks in Lua: http.expectedStatuses(...) objects (a
// ResponseCallback in a userdata), http.setResponseCallback(), and reading a
// params.responseCallback. The judging itself is response_callback.h.
#include <cmath>
#include <cstdio>
#include <new>
#include <string>

#include "script/bindings.h"
#include "script/lua_util.h"

namespace stampede::script {
namespace {

using lua::RaiseError;
using lua::RequireVu;
using lua::RuntimeOf;
using lua::SetFunction;

// Metatable of the userdata http.expectedStatuses() returns (a
// ResponseCallback); also its __metatable, so scripts cannot swap it.
constexpr char kExpectedStatusesMeta[] = "stampede.expected_statuses";

std::string NumberText(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.14g", d);
  return buf;
}

// The status at `idx` (a number): an integer in 100..999, or an error.
std::string StatusAt(lua_State* L, int idx, const char* what, int* out) {
  if (lua_type(L, idx) != LUA_TNUMBER) {
    return std::string(what) + " must be an integer status, got " +
           lua_typename(L, lua_type(L, idx));
  }
  const double d = lua_tonumber(L, idx);
  if (d != std::floor(d)) return std::string(what) + " " + NumberText(d) + " is not an integer";
  if (d < ResponseCallback::kMinStatus || d > ResponseCallback::kMaxStatus) {
    return std::string(what) + " " + NumberText(d) + " is not an HTTP status (100-999)";
  }
  *out = static_cast<int>(d);
  return {};
}

// Adds argument `idx` of expectedStatuses (a status or {min=, max=}) to `cb`.
std::string AddExpected(lua_State* L, int idx, ResponseCallback& cb) {
  if (lua_type(L, idx) == LUA_TNUMBER) {
    int status = 0;
    std::string error = StatusAt(L, idx, "the status", &status);
    if (error.empty()) cb.Add(status, status);
    return error;
  }
  if (lua_type(L, idx) != LUA_TTABLE) {
    return std::string("expected a status (e.g. 200) or a range {min = 200, max = 299}, got ") +
           lua_typename(L, lua_type(L, idx));
  }
  int min = 0, max = 0;
  lua_getfield(L, idx, "min");
  std::string error = StatusAt(L, lua_gettop(L), "min", &min);
  lua_pop(L, 1);
  if (error.empty()) {
    lua_getfield(L, idx, "max");
    error = StatusAt(L, lua_gettop(L), "max", &max);
    lua_pop(L, 1);
  }
  if (!error.empty()) return error + " (a range is {min = 200, max = 299})";
  if (min > max) {
    return "min " + std::to_string(min) + " is greater than max " + std::to_string(max);
  }
  cb.Add(min, max);
  return {};
}

// http.expectedStatuses(200, {min = 300, max = 399}, ...) -> a callback object.
int HttpExpectedStatuses(lua_State* L) {
  const int n = lua_gettop(L);
  if (n == 0) {
    RaiseError(L, "http.expectedStatuses: give at least one status (e.g. 200) or range "
                  "({min = 200, max = 299})");
  }
  ResponseCallback cb;
  for (int i = 1; i <= n; ++i) {
    std::string error = AddExpected(L, i, cb);
    if (!error.empty()) {
      RaiseError(L, "http.expectedStatuses: argument " + std::to_string(i) + ": " +
                        std::move(error));  // nothing left to free across the unwind
    }
  }
  // Trivially destructible: the userdata needs no __gc.
  new (lua_newuserdata(L, sizeof(ResponseCallback))) ResponseCallback(cb);
  luaL_getmetatable(L, kExpectedStatusesMeta);
  lua_setmetatable(L, -2);
  return 1;
}

// http.setResponseCallback(cb | nil): at init, the default of every VU;
// while a VU runs, that VU's (k6 keeps one per VU).
int HttpSetResponseCallback(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  ResponseCallback cb;
  if (lua_gettop(L) >= 1 && (lua_isnil(L, 1) || (lua_isboolean(L, 1) && !lua_toboolean(L, 1)))) {
    cb = ResponseCallback::None();
  } else if (const ResponseCallback* given = ToCallback(L, 1)) {
    cb = *given;
  } else {
    RaiseError(L, std::string("http.setResponseCallback: expects the result of "
                              "http.expectedStatuses(...), or nil to judge no response; got ") +
                      (lua_gettop(L) == 0 ? "no argument" : lua_typename(L, lua_type(L, 1))));
  }
  if (rt.in_init()) {
    rt.init_response_callback() = cb;
  } else {
    RequireVu(L, "http.setResponseCallback").response_callback() = cb;
  }
  return 0;
}

}  // namespace

const ResponseCallback* ToCallback(lua_State* L, int idx) {
  void* ud = lua_touserdata(L, idx);
  if (ud == nullptr || lua_islightuserdata(L, idx) || !lua_getmetatable(L, idx)) return nullptr;
  luaL_getmetatable(L, kExpectedStatusesMeta);
  const bool ours = lua_rawequal(L, -1, -2) != 0;
  lua_pop(L, 2);
  return ours ? static_cast<const ResponseCallback*>(ud) : nullptr;
}


void AddResponseCallbackFunctions(lua_State* L, Runtime& rt) {
  SetFunction(L, rt, "expectedStatuses", HttpExpectedStatuses);
  SetFunction(L, rt, "setResponseCallback", HttpSetResponseCallback);
  if (luaL_newmetatable(L, kExpectedStatusesMeta)) {
    lua_pushstring(L, kExpectedStatusesMeta);
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
}

}  // namespace stampede::script
