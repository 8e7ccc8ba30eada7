// LiveResults: the newest cumulative Snapshot of a running test, for the
// outputs that read it while the run lasts (OTLP metrics exporter,
// Prometheus /metrics, later the dashboard and the run store). The main
// thread builds one Snapshot per second from the workers' published shards
// and publishes it here; readers take a shared, immutable copy. This is the
// one result model, shared: no output aggregates on its own.
//
// Thread-safety: Publish from the main thread, Latest from any thread; an
// internal mutex guards only the pointer swap (cold path, never a worker).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>

#include "metrics/snapshot.h"

namespace stampede::metrics {

struct LiveSnapshot {
  std::shared_ptr<const Snapshot> snapshot;  // null before the first publish
  int64_t time_unix_ns = 0;                  // wall-clock time the snapshot was taken
};

class LiveResults {
 public:
  // `start_unix_ns`: the run's start (the start time of cumulative series).
  explicit LiveResults(int64_t start_unix_ns) : start_unix_ns_(start_unix_ns) {}

  void Publish(std::shared_ptr<const Snapshot> snapshot, int64_t time_unix_ns) {
    std::lock_guard lock(mu_);
    latest_ = LiveSnapshot{std::move(snapshot), time_unix_ns};
  }
  LiveSnapshot Latest() const {
    std::lock_guard lock(mu_);
    return latest_;
  }
  int64_t start_unix_ns() const { return start_unix_ns_; }

 private:
  const int64_t start_unix_ns_;
  mutable std::mutex mu_;
  LiveSnapshot latest_;
};

}  // namespace stampede::metrics
