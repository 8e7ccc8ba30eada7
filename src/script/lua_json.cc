#include "script/lua_json.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
}

#include <cmath>

namespace stampede::script {
namespace {

bool Convert(lua_State* L, int index, const std::string& path, int depth, nlohmann::json* out,
             std::string* error) {
  if (depth > 64) {
    *error = path + " is nested too deeply (a cycle?)";
    return false;
  }
  index = index < 0 ? lua_gettop(L) + index + 1 : index;
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      *out = nullptr;
      return true;
    case LUA_TBOOLEAN:
      *out = lua_toboolean(L, index) != 0;
      return true;
    case LUA_TNUMBER: {
      double d = lua_tonumber(L, index);
      if (std::floor(d) == d && std::fabs(d) < 9.007199254740992e15) {
        *out = static_cast<int64_t>(d);
      } else {
        *out = d;
      }
      return true;
    }
    case LUA_TSTRING: {
      size_t len;
      const char* s = lua_tolstring(L, index, &len);
      *out = std::string(s, len);
      return true;
    }
    case LUA_TTABLE: {
      size_t n = lua_objlen(L, index);
      size_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, index) != 0) {
        ++count;
        lua_pop(L, 1);
      }
      if (n > 0 && count == n) {
        *out = nlohmann::json::array();
        for (size_t i = 1; i <= n; ++i) {
          lua_rawgeti(L, index, static_cast<int>(i));
          nlohmann::json item;
          bool ok = Convert(L, -1, path + "[" + std::to_string(i) + "]", depth + 1, &item, error);
          lua_pop(L, 1);
          if (!ok) return false;
          out->push_back(std::move(item));
        }
        return true;
      }
      *out = nlohmann::json::object();
      lua_pushnil(L);
      while (lua_next(L, index) != 0) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
          size_t len;
          const char* k = lua_tolstring(L, -2, &len);
          key.assign(k, len);
        } else if (lua_type(L, -2) == LUA_TNUMBER) {
          lua_pushvalue(L, -2);  // tostring on a copy: lua_next needs the key intact
          key = lua_tostring(L, -1);
          lua_pop(L, 1);
        } else {
          lua_pop(L, 2);
          *error = path + " has a key of type " + lua_typename(L, lua_type(L, -2));
          return false;
        }
        nlohmann::json item;
        bool ok = Convert(L, -1, path.empty() ? key : path + "." + key, depth + 1, &item, error);
        lua_pop(L, 1);
        if (!ok) {
          lua_pop(L, 1);
          return false;
        }
        (*out)[key] = std::move(item);
      }
      return true;
    }
    default:
      *error = path + " is a " + lua_typename(L, lua_type(L, index)) +
               ", which cannot be serialised (use strings, numbers, booleans and tables)";
      return false;
  }
}

}  // namespace

bool LuaToJson(lua_State* L, int index, const std::string& path, nlohmann::json* out,
               std::string* error) {
  return Convert(L, index, path, 0, out, error);
}

void PushJson(lua_State* L, const nlohmann::json& v) {
  switch (v.type()) {
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::discarded:
      lua_pushnil(L);
      return;
    case nlohmann::json::value_t::boolean:
      lua_pushboolean(L, v.get<bool>());
      return;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::number_float:
      lua_pushnumber(L, v.get<double>());
      return;
    case nlohmann::json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case nlohmann::json::value_t::binary:
      lua_pushnil(L);
      return;
    case nlohmann::json::value_t::array: {
      lua_createtable(L, static_cast<int>(v.size()), 0);
      int i = 1;
      for (const auto& item : v) {
        PushJson(L, item);
        lua_rawseti(L, -2, i++);
      }
      return;
    }
    case nlohmann::json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(v.size()));
      for (const auto& [key, item] : v.items()) {
        lua_pushlstring(L, key.data(), key.size());
        PushJson(L, item);
        lua_rawset(L, -3);
      }
      return;
    }
  }
}

}  // namespace stampede::script
