// What the main thread sees of a worker thread, whatever it runs (the native
// `--url` VUs or Lua script VUs). Workers share nothing mutable: the main
// thread reads relaxed progress counters, takes cumulative metric copies from
// the ShardPublisher, and asks for a stop through RequestStop().
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "engine/shard_publisher.h"
#include "metrics/registry.h"
#include "metrics/shard.h"
#include "otel/span_sink.h"

namespace stampede::engine {

// Relaxed atomics written only by the worker: no lock, no contention.
struct WorkerProgress {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> failed{0};  // transport errors + unexpected statuses
  std::atomic<uint32_t> active_vus{0};
  std::atomic<uint32_t> allocated_vus{0};
  std::atomic<bool> done{false};
};

// Results that only exist once the worker has been joined.
struct WorkerResult {
  std::array<uint64_t, 16> errors_by_type{};  // indexed by net::NetError
  uint64_t interrupted_iterations = 0;        // cut short by a stop or ramp-down
  uint64_t connections_opened = 0;
  uint64_t requests_retried = 0;              // HTTP/2 refused, sent again
  uint64_t script_errors = 0;                 // iterations that ended in a Lua error
  uint64_t dropped_iterations = 0;
  std::string first_script_error;             // with file:line and VU
};

class WorkerBase {
 public:
  explicit WorkerBase(const metrics::Registry& registry)
      : shard_(std::make_unique<metrics::Shard>(registry)), publisher_(registry) {}
  virtual ~WorkerBase() = default;
  WorkerBase(const WorkerBase&) = delete;
  WorkerBase& operator=(const WorkerBase&) = delete;

  // Main thread: builds the worker (may throw core::ConfigError) and starts
  // its thread.
  virtual void Start() = 0;
  virtual void Join() = 0;
  // Thread-safe. Graceful: no new iterations; in-flight ones get their
  // graceful stop. Hard: abandon in-flight work at once.
  virtual void RequestStop(bool hard) = 0;
  // Thread-safe: wakes the worker's loop to re-read shared state (the
  // dashboard's pause/resume).
  virtual void Wake() {}

  const WorkerProgress& progress() const { return progress_; }
  ShardPublisher& publisher() { return publisher_; }
  // After Join(): the worker's final values.
  const metrics::Shard& shard() const { return *shard_; }
  const WorkerResult& result() const { return result_; }

  // Before Start(): where this worker's spans go (null: none) and the run's
  // wall-clock anchor for span times. Both must outlive the worker.
  void set_tracing(otel::SpanSink* sink, const core::WallAnchor* anchor) {
    span_sink_ = sink;
    anchor_ = anchor;
  }

 protected:
  std::unique_ptr<metrics::Shard> shard_;  // written by the worker thread only
  ShardPublisher publisher_;
  WorkerProgress progress_;
  WorkerResult result_;
  const core::WallAnchor* anchor_or_default() const {
    static const core::WallAnchor kEpoch(0, 0);
    return anchor_ != nullptr ? anchor_ : &kEpoch;
  }
  otel::SpanSink* span_sink_ = nullptr;
  const core::WallAnchor* anchor_ = nullptr;
};

}  // namespace stampede::engine
