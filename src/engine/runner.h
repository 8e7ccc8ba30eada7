// Runs one test on the main thread's behalf: in script mode it loads the
// script once here (init errors stop the run before any load), parses the
// plan and thresholds, runs setup(); it spreads the load over workers,
// watches progress, signals and thresholds (every 2 s, from the workers'
// published metric copies), then merges the final shards into one
// metrics::Snapshot for the report formatters, and runs teardown().
//
// Signals: SIGINT/SIGTERM are blocked in every thread and taken synchronously
// here (sigtimedwait), so no handler runs inside a worker. The first signal
// stops gracefully, the second at once. Main thread only.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/plan.h"
#include "engine/run_config.h"
#include "metrics/registry.h"
#include "metrics/snapshot.h"
#include "metrics/threshold.h"
#include "otel/export_pipeline.h"
#include "otel/metrics_pipeline.h"
#include "engine/run_recording.h"
#include "otel/otlp_receiver.h"

namespace stampede::engine {

class DashboardWiring;

struct RunOutcome {
  metrics::Snapshot snapshot;
  metrics::ThresholdSet thresholds;
  std::array<uint64_t, 16> errors_by_type{};  // indexed by net::NetError
  uint64_t interrupted_iterations = 0;
  uint64_t connections_opened = 0;
  // Requests an HTTP/2 server refused unprocessed (GOAWAY, REFUSED_STREAM),
  // sent again on a new connection; each counted once as a request.
  uint64_t requests_retried = 0;
  uint64_t script_errors = 0;
  uint64_t dropped_iterations = 0;
  std::string first_script_error;
  std::string teardown_error;
  std::optional<otel::ExportPipelineStats> spans;  // when spans were exported
  std::optional<otel::MetricsPipelineStats> metric_points;  // when OTLP metrics were exported
  uint64_t prometheus_scrapes = 0;
  std::optional<store::StoreStats> store;       // when the run store was written
  std::optional<otel::ReceiverStats> received;  // when the receiver ran
  int64_t elapsed_ns = 0;
  int64_t end_unix_ns = 0;  // when the load ended (before any linger)
  bool aborted_by_signal = false;
  bool aborted_by_threshold = false;
  bool aborted_by_script = false;  // execution.test.abort(): exit 108
  bool cancelled = false;          // an agent whose coordinator never started it: exit 105
  std::vector<std::string> lost_agents;  // a coordinator's lost agents: exit 111
  std::string abort_reason;
};

// The metrics a run defines: k6's built-ins, http_req_looking_up, and, when
// a metric output (OTLP metrics, /metrics) is on, the internal ones those
// outputs read (OTel HTTP client metrics); the span pipeline's counters when
// `span_counters` (a metric output or the run store reads them). A script's
// custom metrics are added at init.
metrics::Registry RunRegistry(bool metric_outputs, bool span_counters);
inline metrics::Registry RunRegistry(bool metric_outputs) {
  return RunRegistry(metric_outputs, metric_outputs);
}

class Runner {
 public:
  explicit Runner(RunConfig config);
  ~Runner();
  // Runs the test, prints the summary, writes the exports; returns the exit
  // code. Throws core::ConfigError for configuration found bad at start
  // (exit 104), or for a script that fails at init or in setup (exit 107).
  int Run();
  // Runs the test and returns its outcome without printing (tests use this).
  RunOutcome Execute();

 private:
  class ScriptProbe;
  class ProbeHost;
  void PrepareScript();
  void PrepareThresholds(const nlohmann::json& options);
  std::string Describe() const;
  std::string SegmentLine() const;

  RunConfig config_;
  metrics::Registry registry_;
  std::unique_ptr<ScriptProbe> probe_;  // script mode: init + setup/teardown here
  std::unique_ptr<ProbeHost> probe_host_;
  Plan whole_plan_;  // the whole test, as the script and the flags describe it
  Plan plan_;        // what this instance runs: whole_plan_, or its execution segment's share
  metrics::ThresholdSet thresholds_;
  nlohmann::json setup_data_;
  nlohmann::json script_options_;  // the script's exported options, as given
  // test.options: script_options_ with the plan's scenarios, as k6 consolidates.
  nlohmann::json ConsolidatedOptions() const;
  std::unique_ptr<RunRecording> recording_;  // Execute() opens it, Run() finishes it
  std::unique_ptr<DashboardWiring> dashboard_;  // --ui: Execute() starts it, Run() ends it
};

}  // namespace stampede::engine
