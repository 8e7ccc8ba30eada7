// `require("stampede.execution")`: k6's k6/execution in Lua. Every field is
// read when the script reads it (proxy tables with __index), from the
// running VU and the run's Execution (script/execution.h):
//
//   execution.vu.idInInstance / idInTest / iterationInInstance /
//                iterationInScenario / tags / metrics.tags
//   execution.scenario.name / executor / startTime / progress /
//                      iterationInInstance / iterationInTest
//   execution.instance.iterationsCompleted / iterationsInterrupted /
//                      vusActive / vusInitialized / currentTestRunDuration
//   execution.test.abort([reason]) / options
//
// As in k6, vu.* and scenario.* raise at init ("not available in the init
// context"), scenario.* also in setup() and teardown(); instance.* and test.*
// work everywhere. Cold path except the reads a script makes per iteration,
// which allocate nothing on the C++ heap.
#include <cmath>
#include <string>

#include "script/bindings.h"
#include "script/execution_bindings.h"
#include "script/lua_json.h"
#include "script/lua_util.h"

namespace stampede::script {
namespace {

using lua::PushClosure;
using lua::RaiseError;
using lua::RuntimeOf;
using lua::ToView;

std::string_view KeyOf(lua_State* L, int idx) {
  return lua_type(L, idx) == LUA_TSTRING ? ToView(L, idx) : std::string_view();
}

Vu& VuOrRaise(lua_State* L, const char* what) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  if (vu == nullptr) {
    RaiseError(L, std::string("execution.") + what +
                      " is not available in the init context (read it in default(), an exec "
                      "function, setup() or teardown())");
  }
  return *vu;
}

// The calling VU's scenario index, or a Lua error outside a scenario.
int ScenarioOrRaise(lua_State* L, Vu& vu) {
  const auto& ex = RuntimeOf(L).options().execution;
  if (!ex || vu.scenario_index() < 0) {
    RaiseError(L,
               "execution.scenario is only available in a scenario's iterations (not at init, in "
               "setup() or in teardown())");
  }
  return vu.scenario_index();
}

uint32_t InstanceIndex(const Runtime& rt) {
  return rt.options().execution ? rt.options().execution->instance_index() : 0;
}
uint32_t InstanceCount(const Runtime& rt) {
  return rt.options().execution ? rt.options().execution->instance_count() : 1;
}

int ReadOnly(lua_State* L) {
  RaiseError(L, "execution." + std::string(KeyOf(L, lua_upvalueindex(2))) +
                    " is read-only (only execution.vu.tags can be set)");
}

// ---- execution.vu.tags (and vu.metrics.tags) ----

// Tags stampede sets itself: the script cannot override them per VU.
bool Reserved(std::string_view key) {
  static constexpr std::string_view kReserved[] = {
      "scenario", "group", "name", "method", "status", "url", "error_code", "check",
      "expected_response", "proto", "tls_version"};
  for (std::string_view r : kReserved) {
    if (key == r) return true;
  }
  return false;
}

int TagsIndex(lua_State* L) {
  Vu& vu = VuOrRaise(L, "vu.tags");
  std::string_view key = KeyOf(L, 2);
  for (const auto& [k, v] : vu.tags()) {
    if (k == key) {
      lua_pushlstring(L, v.data(), v.size());
      return 1;
    }
  }
  for (const auto& [k, v] : vu.scenario_tags()) {
    if (k == key) {
      lua_pushlstring(L, v.data(), v.size());
      return 1;
    }
  }
  if (key == "scenario" && vu.scenario_index() >= 0) {
    lua_pushlstring(L, vu.scenario().data(), vu.scenario().size());
    return 1;
  }
  if (key == "group") {
    lua_pushlstring(L, vu.group_path().data(), vu.group_path().size());
    return 1;
  }
  lua_pushnil(L);
  return 1;
}

int TagsNewIndex(lua_State* L) {
  Vu& vu = VuOrRaise(L, "vu.tags");
  if (lua_type(L, 2) != LUA_TSTRING || lua_objlen(L, 2) == 0) {
    RaiseError(L, "execution.vu.tags: a tag name must be a non-empty string");
  }
  std::string_view key = ToView(L, 2);
  if (Reserved(key)) {
    RaiseError(L, "execution.vu.tags: \"" + std::string(key) +
                      "\" is a tag stampede sets itself; choose another name");
  }
  std::string value;
  switch (lua_type(L, 3)) {
    case LUA_TNIL:
      vu.SetTag(key, nullptr);
      return 0;
    case LUA_TSTRING:
    case LUA_TNUMBER:
      value.assign(ToView(L, 3));  // numbers: Lua's tostring form
      break;
    case LUA_TBOOLEAN:
      value = lua_toboolean(L, 3) ? "true" : "false";
      break;
    default:
      RaiseError(L, "execution.vu.tags." + std::string(key) +
                        ": a tag value must be a string, number or boolean (nil removes it), got " +
                        lua_typename(L, lua_type(L, 3)));
  }
  if (!vu.SetTag(key, &value)) {
    value.clear();
    RaiseError(L, "execution.vu.tags: at most " + std::to_string(Vu::kMaxVuTags) +
                      " tags per VU (each distinct value is a new metric series: keep them few)");
  }
  return 0;
}

// pairs(execution.vu.tags): the VU's whole tag set, in a fresh table.
int TagsPairs(lua_State* L) {
  Vu& vu = VuOrRaise(L, "vu.tags");
  lua_newtable(L);
  if (vu.scenario_index() >= 0) {
    lua_pushlstring(L, vu.scenario().data(), vu.scenario().size());
    lua_setfield(L, -2, "scenario");
  }
  if (!vu.group_path().empty()) {
    lua_pushlstring(L, vu.group_path().data(), vu.group_path().size());
    lua_setfield(L, -2, "group");
  }
  for (const auto* pairs : {&vu.scenario_tags(), &vu.tags()}) {
    for (const auto& [k, v] : *pairs) {
      lua_pushlstring(L, k.data(), k.size());
      lua_pushlstring(L, v.data(), v.size());
      lua_rawset(L, -3);
    }
  }
  lua_getglobal(L, "next");
  lua_insert(L, -2);
  lua_pushnil(L);
  return 3;
}

// ---- execution.vu ----
int VuIndex(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  std::string_view key = KeyOf(L, 2);
  if (key == "tags") {
    lua_pushvalue(L, lua_upvalueindex(2));
    return 1;
  }
  if (key == "metrics") {
    lua_pushvalue(L, lua_upvalueindex(3));
    return 1;
  }
  Vu& vu = VuOrRaise(L, "vu");
  const double id = static_cast<double>(vu.id());
  const double iteration = static_cast<double>(vu.iteration()) - 1;
  if (key == "idInInstance") {
    lua_pushnumber(L, id);
  } else if (key == "idInTest") {
    // Instances interleave: instance i of n owns ids i+1, i+1+n, ...
    lua_pushnumber(L, vu.id() == 0 ? 0
                                   : static_cast<double>((vu.id() - 1) * InstanceCount(rt) +
                                                         InstanceIndex(rt) + 1));
  } else if (key == "iterationInInstance" || key == "iterationInScenario") {
    lua_pushnumber(L, iteration);  // a VU belongs to one scenario
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// ---- execution.scenario ----
int ScenarioIndexFn(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  std::string_view key = KeyOf(L, 2);
  Vu& vu = VuOrRaise(L, "scenario");
  int sc = ScenarioOrRaise(L, vu);
  const Execution& ex = *rt.options().execution;
  const Execution::ScenarioInfo& info = ex.scenario(sc);
  if (key == "name") {
    lua_pushlstring(L, info.name.data(), info.name.size());
  } else if (key == "executor") {
    lua_pushlstring(L, info.executor.data(), info.executor.size());
  } else if (key == "startTime") {  // unix milliseconds
    lua_pushnumber(L, std::floor(static_cast<double>(ex.start_unix_ns() + info.start_offset_ns) / 1e6));
  } else if (key == "progress") {
    lua_pushnumber(L, ex.Progress(sc, rt.loop().UpdateNow()));
  } else if (key == "iterationInInstance") {
    lua_pushnumber(L, static_cast<double>(vu.ScenarioIteration()));
  } else if (key == "iterationInTest") {
    lua_pushnumber(L, static_cast<double>(vu.ScenarioIteration() * ex.instance_count() +
                                          ex.instance_index()));
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// ---- execution.instance ----
int InstanceIndexFn(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  std::string_view key = KeyOf(L, 2);
  const auto& ex = rt.options().execution;
  Execution::InstanceCounts c = ex ? ex->Counts() : Execution::InstanceCounts{};
  if (key == "iterationsCompleted") {
    lua_pushnumber(L, static_cast<double>(c.iterations_completed));
  } else if (key == "iterationsInterrupted") {
    lua_pushnumber(L, static_cast<double>(c.iterations_interrupted));
  } else if (key == "vusActive") {
    lua_pushnumber(L, static_cast<double>(c.vus_active));
  } else if (key == "vusInitialized") {
    lua_pushnumber(L, static_cast<double>(c.vus_initialized));
  } else if (key == "currentTestRunDuration") {  // milliseconds, 0 before the start
    double ms = 0;
    if (ex && ex->started()) ms = static_cast<double>(rt.loop().UpdateNow() - ex->start_ns()) / 1e6;
    lua_pushnumber(L, ms < 0 ? 0 : ms);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// ---- execution.test ----
int Abort(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  std::string reason = "test aborted by the script";
  if (!lua_isnoneornil(L, 1)) {
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, 1);
    lua_call(L, 1, 1);
    if (lua_type(L, -1) == LUA_TSTRING) reason.assign(ToView(L, -1));
    lua_pop(L, 1);
  }
  if (const auto& ex = rt.options().execution) ex->RequestAbort(reason);
  RaiseError(L, "execution.test.abort: " + reason);
}

int TestIndex(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  std::string_view key = KeyOf(L, 2);
  if (key == "abort") {
    lua_pushvalue(L, lua_upvalueindex(2));
  } else if (key == "options") {
    const auto& ex = rt.options().execution;
    PushJson(L, ex ? ex->options() : nlohmann::json::object());
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// A proxy table: empty, with __index `index` (upvalues: the runtime, then
// `extra` values taken from the stack top) and a read-only __newindex.
void PushProxy(lua_State* L, Runtime& rt, lua_CFunction index, int extra, const char* name) {
  lua_newtable(L);                  // the proxy (below the extras)
  lua_insert(L, -1 - extra);
  lua_createtable(L, 0, 3);         // its metatable
  lua_insert(L, -1 - extra);
  lua_pushlightuserdata(L, &rt);
  lua_insert(L, -1 - extra);
  lua_pushcclosure(L, index, 1 + extra);
  lua_setfield(L, -2, "__index");
  lua_pushlightuserdata(L, &rt);
  lua_pushstring(L, name);
  lua_pushcclosure(L, ReadOnly, 2);
  lua_setfield(L, -2, "__newindex");
  lua_pushstring(L, "stampede.execution");
  lua_setfield(L, -2, "__metatable");
  lua_setmetatable(L, -2);
}

}  // namespace

int OpenExecutionModule(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  lua_createtable(L, 0, 4);

  // vu.tags: reads and writes the running VU's tags.
  lua_newtable(L);
  lua_createtable(L, 0, 4);
  PushClosure(L, rt, TagsIndex);
  lua_setfield(L, -2, "__index");
  PushClosure(L, rt, TagsNewIndex);
  lua_setfield(L, -2, "__newindex");
  PushClosure(L, rt, TagsPairs);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, -2);
  const int tags = lua_gettop(L);
  // vu.metrics: { tags = <the same proxy> } (k6's alias).
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, tags);
  lua_setfield(L, -2, "tags");
  // vu: upvalues tags, metrics.
  lua_pushvalue(L, tags);
  lua_insert(L, -2);
  PushProxy(L, rt, VuIndex, 2, "vu");
  lua_setfield(L, -3, "vu");
  lua_pop(L, 1);  // tags

  PushProxy(L, rt, ScenarioIndexFn, 0, "scenario");
  lua_setfield(L, -2, "scenario");
  PushProxy(L, rt, InstanceIndexFn, 0, "instance");
  lua_setfield(L, -2, "instance");
  PushClosure(L, rt, Abort);
  PushProxy(L, rt, TestIndex, 1, "test");
  lua_setfield(L, -2, "test");
  return 1;
}

}  // namespace stampede::script
