#include "report/summary_json.h"

#include "report/summary_model.h"

namespace stampede::report {
namespace {

using metrics::MetricType;
using metrics::ValueType;

// k6 exports time values in milliseconds.
double Export(double value, ValueType type) {
  return type == ValueType::kTime ? value / 1e6 : value;
}

}  // namespace

nlohmann::json SummaryJson(const metrics::Snapshot& snapshot, const metrics::Registry& registry,
                           const SummaryOptions& options) {
  const std::vector<internal::TrendStat> stats = internal::ParseTrendStats(options.trend_stats);
  nlohmann::json metrics_json = nlohmann::json::object();
  for (const internal::SummaryEntry& e :
       internal::CollectEntries(snapshot, registry, options)) {
    const metrics::SeriesValue& v = e.value;
    const ValueType vt = e.def.value_type;
    nlohmann::json m = nlohmann::json::object();
    switch (e.def.type) {
      case MetricType::kCounter:
        m["count"] = Export(v.count, vt);
        m["rate"] = v.PerSecond(snapshot.elapsed_ns());
        break;
      case MetricType::kGauge:
        m["value"] = Export(v.value, vt);
        m["min"] = Export(v.min, vt);
        m["max"] = Export(v.max, vt);
        break;
      case MetricType::kRate:
        m["passes"] = v.passes;
        m["fails"] = v.fails;
        m["value"] = v.rate();  // k6's legacy key
        m["rate"] = v.rate();
        break;
      case MetricType::kTrend: {
        const metrics::ExpHistogram empty;
        const metrics::ExpHistogram& h = v.trend ? *v.trend : empty;
        for (const internal::TrendStat& stat : stats) {
          if (stat.kind == internal::TrendStat::kCount) {
            m[stat.name] = h.count();
          } else {
            m[stat.name] = Export(internal::TrendStatValue(stat, h), vt);
          }
        }
        break;
      }
    }
    if (!e.thresholds.empty()) {
      nlohmann::json t = nlohmann::json::object();
      // Inverted on purpose: true means the threshold failed (k6 legacy export).
      for (const auto& [expression, passed] : e.thresholds) t[expression] = !passed;
      m["thresholds"] = std::move(t);
    }
    metrics_json[e.key] = std::move(m);
  }
  return nlohmann::json{{"metrics", std::move(metrics_json)}};
}

}  // namespace stampede::report
