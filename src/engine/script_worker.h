// A worker thread that runs Lua script VUs under the plan's executors:
// its own event loop, resolver, TLS context, HTTP client and Lua runtime,
// and, for each scenario, this worker's segment of the load (see
// plan.h: SegmentFor). Metrics go to the worker's shard; the main thread
// reads them through the ShardPublisher.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/plan.h"
#include "engine/run_config.h"
#include "engine/worker_base.h"

namespace stampede::engine {

class ScriptWorker final : public WorkerBase {
 public:
  // `config`, `registry` must outlive the worker. `segment` is this worker's
  // share of the plan; `setup_data` what setup() returned (null: nothing).
  // `start_ns`: the common monotonic start instant of the test.
  ScriptWorker(int index, int workers, const RunConfig& config,
               const metrics::Registry& registry, Plan segment, nlohmann::json setup_data,
               int64_t start_ns);
  ~ScriptWorker() override;

  void Start() override;  // runs the script's init here: may throw
  void Join() override;
  void RequestStop(bool hard) override;
  void Wake() override;

 private:
  class Impl;
  int index_;
  int workers_;
  const RunConfig& config_;
  const metrics::Registry& registry_;
  Plan segment_;
  nlohmann::json setup_data_;
  int64_t start_ns_;
  std::atomic<int> stop_request_{0};  // 0 none, 1 graceful, 2 hard
  std::unique_ptr<Impl> impl_;
  std::thread thread_;
};

}  // namespace stampede::engine
