// One worker thread: its own event loop, DNS resolver, TLS context, HTTP
// client, metric shard and virtual users. Workers share nothing mutable; the
// main thread talks to a worker only through the thread-safe methods below.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "engine/run_config.h"
#include "engine/worker_base.h"
#include "metrics/registry.h"
#include "metrics/shard.h"
#include "net/error_type.h"

namespace stampede::engine {

class Worker final : public WorkerBase {
 public:
  // `config` and `registry` must outlive the worker. `vus` VUs run here and
  // share `iterations` (0: unbounded). `start_ns` is the common monotonic
  // start instant of the test (durations count from it).
  Worker(int index, const RunConfig& config, const metrics::Registry& registry, uint32_t vus,
         uint64_t iterations, int64_t start_ns);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Main thread. Builds the worker's loop, client and VUs, then spawns the
  // thread. Throws core::ConfigError for configuration the worker cannot use
  // (e.g. an unreadable CA file).
  void Start() override;
  void Join() override;

  // Thread-safe. Graceful: no new requests; in-flight ones get the configured
  // graceful stop. Hard: in-flight requests are abandoned at once.
  void RequestStop(bool hard) override;
  void Wake() override;

 private:
  class Impl;
  void ThreadMain();

  int index_;
  const RunConfig& config_;
  const metrics::Registry& registry_;
  uint32_t vus_;
  uint64_t iterations_;
  int64_t start_ns_;
  std::atomic<int> stop_request_{0};  // 0 none, 1 graceful, 2 hard
  std::unique_ptr<Impl> impl_;        // built by Start(), used by the thread
  std::thread thread_;
};

}  // namespace stampede::engine
