// `require("stampede.metrics")`: k6's custom metrics (k6/metrics) in Lua.
//
//   local metrics = require("stampede.metrics")
//   local waits = metrics.Trend("queue_wait", true)   -- init only
//   function default() waits:add(12.5, { queue = "a" }) end
//
// A metric object is a userdata holding the index of the Runtime's
// CustomMetric; :add() reports to ScriptHost::OnMetric with the VU's tags,
// reusing one tag vector per thread (no allocation of its own).
#include <cmath>
#include <string>

#include "script/bindings.h"
#include "script/lua_util.h"

namespace stampede::script {
namespace {

using lua::PushClosure;
using lua::RaiseError;
using lua::RuntimeOf;
using lua::ToView;

constexpr char kMetricMeta[] = "stampede.metric";

struct MetricHandle {
  uint32_t index;  // into Runtime::custom_metrics()
};

const char* KindName(MetricKind kind) {
  switch (kind) {
    case MetricKind::kGauge:
      return "gauge";
    case MetricKind::kRate:
      return "rate";
    case MetricKind::kTrend:
      return "trend";
    case MetricKind::kCounter:
      break;
  }
  return "counter";
}

const char* ConstructorName(MetricKind kind) {
  switch (kind) {
    case MetricKind::kGauge:
      return "metrics.Gauge";
    case MetricKind::kRate:
      return "metrics.Rate";
    case MetricKind::kTrend:
      return "metrics.Trend";
    case MetricKind::kCounter:
      break;
  }
  return "metrics.Counter";
}

// The metric object at `index`, or null when it is something else.
MetricHandle* ToMetric(lua_State* L, int index) {
  auto* handle = static_cast<MetricHandle*>(lua_touserdata(L, index));
  if (handle == nullptr || !lua_getmetatable(L, index)) return nullptr;
  lua_getfield(L, LUA_REGISTRYINDEX, kMetricMeta);
  const bool ours = lua_rawequal(L, -1, -2) != 0;
  lua_pop(L, 2);
  return ours ? handle : nullptr;
}

template <MetricKind kKind>
int NewMetric(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  const char* fn = ConstructorName(kKind);
  if (!rt.in_init()) {
    RaiseError(L, std::string(fn) +
                      "(name) can only be called at init (the script's top level), as in k6: "
                      "create the metric there and call :add() in default()");
  }
  if (lua_type(L, 1) != LUA_TSTRING) {
    RaiseError(L, std::string(fn) + "(name): name must be a string");
  }
  bool is_time = false;
  if constexpr (kKind == MetricKind::kTrend) {
    if (!lua_isnoneornil(L, 2)) {
      if (lua_type(L, 2) != LUA_TBOOLEAN) {
        RaiseError(L, std::string(fn) + "(name, isTime): isTime must be a boolean");
      }
      is_time = lua_toboolean(L, 2) != 0;
    }
  }
  std::string error;
  const int index = rt.DefineMetric(MetricDefinition{ToView(L, 1), kKind, is_time}, &error);
  if (index < 0) RaiseError(L, std::string(fn) + ": " + error);
  auto* handle = static_cast<MetricHandle*>(lua_newuserdata(L, sizeof(MetricHandle)));
  handle->index = static_cast<uint32_t>(index);
  lua_getfield(L, LUA_REGISTRYINDEX, kMetricMeta);
  lua_setmetatable(L, -2);
  return 1;
}

// metric:add(value [, tags])
int MetricAdd(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  const MetricHandle* handle = ToMetric(L, 1);
  if (handle == nullptr) {
    RaiseError(L,
               "metric:add(value [, tags]): call it on a metric with a colon, e.g. "
               "my_counter:add(1)");
  }
  const Runtime::CustomMetric& m = rt.custom_metrics()[handle->index];
  Vu* vu = rt.VuFor(L);
  if (vu == nullptr) {
    RaiseError(L, "metric \"" + m.name +
                      "\": add() is not supported at init (as in k6); add values in default(), "
                      "setup(), teardown() or an exec function");
  }
  double value = 0;
  const int type = lua_type(L, 2);
  if (m.kind == MetricKind::kRate) {
    if (type == LUA_TBOOLEAN) {
      value = lua_toboolean(L, 2) ? 1 : 0;
    } else if (type == LUA_TNUMBER) {
      value = lua_tonumber(L, 2) != 0 ? 1 : 0;
    } else {
      RaiseError(L, "metric \"" + m.name +
                        "\" (a rate): add(value): value must be a boolean or a number, got " +
                        lua_typename(L, type));
    }
  } else {
    if (type != LUA_TNUMBER) {
      RaiseError(L, "metric \"" + m.name + "\" (a " + KindName(m.kind) +
                        "): add(value): value must be a number, got " + lua_typename(L, type));
    }
    value = lua_tonumber(L, 2);
    if (!std::isfinite(value)) {
      RaiseError(L, "metric \"" + m.name + "\" (a " + KindName(m.kind) +
                        "): add(value): value must be a finite number");
    }
    if (m.kind == MetricKind::kTrend) {
      if (value < 0) {
        RaiseError(L, "metric \"" + m.name +
                          "\" (a trend): add(value): value must not be negative (trends record "
                          "values >= 0)");
      }
      if (m.is_time) value *= 1e6;  // milliseconds in Lua, nanoseconds recorded
    }
  }
  if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3)) {
    RaiseError(L, "metric \"" + m.name + "\": add(value, tags): tags must be a table");
  }
  ScriptHost* host = rt.host();
  if (host == nullptr) return 0;

  static thread_local std::vector<ScriptHost::Tag> tags;
  tags.clear();
  vu->AppendContextTags(tags);
  if (lua_istable(L, 3)) {
    lua_settop(L, 3);
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      const int vtype = lua_type(L, -1);
      if (lua_type(L, -2) != LUA_TSTRING || (vtype != LUA_TSTRING && vtype != LUA_TNUMBER)) {
        tags.clear();
        if (lua_type(L, -2) != LUA_TSTRING) {
          RaiseError(L, "metric \"" + m.name + "\": add(value, tags): tag names must be strings");
        }
        RaiseError(L, "metric \"" + m.name + "\": add(value, tags): tag \"" +
                          std::string(ToView(L, -2)) + "\" must be a string or a number, got " +
                          lua_typename(L, vtype));
      }
      if (vtype == LUA_TNUMBER) {
        // The number's text must outlive the loop: it stays on the stack,
        // below the key (stack: ..., text, key).
        lua_checkstack(L, 3);
        lua_pushvalue(L, -1);
        lua_tolstring(L, -1, nullptr);
        lua_replace(L, -2);  // ..., key, text
        lua_insert(L, -2);   // ..., text, key
        tags.push_back({ToView(L, -1), ToView(L, -2)});
      } else {
        tags.push_back({ToView(L, -2), ToView(L, -1)});  // strings of the tags table
        lua_pop(L, 1);
      }
    }
  }
  host->OnMetric(*vu, m.host_id, value, tags);
  return 0;
}

// metric.name, metric.type, metric:add
int MetricIndex(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  const MetricHandle* handle = ToMetric(L, 1);
  std::string_view key = lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view();
  if (handle == nullptr) return 0;
  const Runtime::CustomMetric& m = rt.custom_metrics()[handle->index];
  if (key == "add") {
    lua_pushvalue(L, lua_upvalueindex(2));
  } else if (key == "name") {
    lua_pushlstring(L, m.name.data(), m.name.size());
  } else if (key == "type") {
    lua_pushstring(L, KindName(m.kind));
  } else {
    lua_pushnil(L);
  }
  return 1;
}

int MetricToString(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  const MetricHandle* handle = ToMetric(L, 1);
  if (handle == nullptr) return 0;
  const Runtime::CustomMetric& m = rt.custom_metrics()[handle->index];
  const std::string text = std::string(KindName(m.kind)) + " metric " + m.name;
  lua_pushlstring(L, text.data(), text.size());
  return 1;
}

}  // namespace

void InstallMetricMeta(lua_State* L, Runtime& rt) {
  luaL_newmetatable(L, kMetricMeta);
  lua_pushlightuserdata(L, &rt);
  PushClosure(L, rt, MetricAdd);
  lua_pushcclosure(L, MetricIndex, 2);
  lua_setfield(L, -2, "__index");
  PushClosure(L, rt, MetricToString);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "stampede.metric");
  lua_setfield(L, -2, "__metatable");
  lua_pop(L, 1);
}

int OpenMetricsModule(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  lua_createtable(L, 0, 4);
  lua::SetFunction(L, rt, "Counter", NewMetric<MetricKind::kCounter>);
  lua::SetFunction(L, rt, "Gauge", NewMetric<MetricKind::kGauge>);
  lua::SetFunction(L, rt, "Rate", NewMetric<MetricKind::kRate>);
  lua::SetFunction(L, rt, "Trend", NewMetric<MetricKind::kTrend>);
  return 1;
}

}  // namespace stampede::script
