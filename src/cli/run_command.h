// `stampede run`: its flags, their validation into an engine::RunConfig, and
// the run itself. Main thread only.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/run_config.h"

namespace stampede::cli {

// The raw flag values, as typed. Durations stay text until validated so that
// the error can quote what the user wrote.
struct RunFlags {
  std::string script;  // positional: a Lua script (or --url)
  std::string url;
  std::string method = "GET";
  std::vector<std::string> headers;
  std::string body;
  int64_t vus = -1;  // -1: not given (1 VU)
  std::string duration;
  int64_t iterations = -2;  // -2: not given
  int64_t threads = 0;
  std::string io;  // --io epoll|io_uring|auto (empty: STAMPEDE_IO, else epoll)
  std::string summary_export;
  bool quiet = false;
  std::string graceful_stop = "30s";
  std::string timeout = "60s";
  std::string connect_timeout = "10s";
  bool insecure_skip_tls_verify = false;
  std::string ca_file;
  std::vector<std::string> dns_servers;
  bool no_connection_reuse = false;     // k6 --no-connection-reuse
  bool no_vu_connection_reuse = false;  // k6 --no-vu-connection-reuse
  bool no_http2 = false;                // --no-http2
  bool http2_prior_knowledge = false;   // --http2-prior-knowledge
  int64_t streams_per_connection = 0;   // --streams-per-connection
  static constexpr int64_t kNotGiven = INT64_MIN;
  int64_t batch = kNotGiven;            // k6 --batch
  int64_t batch_per_host = kNotGiven;   // k6 --batch-per-host
  std::vector<std::string> env;         // -e KEY=VALUE
  std::vector<std::string> thresholds;  // --threshold 'metric:expr'
  std::vector<std::string> stages;      // --stage 30s:50
  std::optional<std::string> user_agent;
  bool baggage_run_id = false;
  bool otel = false;
  std::vector<std::string> outs;        // --out NAME (k6): opentelemetry, experimental-opentelemetry
  std::string otel_metrics = "k6,semconv";  // --otel-metrics: which metric families
  std::optional<std::string> otel_metric_prefix;  // --otel-metric-prefix (default stampede_)
  int64_t metric_cardinality_limit = 2000;        // --otel-metric-cardinality-limit
  std::optional<std::string> prometheus;          // --prometheus [ADDR]
  std::string linger;                             // --linger DURATION
  std::string trace_keep_slower_than;
  std::string trace_root = "iteration";
  // The run store and the built-in OTLP receiver.
  bool no_store = false;                   // --no-store
  int64_t store_spans_per_second = 1000;   // --store-spans-per-second
  std::string collect;                     // --collect[=ADDR]: "" off
  std::string collect_grpc;                // --collect-grpc[=ADDR]: "" off
  std::string collect_linger = "5s";       // --collect-linger
  std::string collect_forward;             // --collect-forward URL
  // The live dashboard.
  std::string ui;                          // --ui [ADDR]: "" off
  std::string ui_token;                    // --ui-token TOKEN
  std::string ui_linger;                   // --ui-linger DURATION
  bool ui_open = false;                    // --ui-open
  std::string trace_url_template;          // --trace-url-template URL
  std::string execution_segment;           // --execution-segment 1/4:2/4
  std::string execution_segment_sequence;  // --execution-segment-sequence 0,1/4,...,1
  std::string command_line;                // argv, for the run store (set by main)
};

CLI::App* AddRunCommand(CLI::App& app, RunFlags& flags);

// The flags of `run`, on `cmd` (also the coordinator's: it takes them all).
void AddRunFlags(CLI::App* cmd, RunFlags& f);

// Validates `flags` (throws core::ConfigError with a one-line message).
engine::RunConfig BuildRunConfig(const RunFlags& flags);

// --otel-metrics: "k6", "semconv" or both, comma-separated, into `options`.
// Throws core::ConfigError naming the flag otherwise.
void ParseMetricFamilies(std::string_view text, metrics::ExportOptions& options);

// The command line as a shell would take it back (each argument quoted when
// needed), with secrets redacted: values of -H Authorization / Cookie /
// *-Api-Key / *Token headers, -e values whose key names a secret (TOKEN,
// SECRET, PASSWORD, PASSWD, KEY, AUTH), and URL passwords. For the run store.
std::string RedactedCommandLine(int argc, const char* const* argv);

// Runs the test and prints its summary. Returns the process exit code.
int RunCommand(const RunFlags& flags);

}  // namespace stampede::cli
