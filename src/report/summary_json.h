// The end-of-test summary as JSON in the shape of k6's `--summary-export`
// (the legacy export format):
//
//   {"metrics": {
//     "http_reqs":         {"count": 12034, "rate": 1203.4},
//     "data_received":     {"count": 12000000, "rate": 1200000},       // bytes
//     "http_req_duration": {"avg": 1.2, "min": 0.21, "med": 1.1, "max": 45,
//                           "p(90)": 2.1, "p(95)": 2.8,               // milliseconds
//                           "thresholds": {"p(95)<500": false}},
//     "http_req_duration{name:/api}": {...},                            // sub-metric
//     "http_req_failed":   {"passes": 0, "fails": 12034, "value": 0, "rate": 0},
//     "vus":               {"value": 10, "min": 10, "max": 10}}}
//
// Time values are milliseconds (doubles), data values bytes. Trend keys are
// SummaryOptions::trend_stats. A "thresholds" object maps each expression to
// true when the threshold FAILED and false when it passed: k6's legacy export
// uses this inverted sense and keeps it for compatibility (grafana/k6 issue
// #1498, grafana/k6-docs issue #30; grafana/k6 js/summary-wrapper.js
// oldJSONSummary sets `thresholds[name] = !threshold.ok`). Metrics without
// samples are left out, unless thresholds name them or one of their
// sub-metrics (then they appear with zero values, as in k6).
// Known difference: for rate metrics k6's legacy export has "value" but no
// "rate" key; this export keeps both (the e2e tests and bench read "rate").
//
// Cold path; pure function of its inputs; any thread.
#pragma once

#include <nlohmann/json.hpp>

#include "metrics/registry.h"
#include "metrics/snapshot.h"
#include "report/summary.h"

namespace stampede::report {

// Throws core::ConfigError on an unknown trend stat.
nlohmann::json SummaryJson(const metrics::Snapshot& snapshot, const metrics::Registry& registry,
                           const SummaryOptions& options);

}  // namespace stampede::report
