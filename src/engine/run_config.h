// What a run is asked to do, after flags (and later script options) have been
// parsed and validated. Plain data; built on the main thread, then read-only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "engine/execution_segment.h"
#include "engine/plan.h"
#include "engine/remote.h"
#include "http/url.h"
#include "metrics/export_model.h"
#include "otel/metrics_config.h"
#include "otel/otlp_config.h"
#include "otel/trace_context.h"
#include "script/execution.h"

namespace stampede::engine {

struct RunConfig {
  // The run's shared execution state (stampede.execution); the Runner
  // creates it. Shared by every runtime of the run.
  std::shared_ptr<script::Execution> execution;
  // Script mode: the Lua script (empty in `--url` mode).
  std::string script_path;
  std::string script_source;
  std::vector<std::pair<std::string, std::string>> env;  // ENV: environment + -e
  bool discard_response_bodies = false;
  // Unset: stampede/<version>; "": no User-Agent header (k6: userAgent = "").
  std::optional<std::string> user_agent;
  int64_t setup_timeout_ns = 60'000'000'000;
  int64_t teardown_timeout_ns = 60'000'000'000;
  std::vector<std::string> threshold_flags;  // --threshold 'metric:expr'
  PlanOverrides overrides;                   // --vus/--duration/--iterations/--stage given
  // --execution-segment / --execution-segment-sequence (k6): this instance's
  // part of a test split between instances. The whole segment and no
  // sequence (the defaults): the whole test.
  ExecutionSegment execution_segment;
  ExecutionSegmentSequence execution_segment_sequence;
  // A distributed run (engine/remote.h): the coordinator's agents (this
  // process runs no VU), or this agent's link to its coordinator. Both null:
  // a standalone run.
  std::shared_ptr<AgentFleet> fleet;
  std::shared_ptr<CoordinatorLink> link;
  // An agent whose coordinator keeps a run store: its request spans (gated as
  // a store-only run's, store_spans_per_second its share) go to the
  // coordinator through `link`.
  bool forward_spans = false;
  // OTel resource service.instance.id ("" → RUN_ID-PID); an agent's index.
  std::string instance_id;
  bool Segmented() const {
    return !execution_segment.IsWhole() || !execution_segment_sequence.empty();
  }

  // The request every VU repeats in `run --url` mode.
  http::Url url;
  std::string url_text;  // as given (redacted form is used in output)
  std::string method = "GET";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // Load: closed model, each VU sends its next request when the last ends.
  uint32_t vus = 1;
  int64_t duration_ns = 0;   // 0: not time-bounded (then iterations > 0)
  uint64_t iterations = 0;   // 0: not count-bounded (then duration > 0)
  uint32_t threads = 0;      // 0: one worker per core
  // The event loops' I/O backend in effect ("epoll" or "io_uring", after
  // any fallback; loop/backend.h), named in the summary.
  std::string io_backend = "epoll";
  int64_t graceful_stop_ns = 30'000'000'000;

  // Client.
  int64_t request_timeout_ns = 60'000'000'000;
  int64_t connect_timeout_ns = 10'000'000'000;
  bool insecure_skip_tls_verify = false;
  std::string ca_file;                 // extra trust anchor (tests, private CAs)
  std::vector<std::string> dns_servers;  // empty: the system's resolver config
  // k6's noConnectionReuse: every request on a new connection (sent with
  // `Connection: close`), closed after its response.
  bool no_connection_reuse = false;
  // k6's noVUConnectionReuse: a script VU's connections are closed at the end
  // of each of its iterations, and never used by another VU. In --url mode an
  // iteration is one request, so this is noConnectionReuse.
  bool no_vu_connection_reuse = false;
  // HTTP/2: offered by ALPN on https (false: --no-http2, http/1.1 only);
  // spoken without negotiation on http:// (--http2-prior-knowledge, the
  // script's http2PriorKnowledge); in --url mode at most this many streams
  // per connection, the VUs sharing ceil(VUs / N) connections per worker
  // (--streams-per-connection, h2load's -m; 0: a connection per VU).
  bool http2 = true;
  bool http2_prior_knowledge = false;
  uint32_t streams_per_connection = 0;
  // k6's batch / batchPerHost: the most requests of one http.batch() call in
  // flight at once, in total and per host; 0: no limit.
  uint32_t batch = 20;
  uint32_t batch_per_host = 6;
  bool batch_flag = false;           // --batch given: wins over the script's option
  bool batch_per_host_flag = false;  // --batch-per-host given

  // Trace context on every request (OTEL_PROPAGATORS, OTEL_TRACES_SAMPLER).
  otel::Propagators propagators;
  otel::Sampler sampler;
  std::string run_id;             // unique per run; sent as baggage when enabled
  bool baggage_run_id = false;    // --baggage-run-id: `baggage: stampede.run.id=...`
  bool trace_root_request = false;  // --trace-root=request
  // Span export (--otel, OTEL_TRACES_EXPORTER=otlp|console): absent means no
  // spans; its `exporter` is kOtlp or kConsole (never kNone).
  std::optional<otel::OtlpConfig> traces_export;
  int64_t trace_keep_slower_than_ns = 0;  // keep unsampled requests slower than this

  // Metrics outputs, all formatting the one result model (LiveResults):
  // OTLP / console metrics (metrics_export.otlp), a Prometheus endpoint.
  otel::MetricsConfig metrics_export;
  metrics::ExportOptions metric_export_options;  // families, prefix, cardinality limit
  std::string prometheus_address;  // host:port of /metrics; empty: none
  int64_t linger_ns = 0;           // keep /metrics served this long after the run

  // The run store (SQLite, on by default; --no-store): the file, and the
  // request spans it keeps per second (failed first, then the slowest).
  bool store = true;
  std::string store_path;  // empty: stampede-runs/<start time>-<run id>.db
  uint32_t store_spans_per_second = 1000;
  std::string command_line;  // argv as given (for the store's run row)
  // The built-in OTLP receiver (--collect, --collect-grpc): addresses ("" off),
  // how long it keeps receiving after the run, and where it forwards.
  std::string collect_address;
  std::string collect_grpc_address;
  int64_t collect_linger_ns = 5'000'000'000;
  std::string collect_forward;

  // The live dashboard (--ui): where it listens ("" off), its control token
  // ("" random; given explicitly, it is required even on loopback), how long
  // it stays up after the run (Ctrl-C ends it), and whether to open a browser.
  std::string ui_address;
  std::string ui_token;
  int64_t ui_linger_ns = 0;
  bool ui_open = false;
  // --trace-url-template: a link per trace id in the dashboard's exemplars
  // ("" none; validated: an http(s) URL containing {trace_id}).
  std::string trace_url_template;

  // Output.
  bool quiet = false;
  std::string summary_export;  // k6-shaped JSON file, empty: none
};

}  // namespace stampede::engine

#include "script/runtime.h"

namespace stampede::engine {

// What a script runtime (a worker's, or the main thread's probe) needs of a
// run's configuration.
inline script::RuntimeOptions RuntimeOptionsFor(const RunConfig& c) {
  script::RuntimeOptions o;
  o.script_path = c.script_path;
  o.source = c.script_source;
  o.env = c.env;
  o.discard_response_bodies = c.discard_response_bodies;
  o.user_agent = c.user_agent;
  o.propagators = c.propagators;
  o.sampler = c.sampler;
  o.trace_root_request = c.trace_root_request;
  o.run_tag = otel::RunTraceTag(c.run_id);
  o.no_connection_reuse = c.no_connection_reuse;
  o.no_vu_connection_reuse = c.no_vu_connection_reuse;
  o.http2_prior_knowledge = c.http2_prior_knowledge;
  o.batch = c.batch;
  o.batch_per_host = c.batch_per_host;
  o.execution = c.execution;
  if (c.baggage_run_id) o.baggage = "stampede.run.id=" + otel::EncodeBaggageValue(c.run_id);
  return o;
}

}  // namespace stampede::engine
