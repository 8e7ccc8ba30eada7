// The end-of-test summary in k6's (legacy) text layout: one line per metric
// that has samples or that thresholds name, sorted by name, a dotted leader to
// a common column, then the values; sub-metrics named by thresholds are listed
// under their parent. Like k6's, it prints nothing about thresholds beyond
// the ✓/✗ marks (k6 logs "thresholds on metrics '...' have been crossed"
// separately; see metrics::ThresholdSet::FailedMetrics).
//
//      data_received..................: 12 MB  1.2 MB/s
//    ✓ http_req_duration..............: avg=1.2ms    min=210µs   med=1.1ms ...
//    ✗   { name:/api }................: avg=3.4ms    min=1.01ms  med=2.9ms ...
//      http_req_failed................: 0.00%  ✓ 0          ✗ 12034
//      http_reqs......................: 12034  1203.4/s
//      vus............................: 10     min=10       max=10
//
// Cold path; pure function of its inputs; any thread.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "metrics/registry.h"
#include "metrics/snapshot.h"
#include "metrics/threshold.h"

namespace stampede::report {

// The outcome of the thresholds of one metric or sub-metric, as evaluated by
// the thresholds module.
struct ThresholdSummary {
  // Metric name as the thresholds option names it: "http_req_duration" or a
  // sub-metric "http_req_duration{name:/api}".
  std::string metric;
  // Each threshold expression ("p(95)<500") and whether it passed.
  std::vector<std::pair<std::string, bool>> results;
};

struct SummaryOptions {
  // Trend columns, k6's summaryTrendStats: "avg", "min", "med", "max",
  // "count", "p(N)" with 0 <= N <= 100 (e.g. "p(99.9)").
  std::vector<std::string> trend_stats = {"avg", "min", "med", "max", "p(90)", "p(95)"};
  std::vector<ThresholdSummary> thresholds;
};

// Returns `options` with `thresholds` set from the evaluated set: one
// ThresholdSummary per metric key, in the set's order, each expression with
// whether it passed (a threshold not evaluated counts as passed). Call after
// ThresholdSet::Evaluate(..., kEndOfTest). Metric keys with an empty list are
// kept: they make the metric show even without samples, as in k6.
SummaryOptions WithThresholds(SummaryOptions options, const metrics::ThresholdSet& thresholds);

// Formats the metrics part of the summary; every line ends with '\n'.
// Metrics come from the snapshot (its definitions, which include the
// registry's when it was built from shards of `registry`) and the registry.
// A metric without samples is shown (with zero values) only when thresholds
// name it or one of its sub-metrics, as k6 does. A metric line is marked ✓
// when all its thresholds passed and ✗ when one failed. Counter rates use
// snapshot.elapsed_ns(). Throws core::ConfigError on an unknown trend stat.
// Threshold names that are not valid metric selectors are ignored.
std::string FormatSummary(const metrics::Snapshot& snapshot, const metrics::Registry& registry,
                          const SummaryOptions& options);

}  // namespace stampede::report
