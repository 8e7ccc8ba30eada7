// The live dashboard's data model: pure functions from the one result model
// (cumulative metrics::Snapshots) to the JSON "tick" the page draws, one per
// second. Nothing here aggregates on its own: per-second values are the
// difference of two cumulative snapshots (metrics/series_delta.h; trends by
// exact histogram difference, so a second's percentiles are its own), the
// per-name table is the cumulative snapshot's.
//
// A tick (the contract with src/ui/web/app.js; see dashboard.h for the rest):
//   {"t": unix ms of the data, "elapsed_s", "vus", "vus_max",
//    "rps": http_reqs per second since the previous tick,
//    "fails_per_s": http_req_failed passes per second since the previous tick,
//    "iterations_per_s", "dropped_iterations" (total),
//    "latency_ms": {"p50","p95","p99","max"} of http_req_duration since the
//                  previous tick, or null when there was no request,
//    "names": [{"name","method","reqs","fails","rps","avg","p50","p95","p99","max"}]
//             per (name tag, method tag): reqs/fails cumulative, rps since the
//             previous tick, latencies cumulative in ms; at most kMaxNames,
//             by reqs descending (ties by name),
//    "errors": {error_code tag: total http_reqs},
//    "checks": {"passes","fails"} (totals),
//    "thresholds": [{"metric","expr","ok"}],
//    "spans": {"exported","dropped"} or null,
//    "progress": {"fraction" 0..1 or null, "time_left_s" or null,
//                 "stages": [{"scenario", "executor", "left_s", and for staged
//                 executors "stage" (1-based), "stages", "target", "unit",
//                 "stage_left_s"}] (the scenarios running now)},
//    "paused": bool,
//    "steering": [{"t","action","value"}] (everything so far)}
// Strings (request names are user data, e.g. "<script>") are JSON strings
// only: the page must render them as text. Invalid UTF-8 is replaced when
// the tick is serialized (Serialize).
//
// Pure functions; thread-compatible; cold path (allocates).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "metrics/snapshot.h"
#include "metrics/threshold.h"

namespace stampede::ui {

inline constexpr size_t kMaxNames = 200;

// What a tick says beyond the snapshots (the runner knows these).
struct TickInputs {
  int64_t t_unix_ms = 0;  // the time the data holds up to
  double elapsed_s = 0;   // since the start of the load
  // Seconds between the previous tick's data and this one's (the per-second
  // divisor); <= 0: elapsed_s (the first tick). Values below 0.001 count as 0.001.
  double interval_s = 0;
  nlohmann::json thresholds = nlohmann::json::array();  // ThresholdsJson()
  // spans {"exported","dropped"}; null when spans are not recorded
  nlohmann::json spans = nullptr;
  std::optional<double> total_duration_s;  // the plan's; unset: unknown
  bool paused = false;
  nlohmann::json stages = nlohmann::json::array();  // progress.stages
  nlohmann::json steering = nlohmann::json::array();  // [{"t","action","value"}]
};

// The tick for `cur` (cumulative), with per-second values since `prev` (the
// previous tick's cumulative snapshot; nullptr for the first tick: since the
// start). VUs are the snapshot's vus / vus_max gauges (0 when absent).
nlohmann::json MakeTick(const metrics::Snapshot& cur, const metrics::Snapshot* prev,
                        const TickInputs& in);

// [{"metric","expr","ok"}] of the set's last evaluation (a threshold not yet
// evaluated is ok).
nlohmann::json ThresholdsJson(const metrics::ThresholdSet& thresholds);

// One line of JSON (no newline inside; invalid UTF-8 replaced).
std::string Serialize(const nlohmann::json& j);

}  // namespace stampede::ui
