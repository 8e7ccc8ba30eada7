// Metric definitions (k6 names, types and value types) and tags.
//
// A Registry is built on one thread before the workers start (Define,
// WithBuiltins) and is read-only afterwards: a const Registry& may then be
// shared by all threads without synchronisation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stampede::metrics {

// k6's four metric types.
enum class MetricType { kCounter, kGauge, kRate, kTrend };
// What the values mean: kTime values are nanoseconds, kData values are bytes.
enum class ValueType { kDefault, kTime, kData };

// Dense ids, assigned in definition order from 0.
using MetricId = uint32_t;
// Ids of interned tag sets; only meaningful within the Shard (or Snapshot)
// that returned them.
using TagSetId = uint32_t;

// A borrowed tag (k6 tags: name, method, status, error_code, url, scenario,
// group, check, and user tags). The strings must outlive the call they are
// passed to; the callee copies what it keeps.
struct Tag {
  std::string_view key;
  std::string_view value;
};

// An owned tag. Tag sets are kept as vectors of TagPair sorted by key, keys
// unique.
struct TagPair {
  std::string key;
  std::string value;
  friend bool operator==(const TagPair&, const TagPair&) = default;
};

struct MetricDef {
  std::string name;
  MetricType type = MetricType::kCounter;
  ValueType value_type = ValueType::kDefault;
  bool custom = false;  // created by the script (DefineCustom), not built in
  // Recorded by the engine for an output (e.g. the OTel semantic-convention
  // metrics), not a k6 metric: left out of the summary, the JSON export,
  // thresholds' metric list and the k6 export family.
  bool internal = false;
};

// Lower-case names as used by k6 ("counter", "gauge", "rate", "trend").
std::string_view MetricTypeName(MetricType type);

class Registry {
 public:
  Registry() = default;

  // A registry with k6's built-in metrics at the ids in `builtin` below.
  static Registry WithBuiltins();

  // Defines a metric, or returns the id of an existing one with the same name
  // and type. Throws core::ConfigError when `name` is not a valid k6 metric
  // name ([A-Za-z_][A-Za-z0-9_]*, at most 128 characters) or when it is
  // already defined with a different type or value type. Setup thread only.
  MetricId Define(std::string name, MetricType type, ValueType value_type = ValueType::kDefault);

  // Defines a custom metric of the script (k6/metrics), or returns the id of
  // the custom metric already defined with that name, type and value type.
  // Throws core::ConfigError for an invalid name, a name taken by a metric
  // that is not custom (a built-in, or one the engine defines), or a custom
  // metric of another type. Setup thread only.
  MetricId DefineCustom(std::string name, MetricType type, ValueType value_type);

  // Defines an internal metric (MetricDef::internal; see above), or returns
  // the id of the internal metric already defined with that name and types.
  // Throws core::ConfigError when the name is taken by another metric.
  // Setup thread only.
  MetricId DefineInternal(std::string name, MetricType type, ValueType value_type);

  std::optional<MetricId> Find(std::string_view name) const;
  // Precondition: id < size().
  const MetricDef& def(MetricId id) const { return defs_[id]; }
  const std::vector<MetricDef>& defs() const { return defs_; }
  size_t size() const { return defs_.size(); }

  static bool IsValidName(std::string_view name);

 private:
  std::vector<MetricDef> defs_;
  std::map<std::string, MetricId, std::less<>> by_name_;
};

// Fixed ids of the metrics that Registry::WithBuiltins() defines.
namespace builtin {
inline constexpr MetricId kHttpReqs = 0;               // counter
inline constexpr MetricId kHttpReqDuration = 1;        // trend, time
inline constexpr MetricId kHttpReqBlocked = 2;         // trend, time
inline constexpr MetricId kHttpReqConnecting = 3;      // trend, time
inline constexpr MetricId kHttpReqTlsHandshaking = 4;  // trend, time
inline constexpr MetricId kHttpReqSending = 5;         // trend, time
inline constexpr MetricId kHttpReqWaiting = 6;         // trend, time
inline constexpr MetricId kHttpReqReceiving = 7;       // trend, time
inline constexpr MetricId kHttpReqFailed = 8;          // rate
inline constexpr MetricId kDataSent = 9;               // counter, data
inline constexpr MetricId kDataReceived = 10;          // counter, data
inline constexpr MetricId kVus = 11;                   // gauge
inline constexpr MetricId kVusMax = 12;                // gauge
inline constexpr MetricId kIterations = 13;            // counter
inline constexpr MetricId kIterationDuration = 14;     // trend, time
inline constexpr MetricId kChecks = 15;                // rate
inline constexpr MetricId kDroppedIterations = 16;     // counter
inline constexpr MetricId kIterationStartLag = 17;     // trend, time
inline constexpr MetricId kGroupDuration = 18;         // trend, time
inline constexpr MetricId kCount = 19;                 // number of built-ins
}  // namespace builtin

// Defines k6's WebSocket metrics (k6/ws: ws_connecting, ws_session_duration,
// ws_sessions, ws_msgs_sent, ws_msgs_received, ws_ping), found by name
// (they come after the fixed ids, so custom metrics keep theirs in tests
// that build WithBuiltins() alone). Setup thread only.
void DefineWsMetrics(Registry& registry);

// A metric reference as thresholds name it: `http_req_duration` or a k6
// sub-metric `http_req_duration{name:/api,status:200}`.
struct MetricSelector {
  std::string metric;           // the parent metric name
  std::vector<TagPair> filter;  // sorted by key; empty for a plain metric
  std::string suffix;           // the text inside the braces, trimmed; "" if none
};

// Parses a selector. Whitespace around keys and values is ignored, and a
// value may be quoted with '...' or "..."; a value may contain ':'. Throws
// core::ConfigError on a malformed selector (unbalanced braces, a tag without
// ':', an empty key, an invalid metric name).
MetricSelector ParseMetricSelector(std::string_view text);

}  // namespace stampede::metrics
