// Runs one test on the main thread's behalf: spreads VUs and iterations over
// workers, watches progress and signals, then merges the workers' shards into
// one metrics::Snapshot and hands it to the report formatters.
//
// Signals: SIGINT/SIGTERM are blocked in every thread and taken synchronously
// here (sigtimedwait), so no handler runs inside a worker. The first signal
// stops gracefully (in-flight requests get --graceful-stop), the second at
// once. Main thread only.
#pragma once

#include <memory>
#include <vector>

#include "engine/run_config.h"
#include "metrics/registry.h"
#include "metrics/snapshot.h"

namespace stampede::engine {

struct RunOutcome {
  metrics::Snapshot snapshot;
  std::array<uint64_t, 16> errors_by_type{};  // indexed by net::NetError
  uint64_t interrupted_iterations = 0;
  uint64_t connections_opened = 0;
  int64_t elapsed_ns = 0;
  bool aborted_by_signal = false;
};

class Runner {
 public:
  explicit Runner(const RunConfig& config);
  // Runs the test, prints the summary, writes the exports; returns the exit
  // code. Throws core::ConfigError for configuration found bad at start.
  int Run();
  // Runs the test and returns its outcome without printing (tests use this).
  RunOutcome Execute();

 private:
  void PrintProgress(int64_t elapsed_ns, bool final_line);

  const RunConfig& config_;
  metrics::Registry registry_;
};

}  // namespace stampede::engine
