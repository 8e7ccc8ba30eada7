// Internal to report/: what the text and JSON summaries show, computed once.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "metrics/registry.h"
#include "metrics/snapshot.h"
#include "report/summary.h"

namespace stampede::report::internal {

struct SummaryEntry {
  std::string key;      // "http_req_duration" or, verbatim, "http_req_duration{name:/api}"
  std::string display;  // "http_req_duration" or "{ name:/api }"
  bool sub_metric = false;
  metrics::MetricDef def;
  metrics::SeriesValue value;
  std::vector<std::pair<std::string, bool>> thresholds;  // expression, passed
};

// Metrics sorted by name, each followed by its sub-metrics (those named by
// thresholds) sorted by display text. Metrics without samples are left out
// unless thresholds name them or one of their sub-metrics: k6 marks those
// "observed" so that they show in the summary with zero values
// (grafana/k6 metrics/engine/engine.go, InitSubMetricsAndThresholds).
std::vector<SummaryEntry> CollectEntries(const metrics::Snapshot& snapshot,
                                         const metrics::Registry& registry,
                                         const SummaryOptions& options);

// A parsed trend stat: "avg", "min", "med", "max", "count" or a percentile.
struct TrendStat {
  std::string name;
  enum Kind { kAvg, kMin, kMed, kMax, kCount, kPercentile } kind = kAvg;
  double quantile = 0;  // kPercentile: in [0, 1]
};
// Throws core::ConfigError on an unknown stat.
std::vector<TrendStat> ParseTrendStats(const std::vector<std::string>& stats);
// The stat's value in the histogram's unit (count as a number).
double TrendStatValue(const TrendStat& stat, const metrics::ExpHistogram& h);

}  // namespace stampede::report::internal
