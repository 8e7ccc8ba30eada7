// `require("stampede.data")`: datasets shared by every VU of every worker.
// A dataset is a full userdata holding a shared_ptr to the process-wide
// immutable Dataset; its metatable gives rows by index (built fresh on each
// access from the shared bytes: Lua strings and tables only, no C++ heap),
// #, tostring and the methods perVu, unique and random.
#include "script/data_bindings.h"

#include <charconv>
#include <cmath>
#include <memory>
#include <new>
#include <random>
#include <string>
#include <utility>

#include "core/rng.h"
#include "script/execution.h"
#include "script/lua_util.h"
#include "script/runtime.h"
#include "script/shared_data.h"

namespace stampede::script {
namespace {

using lua::RaiseError;
using lua::RngOf;
using lua::RuntimeOf;
using lua::ToView;

constexpr char kDatasetMeta[] = "stampede.dataset";

struct Handle {
  std::shared_ptr<const data::Dataset> data;
  bool wrap = false;  // unique() past the last row starts over (else: error)
};

const char* FunctionName(const data::Dataset& d) {
  return d.format() == data::Format::kCsv ? "data.csv" : "data.json";
}

// ---- JSON element text (as data::ParseJson wrote it) → Lua value ----

const char* SkipString(const char* p, const char* end, bool* has_escape) {
  ++p;  // the opening quote
  while (p < end && *p != '"') {
    if (*p == '\\') {
      *has_escape = true;
      ++p;
    }
    ++p;
  }
  return p + 1;
}

unsigned Hex4(const char* p) {
  unsigned v = 0;
  for (int i = 0; i < 4; ++i) {
    char c = p[i];
    v = v * 16 + (c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0');
  }
  return v;
}

void AddUtf8(luaL_Buffer* b, unsigned cp) {
  if (cp < 0x80) {
    luaL_addchar(b, static_cast<char>(cp));
  } else if (cp < 0x800) {
    luaL_addchar(b, static_cast<char>(0xC0 | (cp >> 6)));
    luaL_addchar(b, static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    luaL_addchar(b, static_cast<char>(0xE0 | (cp >> 12)));
    luaL_addchar(b, static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    luaL_addchar(b, static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    luaL_addchar(b, static_cast<char>(0xF0 | (cp >> 18)));
    luaL_addchar(b, static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    luaL_addchar(b, static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    luaL_addchar(b, static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const char* PushJsonString(lua_State* L, const char* p, const char* end) {
  bool escaped = false;
  const char* after = SkipString(p, end, &escaped);
  if (!escaped) {
    lua_pushlstring(L, p + 1, after - p - 2);
    return after;
  }
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (const char* q = p + 1; q < after - 1; ++q) {
    if (*q != '\\') {
      luaL_addchar(&b, *q);
      continue;
    }
    char c = *++q;
    switch (c) {
      case 'b':
        luaL_addchar(&b, '\b');
        break;
      case 'f':
        luaL_addchar(&b, '\f');
        break;
      case 'n':
        luaL_addchar(&b, '\n');
        break;
      case 'r':
        luaL_addchar(&b, '\r');
        break;
      case 't':
        luaL_addchar(&b, '\t');
        break;
      case 'u': {
        unsigned cp = Hex4(q + 1);
        q += 4;
        if (cp >= 0xD800 && cp < 0xDC00 && q + 6 < after && q[1] == '\\' && q[2] == 'u') {
          unsigned lo = Hex4(q + 3);
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          q += 6;
        }
        AddUtf8(&b, cp);
        break;
      }
      default:
        luaL_addchar(&b, c);
        break;  // \" \\ \/
    }
  }
  luaL_pushresult(&b);
  return after;
}

// Pushes the value at `p` (null: nil); returns the position after it.
// The text is valid JSON (the loader checked it), nesting ≤ 200.
const char* PushJsonValue(lua_State* L, const char* p, const char* end) {
  luaL_checkstack(L, 4, "stampede.data: JSON row nests too deep");
  switch (*p) {
    case '{': {
      lua_newtable(L);
      ++p;
      if (*p == '}') return p + 1;
      for (;;) {
        p = PushJsonString(L, p, end);
        p = PushJsonValue(L, p + 1, end);  // after ':'
        lua_rawset(L, -3);
        if (*p++ == '}') return p;  // else ','
      }
    }
    case '[': {
      lua_newtable(L);
      ++p;
      if (*p == ']') return p + 1;
      for (int i = 1;; ++i) {
        p = PushJsonValue(L, p, end);
        lua_rawseti(L, -2, i);
        if (*p++ == ']') return p;
      }
    }
    case '"':
      return PushJsonString(L, p, end);
    case 't':
      lua_pushboolean(L, 1);
      return p + 4;
    case 'f':
      lua_pushboolean(L, 0);
      return p + 5;
    case 'n':
      lua_pushnil(L);
      return p + 4;
    default: {
      double v = 0;
      auto [next, ec] = std::from_chars(p, end, v);
      lua_pushnumber(L, v);
      return next;
    }
  }
}

// ---- rows ----

// Pushes row `row` (0-based, < rows()) as a fresh table (JSON: any value).
// `keys`: the stack index of the handle's environment table, whose slots
// 1..n hold the header's names as Lua strings (0: make them here). Pushing a
// cached key skips hashing the name again for every row.
void PushRow(lua_State* L, const data::Dataset& d, size_t row, int keys = 0) {
  if (d.format() == data::Format::kJson) {
    std::string_view text = d.JsonRow(row);
    PushJsonValue(L, text.data(), text.data() + text.size());
    return;
  }
  const size_t n = d.fields();
  const auto& header = d.header();
  if (header.empty()) {
    lua_createtable(L, static_cast<int>(n), 0);
    for (size_t i = 0; i < n; ++i) {
      std::string_view f = d.Field(row, i);
      lua_pushlstring(L, f.data(), f.size());
      lua_rawseti(L, -2, static_cast<int>(i + 1));
    }
  } else {
    lua_createtable(L, 0, static_cast<int>(n));
    for (size_t i = 0; i < n; ++i) {
      std::string_view f = d.Field(row, i);
      if (keys != 0) {
        lua_rawgeti(L, keys, static_cast<int>(i + 1));
      } else {
        lua_pushlstring(L, header[i].data(), header[i].size());
      }
      lua_pushlstring(L, f.data(), f.size());
      lua_rawset(L, -3);
    }
  }
}

// The dataset `self` of a method call, or a Lua error telling how to call it.
// The methods carry the datasets' metatable as upvalue 2.
Handle& SelfOf(lua_State* L, const char* method) {
  void* p = lua_touserdata(L, 1);
  if (p != nullptr && lua_getmetatable(L, 1)) {
    bool ours = lua_rawequal(L, -1, lua_upvalueindex(2)) != 0;
    lua_pop(L, 1);
    if (ours) return *static_cast<Handle*>(p);
  }
  RaiseError(
      L, std::string(method) + ": call it on a dataset with a colon, e.g. users:" + method + "()");
}

size_t RowsOrRaise(lua_State* L, const Handle& h, const char* method) {
  size_t n = h.data->rows();
  if (n == 0) {
    RaiseError(L, std::string(method) + "(): \"" + h.data->name() +
                      "\" has no rows; add rows to the file");
  }
  return n;
}

// users:perVu(): row ((vu.id - 1) % n) + 1, the same for a VU every time:
// built on the VU's first call and kept in the handle's environment (slot
// 0: vu id → row), so later calls cost two table reads. The table is the
// VU's own: a change it makes is seen by its later calls only.
int PerVu(lua_State* L) {
  Handle& h = SelfOf(L, "perVu");
  Vu& vu = lua::RequireVu(L, "perVu()");
  size_t n = RowsOrRaise(L, h, "perVu");
  uint64_t id = vu.id();
  lua_getfenv(L, 1);
  const int env = lua_gettop(L);
  lua_rawgeti(L, env, 0);
  const int cache = lua_gettop(L);
  const int key = static_cast<int>(id);
  lua_rawgeti(L, cache, key);
  if (!lua_isnil(L, -1)) return 1;
  lua_pop(L, 1);
  PushRow(L, *h.data, id == 0 ? 0 : static_cast<size_t>((id - 1) % n), env);
  lua_pushvalue(L, -1);
  lua_rawseti(L, cache, key);
  return 1;
}

// users:unique(): the next row of the whole test (every worker shares the
// counter); past the last: an error, or row 1 again with exhausted = "wrap".
// In a distributed test (instance i of N, script/execution.h) this process
// hands out rows i, i + N, i + 2N, ...: never one another instance has.
int Unique(lua_State* L) {
  Handle& h = SelfOf(L, "unique");
  lua::RequireVu(L, "unique()");
  size_t n = RowsOrRaise(L, h, "unique");
  uint64_t k = h.data->NextUnique();
  const Execution* ex = RuntimeOf(L).options().execution.get();
  const uint64_t count = ex != nullptr ? ex->instance_count() : 1;
  const uint64_t index = ex != nullptr ? ex->instance_index() : 0;
  if (count > 1) {
    // This instance's rows: index, index + count, ... below n.
    const uint64_t mine = n > index ? (n - index - 1) / count + 1 : 0;
    if (k >= mine && !h.wrap) {
      RaiseError(L, "unique(): all " + std::to_string(mine) + " rows of \"" + h.data->name() +
                        "\" this instance may use (" + std::to_string(n) + " shared by " +
                        std::to_string(count) + " instances) are used; pass exhausted = \"wrap\" "
                        "to " + FunctionName(*h.data) + " to start over, or add rows");
    }
    if (mine == 0) RaiseError(L, "unique(): \"" + h.data->name() + "\" has no row for this instance");
    k = (k % mine) * count + index;
  } else if (k >= n) {
    if (!h.wrap) {
      RaiseError(L, "unique(): all " + std::to_string(n) + " rows of \"" + h.data->name() +
                        "\" are used (each row is handed out once per test); pass exhausted = "
                        "\"wrap\" to " +
                        FunctionName(*h.data) + " to start over, or add rows");
    }
    k %= n;
  }
  lua_getfenv(L, 1);
  PushRow(L, *h.data, static_cast<size_t>(k), lua_gettop(L));
  return 1;
}

// users:random(): a uniformly random row from the VU's generator.
int Random(lua_State* L) {
  Handle& h = SelfOf(L, "random");
  size_t n = RowsOrRaise(L, h, "random");
  std::uniform_int_distribution<uint64_t> pick(0, n - 1);
  lua_getfenv(L, 1);
  PushRow(L, *h.data, static_cast<size_t>(pick(RngOf(L))), lua_gettop(L));
  return 1;
}

// __index: upvalue 1 is the methods table.
int DatasetIndex(lua_State* L) {
  const Handle& h = *static_cast<Handle*>(lua_touserdata(L, 1));
  if (lua_type(L, 2) == LUA_TNUMBER) {
    double i = lua_tonumber(L, 2);
    if (i >= 1 && i <= static_cast<double>(h.data->rows()) && i == std::floor(i)) {
      lua_getfenv(L, 1);
      PushRow(L, *h.data, static_cast<size_t>(i) - 1, lua_gettop(L));
    } else {
      lua_pushnil(L);
    }
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(1));
  return 1;
}

int DatasetNewIndex(lua_State* L) {
  const Handle& h = *static_cast<Handle*>(lua_touserdata(L, 1));
  RaiseError(L, "\"" + h.data->name() +
                    "\" is shared read-only data; copy a row into a table of your own to change "
                    "it");
}

int DatasetLen(lua_State* L) {
  const Handle& h = *static_cast<Handle*>(lua_touserdata(L, 1));
  lua_pushnumber(L, static_cast<double>(h.data->rows()));
  return 1;
}

int DatasetToString(lua_State* L) {
  const Handle& h = *static_cast<Handle*>(lua_touserdata(L, 1));
  std::string s = std::string(FunctionName(*h.data)) + "(\"" + h.data->name() +
                  "\"): " + std::to_string(h.data->rows()) + " rows";
  lua_pushlstring(L, s.data(), s.size());
  return 1;
}

// pairs(users) (the prelude's pairs honours __pairs): i, users[i] in order.
int DatasetNext(lua_State* L) {
  const Handle& h = *static_cast<Handle*>(lua_touserdata(L, 1));
  double i = lua_tonumber(L, 2) + 1;
  if (i > static_cast<double>(h.data->rows())) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushnumber(L, i);
  PushRow(L, *h.data, static_cast<size_t>(i) - 1);
  return 2;
}

int DatasetPairs(lua_State* L) {
  lua_pushcfunction(L, DatasetNext);
  lua_pushvalue(L, 1);
  lua_pushnumber(L, 0);
  return 3;
}

int DatasetGc(lua_State* L) {
  static_cast<Handle*>(lua_touserdata(L, 1))->~Handle();
  return 0;
}

// data.csv / data.json: options are read and checked, the file loaded (or
// found in the process-wide registry), and a handle pushed.
int Load(lua_State* L, data::Format format) {
  Runtime& rt = RuntimeOf(L);
  const char* fn = format == data::Format::kCsv ? "data.csv" : "data.json";
  if (!rt.in_init()) {
    RaiseError(L, std::string(fn) +
                      "(path) is only available at init (the script's top level): load the "
                      "data there once, and read rows in the iteration");
  }
  if (lua_type(L, 1) != LUA_TSTRING) {
    RaiseError(L, std::string(fn) + "(path [, options]): path must be a string");
  }
  data::ParseOptions options;
  options.format = format;
  bool wrap = false;
  const char* known = format == data::Format::kCsv ? "header, separator, exhausted" : "exhausted";
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_istable(L, 2)) {
      RaiseError(
          L, std::string(fn) + "(path, options): options must be a table such as " +
                 (format == data::Format::kCsv ? "{ header = true }" : "{ exhausted = \"wrap\" }"));
    }
    lua_pushnil(L);
    while (lua_next(L, 2) != 0) {
      std::string_view key = lua_type(L, -2) == LUA_TSTRING ? ToView(L, -2) : "";
      const int type = lua_type(L, -1);
      if (key == "exhausted") {
        std::string_view v = type == LUA_TSTRING ? ToView(L, -1) : "";
        if (v != "error" && v != "wrap") {
          RaiseError(L, std::string(fn) + ": option exhausted must be \"error\" or \"wrap\"");
        }
        wrap = v == "wrap";
      } else if (format == data::Format::kCsv && key == "header") {
        if (type != LUA_TBOOLEAN) {
          RaiseError(L, std::string(fn) + ": option header must be true or false");
        }
        options.header = lua_toboolean(L, -1) != 0;
      } else if (format == data::Format::kCsv && key == "separator") {
        std::string_view v = type == LUA_TSTRING ? ToView(L, -1) : "";
        if (v.size() != 1 || v[0] == '"' || v[0] == '\r' || v[0] == '\n') {
          RaiseError(L, std::string(fn) +
                            ": option separator must be one character other than a quote or a "
                            "line break, such as \",\", \";\" or \"\\t\"");
        }
        options.separator = v[0];
      } else {
        std::string name = lua_type(L, -2) == LUA_TSTRING ? std::string(key) : "(not a string)";
        RaiseError(L,
                   std::string(fn) + ": unknown option \"" + name + "\" (options: " + known + ")");
      }
      lua_pop(L, 1);
    }
  }
  std::shared_ptr<const data::Dataset> ds;
  {
    std::string error;
    ds = data::LoadShared(rt.ResolveScriptPath(ToView(L, 1)), options, &error);
    if (ds == nullptr) RaiseError(L, std::string(fn) + ": " + error);
  }
  void* p = lua_newuserdata(L, sizeof(Handle));
  new (p) Handle{std::move(ds), wrap};
  luaL_getmetatable(L, kDatasetMeta);
  lua_setmetatable(L, -2);
  // Its environment: slots 1..n the header's names as Lua strings, slot 0
  // perVu()'s rows by VU id.
  const auto& header = static_cast<Handle*>(p)->data->header();
  lua_createtable(L, static_cast<int>(header.size()), 1);
  for (size_t i = 0; i < header.size(); ++i) {
    lua_pushlstring(L, header[i].data(), header[i].size());
    lua_rawseti(L, -2, static_cast<int>(i + 1));
  }
  lua_newtable(L);
  lua_rawseti(L, -2, 0);
  lua_setfenv(L, -2);
  return 1;
}

int Csv(lua_State* L) { return Load(L, data::Format::kCsv); }
int Json(lua_State* L) { return Load(L, data::Format::kJson); }

void InstallDatasetMeta(lua_State* L, Runtime& rt) {
  if (luaL_newmetatable(L, kDatasetMeta) == 0) {
    lua_pop(L, 1);
    return;
  }
  const int meta = lua_gettop(L);
  lua_createtable(L, 0, 3);  // methods: upvalues the runtime and the metatable
  for (auto [name, fn] : {std::pair<const char*, lua_CFunction>{"perVu", PerVu},
                          {"unique", Unique},
                          {"random", Random}}) {
    lua_pushlightuserdata(L, &rt);
    lua_pushvalue(L, meta);
    lua_pushcclosure(L, fn, 2);
    lua_setfield(L, -2, name);
  }
  lua_pushcclosure(L, DatasetIndex, 1);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, DatasetNewIndex);
  lua_setfield(L, -2, "__newindex");
  lua_pushcfunction(L, DatasetLen);
  lua_setfield(L, -2, "__len");
  lua_pushcfunction(L, DatasetToString);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, DatasetPairs);
  lua_setfield(L, -2, "__pairs");
  lua_pushcfunction(L, DatasetGc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
}

}  // namespace

int OpenDataModule(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  InstallDatasetMeta(L, rt);
  lua_createtable(L, 0, 2);
  lua::SetFunction(L, rt, "csv", Csv);
  lua::SetFunction(L, rt, "json", Json);
  return 1;
}

}  // namespace stampede::script
