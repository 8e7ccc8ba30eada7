// ExportPipeline: the exporter thread between the workers' SpanSinks and an
// Exporter (OTLP/HTTP or OTLP/gRPC).
//
// It owns one SpanSink per worker and one thread that
//   - collects handed-over chunks from every sink, copies their bytes into the
//     pending batch and gives the chunk straight back to its sink;
//   - exports the pending batch as one ExportTraceServiceRequest (resource and
//     scope set at construction) when it reaches `max_batch_spans` spans or
//     `max_batch_bytes` request bytes, and every `schedule_delay`;
//   - retries kRetryable results with exponential backoff (initial_backoff,
//     doubling up to max_backoff, with jitter in [d/2, d]) or the server's
//     Retry-After, for at most `max_attempts` attempts and `retry_budget` per
//     batch; never retries kFailed;
//   - counts spans exported, dropped (sinks' pools full; not sent at
//     shutdown), failed (batches given up) and rejected (partial success);
//   - warns once per distinct failure cause (endpoint + cause), not per batch.
// Workers never wait for it: a slow or dead collector only makes sinks drop.
//
// Batches hold whole chunks; sinks are created with max_spans_per_chunk ≤
// max_batch_spans so that a batch never exceeds max_batch_spans.
//
// Threads: construct, sink(), Shutdown() and the destructor from the owning
// (control) thread; each sink from its one worker; stats() from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "otel/exporter.h"
#include "otel/otlp_config.h"
#include "otel/proto_writer.h"
#include "otel/span.h"
#include "otel/span_sink.h"

namespace stampede::otel {

struct ExportPipelineOptions {
  size_t max_batch_spans = 512;       // OTEL_BSP_MAX_EXPORT_BATCH_SIZE
  size_t max_batch_bytes = 4u << 20;  // request size cap (gRPC receivers' 4 MiB default)
  std::chrono::nanoseconds schedule_delay = std::chrono::seconds(5);   // OTEL_BSP_SCHEDULE_DELAY
  std::chrono::nanoseconds export_timeout = std::chrono::seconds(10);  // per attempt
  std::chrono::nanoseconds retry_budget = std::chrono::seconds(30);    // per batch, all attempts
  int max_attempts = 4;
  std::chrono::nanoseconds initial_backoff = std::chrono::milliseconds(100);
  std::chrono::nanoseconds max_backoff = std::chrono::seconds(5);
  SpanSink::Options sink;  // per worker pool; max_spans_per_chunk is capped to max_batch_spans

  std::vector<std::pair<std::string, std::string>> resource_attributes;  // service.name, ...
  std::string scope_name = "stampede";
  std::string scope_version = "0.1.0";

  // Where warnings go (one line each; default core::Warn). Test seam.
  std::function<void(std::string_view)> warn;
  // Called on the exporter thread with each chosen retry delay (ns) before
  // waiting it. Test seam; may be empty.
  std::function<void(int64_t delay_ns)> on_backoff;
  // Called on the exporter thread with every request (an
  // ExportTraceServiceRequest) the receiver accepted in full — how exemplars
  // learn which spans were really exported. May be empty.
  std::function<void(std::string_view request)> on_exported;
  // Called on the exporter thread with every request once, as it is built,
  // before the first attempt to send it — how the run store gets every span
  // whatever the collector does. Must not block (copy and return). May be
  // empty.
  std::function<void(std::string_view request)> on_batch;

  // From the environment configuration: batch size, schedule delay, timeouts
  // and the resource (service.name first).
  static ExportPipelineOptions FromConfig(const OtlpConfig& config);
};

struct ExportPipelineStats {
  uint64_t spans_recorded = 0;  // accepted by sinks
  uint64_t spans_exported = 0;  // acknowledged by the receiver (minus rejected)
  uint64_t spans_dropped = 0;   // sinks' pools full, or still unsent at shutdown
  uint64_t spans_failed = 0;    // in batches given up (kFailed, retries exhausted)
  uint64_t spans_rejected = 0;  // partial success: the receiver refused them
  uint64_t requests = 0;        // Export() calls, retries included
  uint64_t retries = 0;
  uint64_t warnings = 0;  // warning lines emitted
};

class ExportPipeline {
 public:
  // Starts the exporter thread. `num_sinks` sinks are created (one per
  // worker); their pools are allocated here.
  ExportPipeline(std::unique_ptr<Exporter> exporter, int num_sinks, ExportPipelineOptions options);
  // Shutdown(0) if Shutdown() was not called.
  ~ExportPipeline();
  ExportPipeline(const ExportPipeline&) = delete;
  ExportPipeline& operator=(const ExportPipeline&) = delete;

  // The sink for worker `i` (0 ≤ i < num_sinks), owned by the pipeline.
  SpanSink& sink(int i) { return *sinks_[static_cast<size_t>(i)]; }
  int num_sinks() const { return static_cast<int>(sinks_.size()); }

  // Flushes every sink (so: call it after the workers are joined), exports all
  // pending spans within `flush_timeout` (retries included; an attempt's
  // timeout is cut to what remains) and stops the thread. Spans still unsent
  // at the deadline are counted (failed, or dropped if never sent). Returns
  // within about `flush_timeout`. Idempotent.
  void Shutdown(std::chrono::nanoseconds flush_timeout);

  ExportPipelineStats stats() const;

 private:
  using SteadyClock = std::chrono::steady_clock;

  void Run();
  void Wake();
  // Moves every handed-over chunk into the pending batch, exporting first
  // whenever the next chunk would overflow it.
  void Drain();
  void ExportPending();
  // Sends `request` (holding `spans` spans) with retries; counts the outcome.
  void ExportWithRetry(std::string_view request, uint64_t spans);
  // Waits until `until`; returns false at once if Shutdown() has set a
  // deadline before `until` (the caller then gives up).
  bool WaitUntil(SteadyClock::time_point until);
  SteadyClock::time_point ShutdownDeadline() const;
  void WarnOnce(const std::string& cause, const std::string& line);
  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  std::unique_ptr<Exporter> exporter_;
  ExportPipelineOptions options_;
  std::string endpoint_;
  std::vector<std::unique_ptr<SpanSink>> sinks_;
  std::vector<KeyValue> resource_kv_;  // views into options_.resource_attributes

  // Exporter-thread state.
  ProtoWriter pending_;  // concatenated span fields
  uint64_t pending_spans_ = 0;
  ProtoWriter request_;
  std::set<std::string> warned_causes_;
  uint64_t rng_state_ = 0x9e3779b97f4a7c15ull;

  // Control.
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> wake_{false};
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> shutdown_deadline_ns_{INT64_MAX};  // steady_clock epoch ns
  bool shut_down_ = false;                                // control thread only
  std::thread thread_;

  std::atomic<uint64_t> exported_{0}, failed_{0}, rejected_{0}, unsent_{0}, requests_{0},
      retries_{0}, warnings_{0};
};

}  // namespace stampede::otel
