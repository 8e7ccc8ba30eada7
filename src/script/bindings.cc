// The Lua globals of a script (check/group/fail come from the prelude):
// sleep, random_int, uuid, open, math.random, ENV, vu, scenario, trace, and
// the internals the prelude calls; plus OpenBindings, which installs them and
// the `stampede.http` module.
#include "script/bindings.h"

#include <cstring>
#include <string>

#include "core/rng.h"
#include "script/codec_bindings.h"
#include "script/data_bindings.h"
#include "script/execution_bindings.h"
#include "script/json_bindings.h"
#include "script/lua_util.h"
#include "script/prelude.lua.h"

namespace stampede::script {
namespace {

using lua::PushClosure;
using lua::RaiseError;
using lua::RngOf;
using lua::RequireVu;
using lua::RuntimeOf;
using lua::SetFunction;
using lua::ToView;

int Sleep(lua_State* L) {
  Vu& vu = RequireVu(L, "sleep");
  if (lua_type(L, 1) != LUA_TNUMBER || lua_tonumber(L, 1) < 0) {
    RaiseError(L, "sleep(seconds): seconds must be a non-negative number");
  }
  return vu.SleepAndYield(L, lua_tonumber(L, 1));
}

int RandomInt(lua_State* L) {
  if (lua_type(L, 1) != LUA_TNUMBER || lua_type(L, 2) != LUA_TNUMBER) {
    RaiseError(L, "random_int(min, max): both bounds must be numbers");
  }
  int64_t a = static_cast<int64_t>(lua_tonumber(L, 1));
  int64_t b = static_cast<int64_t>(lua_tonumber(L, 2));
  if (a > b) RaiseError(L, "random_int(min, max): min must not exceed max");
  std::uniform_int_distribution<int64_t> d(a, b);
  lua_pushnumber(L, static_cast<double>(d(RngOf(L))));
  return 1;
}

// math.random with Lua 5.1's contract, but from the VU's own generator.
int MathRandom(lua_State* L) {
  core::Rng& rng = RngOf(L);
  int n = lua_gettop(L);
  if (n == 0) {
    lua_pushnumber(L, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    return 1;
  }
  int64_t lo = 1, hi;
  if (n == 1) {
    hi = luaL_checkinteger(L, 1);
  } else {
    lo = luaL_checkinteger(L, 1);
    hi = luaL_checkinteger(L, 2);
  }
  luaL_argcheck(L, lo <= hi, n, "interval is empty");
  lua_pushnumber(L, static_cast<double>(std::uniform_int_distribution<int64_t>(lo, hi)(rng)));
  return 1;
}

int MathRandomSeed(lua_State* L) {
  RngOf(L).seed(static_cast<uint64_t>(luaL_checknumber(L, 1)));
  return 0;
}

int Uuid(lua_State* L) {
  core::Rng& rng = RngOf(L);
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  lua_pushlstring(L, buf, 36);
  return 1;
}

int Open(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (!rt.in_init()) {
    RaiseError(L, "open(path) is only available at init (the script's top level)");
  }
  if (lua_type(L, 1) != LUA_TSTRING) RaiseError(L, "open(path): path must be a string");
  std::string error;
  std::string content = rt.ReadFileForOpen(ToView(L, 1), &error);
  if (!error.empty()) RaiseError(L, "open: " + error);
  lua_pushlstring(L, content.data(), content.size());
  return 1;
}

// __stampede.record_check(name, passed, tags)
int RecordCheck(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu* vu = rt.VuFor(L);
  if (vu == nullptr || rt.host() == nullptr) return 0;  // checks at init are not recorded
  static thread_local std::vector<ScriptHost::Tag> tags;
  tags.clear();
  std::string_view name = ToView(L, 1);
  tags.push_back({"check", name});
  vu->AppendContextTags(tags);
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        tags.push_back({ToView(L, -2), ToView(L, -1)});
      }
      lua_pop(L, 1);  // views stay valid: the strings live in the tags table
    }
  }
  rt.host()->OnCheck(*vu, name, lua_toboolean(L, 2) != 0, tags);
  return 0;
}

void PushSpan(Runtime& rt, Vu& vu, std::string name) {
  Vu::SpanFrame frame;
  frame.parent = vu.current_span_id();
  frame.id = rt.ids().NewSpanId();
  frame.start_ns = rt.loop().UpdateNow();
  frame.name = std::move(name);
  vu.span_stack().push_back(std::move(frame));
}

// Pops the innermost span and reports it, ended at `end_ns`; `error_index`:
// the Lua error message argument (nil on success).
void PopSpan(lua_State* L, Runtime& rt, Vu& vu, int error_index, int64_t end_ns) {
  if (vu.span_stack().empty()) return;
  Vu::SpanFrame frame = std::move(vu.span_stack().back());
  vu.span_stack().pop_back();
  if (ScriptHost* host = rt.host()) {
    ScriptHost::SpanEnd end;
    end.trace_id = vu.trace_id();
    end.span_id = frame.id;
    end.parent_span_id = frame.parent;
    end.name = frame.name;
    end.start_ns = frame.start_ns;
    end.end_ns = end_ns;
    if (lua_type(L, error_index) == LUA_TSTRING) end.error = ToView(L, error_index);
    host->OnSpanEnd(vu, end);
  }
}

int GroupEnter(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, "group");
  vu.groups().emplace_back(ToView(L, 1));
  vu.RebuildGroupPath();
  PushSpan(rt, vu, "group " + std::string(ToView(L, 1)));
  return 0;
}

int GroupExit(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu* vu = rt.VuFor(L);
  if (vu != nullptr && !vu->groups().empty()) {
    const int64_t now = rt.loop().UpdateNow();
    // group_duration, tagged with the group's own path (k6), before leaving it.
    if (ScriptHost* host = rt.host(); host != nullptr && !vu->span_stack().empty()) {
      static thread_local std::vector<ScriptHost::Tag> tags;
      tags.clear();
      vu->AppendContextTags(tags);
      host->OnGroupEnd(*vu, now - vu->span_stack().back().start_ns, tags);
    }
    vu->groups().pop_back();
    vu->RebuildGroupPath();
    PopSpan(L, rt, *vu, 1, now);
  }
  return 0;
}

int SpanBegin(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, "trace.span");
  PushSpan(rt, vu, std::string(ToView(L, 1)));
  return 0;
}

int SpanEnd(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (Vu* vu = rt.VuFor(L)) PopSpan(L, rt, *vu, 1, rt.loop().UpdateNow());
  return 0;
}

int SpanCurrent(lua_State* L) {
  Vu& vu = RequireVu(L, "trace.current");
  std::string trace = otel::ToHex(vu.trace_id());
  std::string span = otel::ToHex(vu.current_span_id());
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, trace.data(), trace.size());
  lua_setfield(L, -2, "trace_id");
  lua_pushlstring(L, span.data(), span.size());
  lua_setfield(L, -2, "span_id");
  lua_pushboolean(L, vu.trace_sampled());
  lua_setfield(L, -2, "sampled");
  return 1;
}

// `vu.id`, `vu.iteration`; `scenario.name`: read through the running VU.
int VuIndex(lua_State* L) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  std::string_view key = lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view();
  if (key == "id") {
    if (vu) lua_pushnumber(L, static_cast<double>(vu->id())); else lua_pushnumber(L, 0);
  } else if (key == "iteration") {
    if (vu) lua_pushnumber(L, static_cast<double>(vu->iteration() - 1)); else lua_pushnumber(L, -1);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

int ScenarioIndex(lua_State* L) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  std::string_view key = lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view();
  if (key == "name" && vu != nullptr) {
    lua_pushlstring(L, vu->scenario().data(), vu->scenario().size());
  } else {
    lua_pushnil(L);
  }
  return 1;
}

int EnvIndex(lua_State* L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    if (Vu* vu = RuntimeOf(L).VuFor(L); vu != nullptr && vu->scenario_env() != nullptr) {
      std::string_view key = ToView(L, 2);
      for (const auto& [k, v] : *vu->scenario_env()) {
        if (k == key) {
          lua_pushlstring(L, v.data(), v.size());
          return 1;
        }
      }
    }
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(2));
  return 1;
}

// __pairs of ENV (honoured by the prelude's pairs): a fresh table of the
// process environment plus -e, overlaid with the running VU's scenario env.
// Cold path: a copy per call.
int EnvPairs(lua_State* L) {
  lua_newtable(L);
  const int merged = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, lua_upvalueindex(2)) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, merged);
  }
  if (Vu* vu = RuntimeOf(L).VuFor(L); vu != nullptr && vu->scenario_env() != nullptr) {
    for (const auto& [k, v] : *vu->scenario_env()) {
      lua_pushlstring(L, k.data(), k.size());
      lua_pushlstring(L, v.data(), v.size());
      lua_rawset(L, merged);
    }
  }
  lua_getglobal(L, "next");
  lua_pushvalue(L, merged);
  lua_pushnil(L);
  return 3;
}

}  // namespace

void OpenBindings(lua_State* L, Runtime& rt) {
  // require("stampede.http")
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  PushClosure(L, rt, OpenHttpModule);
  lua_setfield(L, -2, "stampede.http");
  PushClosure(L, rt, OpenMetricsModule);
  lua_setfield(L, -2, "stampede.metrics");
  PushClosure(L, rt, OpenDataModule);
  lua_setfield(L, -2, "stampede.data");
  PushClosure(L, rt, OpenExecutionModule);
  lua_setfield(L, -2, "stampede.execution");
  PushClosure(L, rt, OpenWsModule);
  lua_setfield(L, -2, "stampede.ws");
  lua_pushcfunction(L, OpenEncodingModule);
  lua_setfield(L, -2, "stampede.encoding");
  lua_pushcfunction(L, OpenCryptoModule);
  lua_setfield(L, -2, "stampede.crypto");
  lua_pushcfunction(L, OpenJsonModule);
  lua_setfield(L, -2, "stampede.json");
  lua_pop(L, 2);

  InstallResponseMeta(L, rt);
  InstallMetricMeta(L, rt);

  lua_pushvalue(L, LUA_GLOBALSINDEX);
  SetFunction(L, rt, "sleep", Sleep);
  SetFunction(L, rt, "random_int", RandomInt);
  SetFunction(L, rt, "uuid", Uuid);
  SetFunction(L, rt, "open", Open);
  lua_pop(L, 1);

  lua_getglobal(L, "math");
  SetFunction(L, rt, "random", MathRandom);
  SetFunction(L, rt, "randomseed", MathRandomSeed);
  lua_pop(L, 1);

  // Internals for the prelude.
  lua_newtable(L);
  SetFunction(L, rt, "record_check", RecordCheck);
  SetFunction(L, rt, "group_enter", GroupEnter);
  SetFunction(L, rt, "group_exit", GroupExit);
  SetFunction(L, rt, "span_begin", SpanBegin);
  SetFunction(L, rt, "span_end", SpanEnd);
  SetFunction(L, rt, "span_current", SpanCurrent);
  luaL_getmetatable(L, kResponseMeta);
  lua_setfield(L, -2, "response_meta");
  lua_setglobal(L, "__stampede");

  // ENV: an empty proxy whose __index reads the running VU's scenario `env`
  // first, then the process environment plus -e (kept as an upvalue table);
  // its __pairs lists both.
  lua_newtable(L);
  lua_newtable(L);
  lua_pushlightuserdata(L, &rt);
  lua_newtable(L);
  for (const auto& [k, v] : rt.options().env) {
    lua_pushlstring(L, v.data(), v.size());
    lua_setfield(L, -2, k.c_str());
  }
  lua_pushvalue(L, -2);  // the light userdata, then the table, again for __pairs
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, EnvPairs, 2);
  lua_setfield(L, -4, "__pairs");  // stack: proxy, mt, lud, table, closure
  lua_pushcclosure(L, EnvIndex, 2);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "ENV");

  // vu, scenario: tables whose fields read the running VU.
  lua_newtable(L);
  lua_newtable(L);
  PushClosure(L, rt, VuIndex);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "vu");
  lua_newtable(L);
  lua_newtable(L);
  PushClosure(L, rt, ScenarioIndex);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "scenario");

  if (luaL_loadbuffer(L, kPrelude, std::strlen(kPrelude), "=stampede-prelude") != 0 ||
      lua_pcall(L, 0, 0, 0) != 0) {
    throw ScriptError(std::string("internal error in the Lua prelude: ") + lua_tostring(L, -1));
  }
  lua_getglobal(L, "__stampede");
  lua_getfield(L, -1, "make_response");
  rt.set_response_ctor_ref(luaL_ref(L, LUA_REGISTRYINDEX));
  lua_pop(L, 1);
}

// ---- completion: metrics, cookies, redirects, response objects ----


}  // namespace stampede::script
