// The script's custom metrics (require("stampede.metrics")) in the metrics
// Registry. The main thread's probe init defines them (DefineCustomMetricsIn)
// before the registry turns read-only and thresholds are validated; each
// worker's init then resolves the same names to the same ids
// (ResolveCustomMetricsIn). Cold path: called at init only.
#pragma once

#include <fmt/format.h>

#include <optional>
#include <string>

#include "core/error.h"
#include "metrics/registry.h"
#include "script/runtime.h"

namespace stampede::engine {

inline metrics::MetricType MetricTypeOf(script::MetricKind kind) {
  switch (kind) {
    case script::MetricKind::kGauge:
      return metrics::MetricType::kGauge;
    case script::MetricKind::kRate:
      return metrics::MetricType::kRate;
    case script::MetricKind::kTrend:
      return metrics::MetricType::kTrend;
    case script::MetricKind::kCounter:
      break;
  }
  return metrics::MetricType::kCounter;
}

inline metrics::ValueType ValueTypeOf(const script::MetricDefinition& def) {
  return def.is_time ? metrics::ValueType::kTime : metrics::ValueType::kDefault;
}

// Defines each metric the script creates in `registry` (which must outlive
// the returned function and gain no other metrics meanwhile). Errors (an
// invalid name, a built-in's name, another type) come back as the message of
// Registry::DefineCustom.
inline script::MetricDefiner DefineCustomMetricsIn(metrics::Registry& registry) {
  return [&registry](const script::MetricDefinition& def, std::string* error) -> uint32_t {
    try {
      return registry.DefineCustom(std::string(def.name), MetricTypeOf(def.kind), ValueTypeOf(def));
    } catch (const core::ConfigError& e) {
      *error = e.what();
      return 0;
    }
  };
}

// Resolves each metric the script creates to the custom metric of the same
// name, type and value type already in the read-only `registry`; anything
// else means init is not deterministic, and is an error.
inline script::MetricDefiner ResolveCustomMetricsIn(const metrics::Registry& registry) {
  return [&registry](const script::MetricDefinition& def, std::string* error) -> uint32_t {
    const std::optional<metrics::MetricId> id = registry.Find(def.name);
    if (id && registry.def(*id).custom && registry.def(*id).type == MetricTypeOf(def.kind) &&
        registry.def(*id).value_type == ValueTypeOf(def)) {
      return *id;
    }
    *error = fmt::format(
        "metric \"{}\" was not created by the script's first init: init runs once per worker "
        "and must create the same metrics every time (create them unconditionally at the top "
        "level)",
        def.name);
    return 0;
  };
}

}  // namespace stampede::engine
