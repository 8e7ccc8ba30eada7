// Per-interval values from cumulative snapshots: what one series (or a
// rollup of several) gained between two cumulative metrics::Snapshots of the
// same run — counters' and rates' differences, gauges' current value, and
// trends' exact histogram difference (ExpHistogram::Difference), so that
// per-second percentiles come from the second's own samples, not from an
// approximation. Shared by the run store (one row per second) and the live
// dashboard (one tick per second); neither computes deltas on its own.
//
// Pure functions and plain values; cold path (allocates). Thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "metrics/exp_histogram.h"
#include "metrics/registry.h"
#include "metrics/snapshot.h"

namespace stampede::metrics {

// The change of one series (or a rollup of several) during one interval.
struct SeriesDelta {
  MetricType type = MetricType::kCounter;
  uint64_t samples = 0;
  double count = 0;  // kCounter: the sum of the values added
  double value = 0;  // kGauge: the current value (a rollup: the largest)
  bool has_value = false;
  uint64_t passes = 0, fails = 0;    // kRate
  std::optional<ExpHistogram> hist;  // kTrend: the interval's samples

  // Adds `o` (same type) into this delta: a rollup of several series.
  void Merge(const SeriesDelta& o);
};

// What `cur` gained since `prev`, the same series in an earlier cumulative
// snapshot (nullptr: the series is new, everything counts). A series whose
// sample count went down was not cumulative: it starts over (all of `cur`).
// `not_cumulative` (optional) is set when a trend's histogram is not a
// successor of prev's; the delta is then all of `cur`'s histogram.
SeriesDelta DeltaOf(MetricType type, const SeriesValue& cur, const SeriesValue* prev,
                    bool* not_cumulative = nullptr);

// A key naming a series by content ("metric" + sorted tags), stable across
// snapshots (tag set ids are not).
std::string SeriesKey(std::string_view metric, std::span<const TagPair> tags);

// The series of `s` by SeriesKey; the pointers point into `s`, which must
// outlive the index.
using SeriesIndex = std::unordered_map<std::string, const SeriesValue*>;
SeriesIndex IndexSeries(const Snapshot& s);

}  // namespace stampede::metrics
