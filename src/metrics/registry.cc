#include "metrics/registry.h"

#include <algorithm>

#include "core/error.h"

namespace stampede::metrics {
namespace {

std::string_view ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kTime:
      return "time";
    case ValueType::kData:
      return "data";
    case ValueType::kDefault:
      break;
  }
  return "default";
}

std::string_view Trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  const size_t end = s.find_last_not_of(kSpace);
  return s.substr(begin, end - begin + 1);
}

std::string_view Unquote(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '"' || s.front() == '\'') && s.back() == s.front()) {
    return s.substr(1, s.size() - 2);
  }
  return s;
}

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kRate:
      return "rate";
    case MetricType::kTrend:
      return "trend";
    case MetricType::kCounter:
      break;
  }
  return "counter";
}

bool Registry::IsValidName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto is_alpha = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  };
  if (!is_alpha(name[0])) return false;
  return std::all_of(name.begin(), name.end(),
                     [&](char c) { return is_alpha(c) || (c >= '0' && c <= '9'); });
}

MetricId Registry::Define(std::string name, MetricType type, ValueType value_type) {
  if (!IsValidName(name)) {
    throw core::ConfigError("invalid metric name \"" + name +
                            "\": use letters, digits and '_' (not starting with a digit), at most "
                            "128 characters");
  }
  if (auto it = by_name_.find(name); it != by_name_.end()) {
    const MetricDef& old = defs_[it->second];
    if (old.type != type || old.value_type != value_type) {
      throw core::ConfigError(
          "metric \"" + name + "\" is already defined as a " +
          std::string(MetricTypeName(old.type)) + " (" +
          std::string(ValueTypeName(old.value_type)) + "); it cannot be redefined as a " +
          std::string(MetricTypeName(type)) + " (" + std::string(ValueTypeName(value_type)) + ")");
    }
    return it->second;
  }
  const auto id = static_cast<MetricId>(defs_.size());
  by_name_.emplace(name, id);
  defs_.push_back(MetricDef{std::move(name), type, value_type});
  return id;
}

MetricId Registry::DefineCustom(std::string name, MetricType type, ValueType value_type) {
  if (auto it = by_name_.find(name); it != by_name_.end() && !defs_[it->second].custom) {
    throw core::ConfigError("metric \"" + name +
                            "\" is a built-in metric; give the custom metric another name");
  }
  const MetricId id = Define(std::move(name), type, value_type);
  defs_[id].custom = true;
  return id;
}

MetricId Registry::DefineInternal(std::string name, MetricType type, ValueType value_type) {
  if (auto it = by_name_.find(name); it != by_name_.end() && !defs_[it->second].internal) {
    throw core::ConfigError("metric \"" + name +
                            "\" is reserved by stampede; give the metric another name");
  }
  const MetricId id = Define(std::move(name), type, value_type);
  defs_[id].internal = true;
  return id;
}

std::optional<MetricId> Registry::Find(std::string_view name) const {
  if (auto it = by_name_.find(name); it != by_name_.end()) return it->second;
  return std::nullopt;
}

Registry Registry::WithBuiltins() {
  using MT = MetricType;
  using VT = ValueType;
  struct Builtin {
    MetricId id;
    const char* name;
    MT type;
    VT value_type;
  };
  static constexpr Builtin kBuiltins[] = {
      {builtin::kHttpReqs, "http_reqs", MT::kCounter, VT::kDefault},
      {builtin::kHttpReqDuration, "http_req_duration", MT::kTrend, VT::kTime},
      {builtin::kHttpReqBlocked, "http_req_blocked", MT::kTrend, VT::kTime},
      {builtin::kHttpReqConnecting, "http_req_connecting", MT::kTrend, VT::kTime},
      {builtin::kHttpReqTlsHandshaking, "http_req_tls_handshaking", MT::kTrend, VT::kTime},
      {builtin::kHttpReqSending, "http_req_sending", MT::kTrend, VT::kTime},
      {builtin::kHttpReqWaiting, "http_req_waiting", MT::kTrend, VT::kTime},
      {builtin::kHttpReqReceiving, "http_req_receiving", MT::kTrend, VT::kTime},
      {builtin::kHttpReqFailed, "http_req_failed", MT::kRate, VT::kDefault},
      {builtin::kDataSent, "data_sent", MT::kCounter, VT::kData},
      {builtin::kDataReceived, "data_received", MT::kCounter, VT::kData},
      {builtin::kVus, "vus", MT::kGauge, VT::kDefault},
      {builtin::kVusMax, "vus_max", MT::kGauge, VT::kDefault},
      {builtin::kIterations, "iterations", MT::kCounter, VT::kDefault},
      {builtin::kIterationDuration, "iteration_duration", MT::kTrend, VT::kTime},
      {builtin::kChecks, "checks", MT::kRate, VT::kDefault},
      {builtin::kDroppedIterations, "dropped_iterations", MT::kCounter, VT::kDefault},
      {builtin::kIterationStartLag, "iteration_start_lag", MT::kTrend, VT::kTime},
      {builtin::kGroupDuration, "group_duration", MT::kTrend, VT::kTime},
  };
  static_assert(std::size(kBuiltins) == builtin::kCount);
  Registry registry;
  for (const Builtin& b : kBuiltins) {
    const MetricId id = registry.Define(b.name, b.type, b.value_type);
    // The table is in id order; the ids are part of the public contract.
    if (id != b.id) throw core::ConfigError("internal error: built-in metric ids out of order");
  }
  return registry;
}

void DefineWsMetrics(Registry& registry) {
  registry.Define("ws_connecting", MetricType::kTrend, ValueType::kTime);
  registry.Define("ws_session_duration", MetricType::kTrend, ValueType::kTime);
  registry.Define("ws_sessions", MetricType::kCounter);
  registry.Define("ws_msgs_sent", MetricType::kCounter);
  registry.Define("ws_msgs_received", MetricType::kCounter);
  registry.Define("ws_ping", MetricType::kTrend, ValueType::kTime);
}

MetricSelector ParseMetricSelector(std::string_view text) {
  auto fail = [&](std::string_view why) -> MetricSelector {
    throw core::ConfigError("invalid metric \"" + std::string(text) + "\": " + std::string(why) +
                            "; expected a name such as http_req_duration or "
                            "http_req_duration{name:/api,status:200}");
  };
  MetricSelector selector;
  const std::string_view trimmed = Trim(text);
  const size_t brace = trimmed.find('{');
  const std::string_view name = Trim(trimmed.substr(0, brace));
  if (!Registry::IsValidName(name)) return fail("bad metric name");
  selector.metric = std::string(name);
  if (brace == std::string_view::npos) {
    if (trimmed.find('}') != std::string_view::npos) return fail("unbalanced '}'");
    return selector;
  }
  if (trimmed.back() != '}') return fail("missing closing '}'");
  const std::string_view inner = Trim(trimmed.substr(brace + 1, trimmed.size() - brace - 2));
  selector.suffix = std::string(inner);
  std::string_view rest = inner;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view part = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    const size_t colon = part.find(':');
    if (colon == std::string_view::npos) return fail("a tag without ':'");
    const std::string_view key = Trim(part.substr(0, colon));
    if (key.empty()) return fail("an empty tag key");
    // k6 refuses a tag without a value (`{env:}`); a quoted empty one is a value.
    if (Trim(part.substr(colon + 1)).empty()) return fail("the tag \"" + std::string(key) + "\" has no value");
    const std::string_view value = Unquote(Trim(part.substr(colon + 1)));
    auto it = std::find_if(selector.filter.begin(), selector.filter.end(),
                           [&](const TagPair& t) { return t.key == key; });
    if (it != selector.filter.end()) {
      it->value = std::string(value);
    } else {
      selector.filter.push_back(TagPair{std::string(key), std::string(value)});
    }
  }
  if (selector.filter.empty()) return fail("empty tag filter");
  std::sort(selector.filter.begin(), selector.filter.end(),
            [](const TagPair& a, const TagPair& b) { return a.key < b.key; });
  return selector;
}

}  // namespace stampede::metrics
