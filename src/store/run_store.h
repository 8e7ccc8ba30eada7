// RunStore: writes one run into one SQLite file (schema.h, docs/store.md) —
// the zero-infrastructure default output. The engine hands it the one result
// model (the cumulative Snapshot the main thread builds every second), the
// OTLP bytes of stampede's own spans and of the spans the built-in receiver
// took from the service under test; a thread of its own turns them into rows.
//
// Rows:
//   - run metadata at construction (run row, start time), end data at Finish;
//   - per second: the delta of every metric series since the previous
//     snapshot (counters, rates, gauges; trends as the second's exponential
//     histogram plus p50/p90/p95/p99/max), and the same deltas rolled up per
//     request name and per metric — all in ONE transaction per second, so a
//     kill -9 loses at most the second being written;
//   - request spans (stampede's CLIENT spans with their phase child spans)
//     under a per-second budget (StoreOptions::max_request_spans_per_second:
//     failed requests first, then the slowest; the rest counted as not kept),
//     the service's spans for the run's traces, and one exemplar per second
//     and request name (the slowest kept request).
//
// Never on the hot path: workers never see the store. Add*() copy their input
// into a bounded queue and return at once; when the queue is full the input
// is dropped and counted (store_stat and stats()). Memory stays bounded by
// StoreOptions whatever the run length.
//
// Threads: construct, AddSnapshot and Finish from the runner's (main) thread;
// AddClientSpans from the span exporter thread; AddServiceSpans from the
// receiver's threads (several at once); stats() from any thread. Construction
// throws core::ConfigError (one line naming the path and the fix) when the
// file cannot be created. SQLite errors after that are logged once, counted,
// and never stop the load.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/snapshot.h"
#include "metrics/threshold.h"

namespace stampede::store {

struct StoreOptions {
  std::string path;  // the file to create; its directory is created if missing
  // Request spans kept per second of the run (by span start), with their
  // phase children; failed requests first, then the slowest. 0: keep none.
  uint32_t max_request_spans_per_second = 1000;
  // Service spans (from the receiver) kept per second of the run.
  uint32_t max_service_spans_per_second = 20000;
  // Bytes of input (snapshots aside) queued for the store thread at most;
  // beyond, Add*() drop and count.
  size_t max_queued_bytes = 64u << 20;
};

// What is known when the run starts.
struct RunInfo {
  std::string run_id;
  std::string stampede_version;
  std::string host;
  std::string command_line;   // argv, shell-quoted, secrets redacted
  std::string script_path;    // "" in --url mode
  std::string script_sha256;  // hex; "" in --url mode
  std::string script_source;  // "" in --url mode
  std::string target;         // --url mode: "GET http://127.0.0.1:8080/" (redacted); else ""
  std::string options_json;   // the effective options (k6 names), secrets redacted
  std::string thresholds_json;  // {"metric": ["expr", ...]} as configured; "{}" when none
  int64_t start_unix_ns = 0;
};

// What is known when it ends.
struct RunEnd {
  const metrics::Snapshot* final_snapshot = nullptr;  // the summary's snapshot; required
  const metrics::ThresholdSet* thresholds = nullptr;  // may be null
  int64_t end_unix_ns = 0;
  int exit_code = 0;
  // "passed", "thresholds_failed", "interrupted", "aborted_by_threshold", "script_error"
  std::string outcome{};
  std::string summary_json{};  // the k6-shaped summary (as --summary-export)
};

struct StoreStats {
  uint64_t seconds_written = 0;
  uint64_t client_spans_received = 0;  // spans in AddClientSpans requests
  uint64_t client_spans_kept = 0;      // written (request spans and their children)
  uint64_t client_spans_not_kept = 0;  // over the per-second budget
  uint64_t service_spans_received = 0;
  uint64_t service_spans_kept = 0;
  uint64_t service_spans_not_kept = 0;  // over their budget
  uint64_t dropped_inputs = 0;          // Add*() calls dropped: queue full
  uint64_t write_errors = 0;            // SQLite errors (logged once)
};

class RunStore {
 public:
  RunStore(StoreOptions options, RunInfo info);
  // Finish() with what is known if it was not called (the run row keeps
  // exit_code NULL: the run did not end cleanly).
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::string& path() const;

  // The run's cumulative snapshot holding the data up to `data_unix_ns`,
  // once a second (the same one the metric outputs get). The store writes
  // the difference from the previous one as the second that ends at
  // data_unix_ns (rounded to whole seconds since the start).
  void AddSnapshot(std::shared_ptr<const metrics::Snapshot> snapshot, int64_t data_unix_ns);
  // An ExportTraceServiceRequest (protobuf) of stampede's own spans.
  void AddClientSpans(std::string_view request);
  // An ExportTraceServiceRequest (protobuf) from the service under test,
  // holding only spans of the run's traces (the receiver filters).
  void AddServiceSpans(std::string_view request);

  // Writes the final second(s), the thresholds, checks, end time, exit code,
  // outcome and summary; drains what is queued (waiting at most `drain_ns`
  // for it), checkpoints the WAL and closes the file so it is one file again.
  // Idempotent.
  void Finish(const RunEnd& end, int64_t drain_ns = 10'000'000'000);

  StoreStats stats() const;

  // High-water marks of what the store thread holds in memory, for tests
  // (memory stays bounded whatever the run length). Any thread; updated at
  // each commit.
  struct HighWater {
    size_t queued_bytes = 0;   // span bytes waiting in the input queue
    size_t queued_inputs = 0;  // inputs (snapshots and span batches) waiting
    size_t held_spans = 0;     // client spans held by the budget's open windows
    size_t candidates = 0;     // request candidates held
    size_t open_windows = 0;
  };
  HighWater high_water() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace stampede::store
