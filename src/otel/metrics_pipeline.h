// MetricsPipeline: the OTLP metrics exporter thread. Every `interval` it
//   - takes the newest cumulative Snapshot (LiveResults::Latest()) and the
//     interval's exemplars (ExemplarReservoir::TakeInterval(), if a
//     reservoir was given);
//   - builds the exported metrics with its one ExportModel (options.model)
//     and encodes them with its one MetricsEncoder (options.encoder:
//     temporality, histogram aggregation) into an ExportMetricsServiceRequest;
//   - exports it, retrying kRetryable results with exponential backoff
//     (initial_backoff doubling up to max_backoff, jitter in [d/2, d]) or the
//     server's Retry-After, for at most `max_attempts` attempts and
//     `export_timeout` in all (OTEL_METRIC_EXPORT_TIMEOUT; each attempt's
//     timeout is attempt_timeout cut to what remains); kFailed is never
//     retried;
//   - warns once per distinct cause (endpoint + message) — at most 16
//     distinct lines — and once per metric that reached its cardinality
//     limit.
// An export that outlasts the interval makes the pipeline skip the intervals
// it overlapped (their points are counted as dropped; one warning, unless the
// export failed in the end, which has its own); exports never queue up. A slow or dead collector blocks only this thread: nothing
// else waits for it, and Shutdown() is bounded (below).
//
// Shutdown(final, time, flush_timeout) exports the run's final cumulative
// snapshot (call it after the last Publish(), also on Ctrl-C; after the span
// pipeline's shutdown, so that its last exemplars are in the reservoir)
// within flush_timeout and within export_timeout (whichever ends first), then
// stops the thread. A periodic export still
// retrying when Shutdown() is called gives up at once (the final snapshot
// supersedes it). If the exporter is stuck inside one attempt past
// flush_timeout + 500 ms, Shutdown() returns anyway: the thread is left to
// finish that attempt on its own (it owns everything it touches from then
// on, never calls `warn` again and never reads the LiveResults or the
// reservoir again), with one warning.
//
// Errors are values: nothing thrown on the thread escapes it (an exception
// while building or encoding becomes a warning and that export is skipped).
//
// Threads: construct, Shutdown() and the destructor from the owning (control)
// thread; stats() from any thread. The LiveResults and the reservoir
// (borrowed) must outlive Shutdown() or the destructor.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "metrics/exemplars.h"
#include "metrics/export_model.h"
#include "metrics/live_results.h"
#include "metrics/snapshot.h"
#include "otel/exporter.h"
#include "otel/metrics_config.h"
#include "otel/metrics_encoder.h"
#include "otel/otlp_config.h"

namespace stampede::otel {

struct MetricsPipelineOptions {
  std::chrono::nanoseconds interval = std::chrono::seconds(10);  // OTEL_METRIC_EXPORT_INTERVAL
  std::chrono::nanoseconds export_timeout = std::chrono::seconds(30);  // OTEL_METRIC_EXPORT_TIMEOUT
  std::chrono::nanoseconds attempt_timeout =
      std::chrono::seconds(10);  // OTEL_EXPORTER_OTLP_TIMEOUT
  int max_attempts = 5;
  std::chrono::nanoseconds initial_backoff = std::chrono::seconds(1);
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(5);

  MetricsEncoderOptions encoder;  // temporality, histogram aggregation
  metrics::ExportOptions model;   // families, prefix, cardinality limit

  std::vector<std::pair<std::string, std::string>> resource_attributes;  // service.name, ...
  std::string scope_name = "stampede";
  std::string scope_version = "0.1.0";

  // Where warnings go (one line each; default core::Warn). Test seam.
  std::function<void(std::string_view)> warn;
  // Called on the pipeline thread with each chosen retry delay (ns) before
  // waiting it. Test seam; may be empty.
  std::function<void(int64_t delay_ns)> on_backoff;

  // From the parsed metrics configuration (ParseMetricsConfig,
  // metrics_config.h): interval, export timeout, temporality, histogram
  // aggregation and, from `config.otlp` when set, the attempt timeout
  // (OTEL_EXPORTER_OTLP_{METRICS_}TIMEOUT) and the resource (service.name
  // first). `model` is left at its defaults (the CLI sets it).
  static MetricsPipelineOptions FromConfig(const MetricsConfig& config);
};

struct MetricsPipelineStats {
  uint64_t exports_attempted = 0;  // exports started (intervals with points, and the final one)
  uint64_t exports_ok = 0;         // acknowledged (possibly with a partial success)
  uint64_t exports_failed = 0;     // given up: kFailed, attempts or time exhausted
  uint64_t points_exported = 0;    // acknowledged data points (minus rejected)
  uint64_t points_failed = 0;      // in exports given up
  uint64_t points_dropped = 0;     // skipped intervals; not sent before the shutdown deadline
  uint64_t points_rejected = 0;    // partial success: the receiver refused them
  uint64_t requests = 0;           // Exporter::Export() calls, retries included
  uint64_t retries = 0;
  uint64_t warnings = 0;  // warning lines emitted
};

class MetricsPipeline {
 public:
  // Starts the thread; the first export is one `interval` from now.
  // `reservoir` may be null (no exemplars).
  MetricsPipeline(std::unique_ptr<Exporter> exporter, const metrics::LiveResults& live,
                  metrics::ExemplarReservoir* reservoir, MetricsPipelineOptions options);
  // Stops without a final export if Shutdown() was not called.
  ~MetricsPipeline();
  MetricsPipeline(const MetricsPipeline&) = delete;
  MetricsPipeline& operator=(const MetricsPipeline&) = delete;

  // Exports `final_snapshot` (null: LiveResults::Latest()) taken at
  // `time_unix_ns`, with the reservoir's last interval, within
  // `flush_timeout` (retries included), then stops the thread. Points not
  // sent by then are counted (failed, or dropped if never sent). Returns
  // within about flush_timeout (+ 500 ms, see above). Idempotent.
  void Shutdown(std::shared_ptr<const metrics::Snapshot> final_snapshot, int64_t time_unix_ns,
                std::chrono::nanoseconds flush_timeout);

  MetricsPipelineStats stats() const;

 private:
  struct Core;

  std::shared_ptr<Core> core_;  // shared with the thread (see Shutdown())
  std::thread thread_;
  bool shut_down_ = false;  // control thread only
};

// The exporter for the metrics signal of `config` (made with
// Signal::kMetrics): ConsoleMetricsExporter on `console` for
// OTEL_METRICS_EXPORTER=console, OtlpGrpcExporter for grpc, otherwise
// OtlpHttpExporter (http/protobuf, http/json); null for `none`. Throws
// core::ConfigError as the exporters' constructors do.
std::unique_ptr<Exporter> MakeMetricsExporter(const OtlpConfig& config,
                                              std::FILE* console = stdout);

}  // namespace stampede::otel
