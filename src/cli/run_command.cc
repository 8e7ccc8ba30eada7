#include "cli/run_command.h"

#include <unistd.h>

extern char** environ;

#include <fstream>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/quote.h"
#include "core/log.h"
#include "otel/metrics_config.h"
#include "otel/otlp_config.h"
#include "otel/trace_context.h"
#include "loop/backend.h"
#include "engine/runner.h"
#include "http/server.h"
#include "http/url.h"
#include "report/html_report.h"

namespace stampede::cli {
namespace {

using core::ConfigError;

constexpr const char* kDefaultUiAddress = "127.0.0.1:5665";

std::string Quote(const std::string& s) { return core::QuoteInput(s); }

std::pair<std::string, std::string> ParseHeader(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) {
    throw ConfigError("invalid -H " + Quote(text) + ": expected 'Name: value'");
  }
  std::string name = text.substr(0, colon);
  std::string value = text.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.erase(0, 1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
  for (char c : name) {
    bool token = std::isalnum(static_cast<unsigned char>(c)) ||
                 std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!token) {
      throw ConfigError("invalid -H " + Quote(text) + ": header name " + Quote(name) +
                        " may hold only letters, digits and !#$%&'*+-.^_`|~");
    }
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') {
      throw ConfigError("invalid -H " + Quote(name) + ": the value may not contain CR, LF or NUL");
    }
  }
  return {name, value};
}

std::string ReadBody(const std::string& flag) {
  if (flag.empty() || flag[0] != '@') return flag;
  std::string path = flag.substr(1);
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError("invalid --body " + Quote(flag) + ": cannot read file " + Quote(path) +
                      " (use --body @PATH with a readable file, or --body TEXT)");
  }
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string ShellQuote(std::string_view arg) {
  bool plain = !arg.empty();
  for (char c : arg) {
    if (!std::isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("-_./:=,@%+").find(c) == std::string_view::npos) {
      plain = false;
    }
  }
  if (plain) return std::string(arg);
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool NamesSecret(std::string_view name) {
  std::string upper;
  for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  // Substrings of the names secrets go by (PASS: PASSWORD, PASSWD,
  // PASSPHRASE; KEY: API_KEY, PRIVATE_KEY...). SECURITY.md says what is kept.
  for (std::string_view word : {"TOKEN", "SECRET", "PASS", "PWD", "KEY", "AUTH", "COOKIE",
                                "SESSION", "CRED", "PRIVATE", "SIGNATURE", "BEARER", "JWT"}) {
    if (upper.find(word) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::string RedactedCommandLine(int argc, const char* const* argv) {
  std::string out;
  std::string_view pending;  // the flag whose value is the next argument
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    std::string_view flag = pending;
    std::string value = arg;
    pending = {};
    bool inline_value = false;
    if (flag.empty() && arg.rfind("--", 0) == 0 && arg.find('=') != std::string::npos) {
      inline_value = true;
      // --header=..., --env=...: split in place.
      size_t eq = arg.find('=');
      flag = std::string_view(argv[i]).substr(0, eq);
      value = arg.substr(eq + 1);
    } else if (flag.empty()) {
      if (arg == "-H" || arg == "--header" || arg == "-e" || arg == "--env" || arg == "--url" ||
          arg == "--collect-forward" || arg == "--ui-token") {
        pending = argv[i];
      }
      flag = {};
    }
    std::string shown = value;
    if (flag == "-H" || flag == "--header") {
      size_t colon = value.find(':');
      if (colon != std::string::npos && NamesSecret(value.substr(0, colon))) {
        shown = value.substr(0, colon) + ": <redacted>";
      }
    } else if (flag == "-e" || flag == "--env") {
      size_t eq = value.find('=');
      if (eq != std::string::npos && NamesSecret(value.substr(0, eq))) {
        shown = value.substr(0, eq) + "=<redacted>";
      }
    } else if (flag == "--ui-token") {
      shown = "<redacted>";
    } else if (flag == "--url" || flag == "--collect-forward") {
      try {
        shown = http::ParseUrl(value, flag).Redacted();
      } catch (const std::exception&) {
        // Shown as given: an unparsable URL carries no password we can find.
      }
    }
    if (!out.empty()) out += ' ';
    if (inline_value) {
      out += ShellQuote(std::string(flag) + "=" + shown);
    } else {
      out += ShellQuote(shown);
    }
  }
  return out;
}

void ParseMetricFamilies(std::string_view text, metrics::ExportOptions& options) {
  options.k6 = options.semconv = false;
  std::string_view rest = text;
  while (true) {
    size_t comma = rest.find(',');
    std::string token(rest.substr(0, comma));
    while (!token.empty() && token.back() == ' ') token.pop_back();
    while (!token.empty() && token.front() == ' ') token.erase(0, 1);
    if (token == "k6") {
      options.k6 = true;
    } else if (token == "semconv") {
      options.semconv = true;
    } else if (!token.empty()) {
      break;
    }
    if (comma == std::string_view::npos) {
      if (options.k6 || options.semconv) return;
      break;
    }
    rest = rest.substr(comma + 1);
  }
  throw ConfigError("invalid --otel-metrics " + Quote(std::string(text)) +
                    ": give k6, semconv or k6,semconv");
}

CLI::App* AddRunCommand(CLI::App& app, RunFlags& f) {
  CLI::App* run = app.add_subcommand("run", "Run a load test: a Lua script, or --url");
  AddRunFlags(run, f);
  return run;
}

void AddRunFlags(CLI::App* run, RunFlags& f) {
  run->add_option("script", f.script, "Lua script to run (see docs/scripting.md)");
  run->add_option("--url", f.url, "URL every virtual user requests (http:// or https://)");
  run->add_option("-X,--method", f.method, "HTTP method")->capture_default_str();
  run->add_option("-H,--header", f.headers, "Request header 'Name: value' (repeatable)")
      ->take_all()
      ->allow_extra_args(false);  // one value per flag: `-e K=V test.lua` keeps the script
  run->add_option("--body", f.body, "Request body: TEXT, or @FILE to read it from a file");
  run->add_option("-u,--vus", f.vus, "Virtual users (closed loop; default 1)");
  run->add_option("-d,--duration", f.duration, "How long to run, e.g. 30s, 1m30s");
  run->add_option("-i,--iterations", f.iterations, "Total requests, shared by all VUs");
  run->add_option("--threads", f.threads, "Worker threads (default: one per core)");
  run->add_option("--io", f.io,
                  "I/O backend: epoll, io_uring or auto (io_uring where the kernel allows it); "
                  "default STAMPEDE_IO, else epoll");
  run->add_option("--summary-export", f.summary_export, "Write the k6-style JSON summary here");
  run->add_flag("-q,--quiet", f.quiet, "No progress line");
  run->add_option("--graceful-stop", f.graceful_stop,
                  "Time in-flight requests get to finish at the end or on Ctrl-C")
      ->capture_default_str();
  run->add_option("--timeout", f.timeout, "Per-request timeout")->capture_default_str();
  run->add_option("--connect-timeout", f.connect_timeout,
                  "Timeout for DNS + TCP connect + TLS handshake")
      ->capture_default_str();
  run->add_flag("-k,--insecure-skip-tls-verify", f.insecure_skip_tls_verify,
                "Do not verify the server's TLS certificate");
  run->add_option("--cacert", f.ca_file, "Extra CA certificate file (PEM) to trust");
  run->add_option("--dns-server", f.dns_servers,
                  "DNS server IP[:port] to query instead of the system's (repeatable)")
      ->allow_extra_args(false);
  run->add_flag("--no-connection-reuse", f.no_connection_reuse,
                "Open a new connection for every request (k6 noConnectionReuse)");
  run->add_flag("--no-vu-connection-reuse", f.no_vu_connection_reuse,
                "Close a VU's connections at the end of each iteration (k6 noVUConnectionReuse)");
  run->add_flag("--http2-prior-knowledge", f.http2_prior_knowledge,
                "Speak HTTP/2 to http:// URLs without negotiation (h2c, like curl's flag)");
  run->add_flag("--no-http2", f.no_http2,
                "Do not offer HTTP/2 by ALPN on https:// (HTTP/1.1 only)");
  run->add_option("--streams-per-connection", f.streams_per_connection,
                  "--url over HTTP/2: VUs share connections, at most N concurrent streams each "
                  "(h2load's -m; total concurrency stays --vus)");
  run->add_option("--batch", f.batch,
                  "Most requests of one http.batch() in flight at once (default 20; 0: no limit)");
  run->add_option("--batch-per-host", f.batch_per_host,
                  "Most requests of one http.batch() in flight per host (default 6; 0: no limit)");
  run->add_option("-e,--env", f.env, "KEY=VALUE added to the script's ENV (repeatable)")
      ->take_all()
      ->allow_extra_args(false);  // one value per flag: `-e K=V test.lua` keeps the script
  run->add_option("--threshold", f.thresholds,
                  "Threshold 'metric:expression', e.g. 'http_req_duration:p(95)<500' (repeatable)")
      ->take_all()
      ->allow_extra_args(false);  // one value per flag: `-e K=V test.lua` keeps the script
  run->add_option("-s,--stage", f.stages, "Ramping stage DURATION:TARGET, e.g. 30s:50 (repeatable)")
      ->take_all()
      ->allow_extra_args(false);  // one value per flag: `-e K=V test.lua` keeps the script
  run->add_option("--execution-segment", f.execution_segment,
                  "This instance's part of a test split between instances (k6), e.g. 1/4:2/4");
  run->add_option("--execution-segment-sequence", f.execution_segment_sequence,
                  "Every instance's segments, e.g. 0,1/4,2/4,3/4,1 (give all instances the same)");
  run->add_option("--user-agent", f.user_agent, "User-Agent header (default stampede/VERSION; \"\" sends none)");
  run->add_flag("--otel", f.otel,
                "Export spans over OTLP, configured by the OTEL_EXPORTER_OTLP_* variables");
  run->add_option("--out", f.outs,
                  "Output: sqlite=PATH (the run store's file), or opentelemetry (k6's name; "
                  "means --otel) (repeatable)")
      ->allow_extra_args(false);
  run->add_flag("--no-store", f.no_store,
                "Do not write the run store (by default every run writes "
                "stampede-runs/<start>-<run id>.db)");
  run->add_option("--store-spans-per-second", f.store_spans_per_second,
                  "Request spans the run store keeps per second (failed first, then the "
                  "slowest)")
      ->capture_default_str();
  // Flags with an optional value take it only as --collect=ADDR, so that
  // `--collect test.lua` keeps the script.
  run->add_flag("--collect{127.0.0.1:4318}", f.collect,
                "Receive the service's spans over OTLP/HTTP while the run lasts "
                "(--collect=HOST:PORT; default 127.0.0.1:4318)");
  run->add_flag("--collect-grpc{127.0.0.1:4317}", f.collect_grpc,
                "Receive the service's spans over OTLP/gRPC (--collect-grpc=HOST:PORT; "
                "default 127.0.0.1:4317)");
  run->add_option("--collect-linger", f.collect_linger,
                  "Keep receiving this long after the run ends (the service's exporter "
                  "batches)")
      ->capture_default_str();
  run->add_option("--collect-forward", f.collect_forward,
                  "Also forward every received span to this OTLP/HTTP traces URL");
  run->add_option("--otel-metrics", f.otel_metrics,
                  "Metric families to export: k6 (k6's names), semconv (OTel HTTP client "
                  "metrics), or both")
      ->capture_default_str();
  run->add_option("--otel-metric-prefix", f.otel_metric_prefix,
                  "Prefix of the k6-named metrics (default stampede_; K6_OTEL_METRIC_PREFIX)");
  run->add_option("--otel-metric-cardinality-limit", f.metric_cardinality_limit,
                  "Most series per exported metric; later ones merge into otel.metric.overflow")
      ->capture_default_str();
  run->add_option("--prometheus", f.prometheus,
                  "Serve Prometheus /metrics at HOST:PORT (e.g. 127.0.0.1:9464) while the run "
                  "lasts");
  run->add_option("--linger", f.linger,
                  "Keep /metrics served this long after the run ends (for a last scrape)");
  run->add_option("--trace-keep-slower-than", f.trace_keep_slower_than,
                  "Also export unsampled requests slower than this (failed ones always are)");
  run->add_flag("--baggage-run-id", f.baggage_run_id,
                "Send the run id as W3C baggage (stampede.run.id=...) on every request");
  run->add_option("--trace-root", f.trace_root,
                  "iteration: a script iteration is one trace; request: every request its own")
      ->capture_default_str();
  run->add_option("--ui", f.ui,
                  "Serve a live dashboard while the run lasts (--ui [HOST:PORT]; default "
                  "127.0.0.1:5665, port 0 picks one)")
      ->expected(0, 1)
      ->default_str(kDefaultUiAddress);
  run->add_option("--ui-token", f.ui_token,
                  "The dashboard's control token (default: random, required off loopback; "
                  "given, it is required everywhere)");
  run->add_option("--ui-linger", f.ui_linger,
                  "Keep the dashboard up this long after the run ends (Ctrl-C ends it)");
  run->add_flag("--ui-open", f.ui_open,
                "Open the dashboard in a browser (xdg-open) when a display is available");
  run->add_option("--trace-url-template", f.trace_url_template,
                  "Link the dashboard's trace ids to your tracing UI, e.g. "
                  "https://grafana.example/explore?traceId={trace_id}");
}

engine::RunConfig BuildRunConfig(const RunFlags& given) {
  RunFlags f = given;
  // `--ui test.lua`: an optional value swallowed the script.
  if (!f.ui.empty() && f.script.empty() && f.url.empty()) {
    try {
      http::ParseListenAddress(f.ui, "--ui");
    } catch (const ConfigError&) {
      f.script = f.ui;
      f.ui = kDefaultUiAddress;
    }
  }
  engine::RunConfig c;
  if (f.script.empty() == f.url.empty()) {
    throw ConfigError(f.script.empty()
                          ? "nothing to run: give a script (stampede run test.lua) or --url URL"
                          : "give either a script or --url, not both");
  }
  if (!f.script.empty()) {
    std::ifstream in(f.script, std::ios::binary);
    if (!in) {
      throw ConfigError("cannot read script " + Quote(f.script) +
                        ": check the path (stampede run path/to/test.lua)");
    }
    std::ostringstream text;
    text << in.rdbuf();
    c.script_path = f.script;
    c.script_source = text.str();
  } else {
    c.url = http::ParseUrl(f.url, "--url");
    c.url_text = f.url;
  }
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    size_t eq = kv.find('=');
    if (eq != std::string::npos && eq > 0) c.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const std::string& kv : f.env) {
    size_t eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw ConfigError("invalid -e " + Quote(kv) + ": expected KEY=VALUE");
    }
    c.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
  }
  c.threshold_flags = f.thresholds;
  c.user_agent = f.user_agent;

  // Trace context, configured as the OpenTelemetry specification says.
  auto env = [&](const char* name) -> std::string {
    const char* v = getenv(name);
    return v == nullptr ? std::string() : std::string(v);
  };
  std::string warning;
  c.propagators = otel::ParsePropagators(env("OTEL_PROPAGATORS"), &warning);
  if (!warning.empty()) core::Warn("{}", warning);
  c.sampler = otel::Sampler::FromEnv(env("OTEL_TRACES_SAMPLER"), env("OTEL_TRACES_SAMPLER_ARG"));
  c.baggage_run_id = f.baggage_run_id;
  {
    otel::IdGenerator ids;
    c.run_id = otel::ToHex(ids.NewTraceId());
  }
  if (f.trace_root != "iteration" && f.trace_root != "request") {
    throw ConfigError("invalid --trace-root " + Quote(f.trace_root) + ": use iteration or request");
  }
  c.trace_root_request = f.trace_root == "request";
  // Spans are exported with --otel (to OTEL_TRACES_EXPORTER's exporter, OTLP
  // by default), or whenever OTEL_TRACES_EXPORTER names one (otlp, console);
  // OTEL_TRACES_EXPORTER=none (or OTEL_SDK_DISABLED=true) exports nothing.
  std::string exporter = env("OTEL_TRACES_EXPORTER");
  bool k6_output = false;
  for (const std::string& out : f.outs) {
    size_t eq = out.find('=');
    std::string name = out.substr(0, eq);
    if (name == "opentelemetry" || name == "experimental-opentelemetry") {
      k6_output = true;
    } else if (name == "sqlite") {
      c.store_path = eq == std::string::npos ? std::string() : out.substr(eq + 1);
      if (eq != std::string::npos && c.store_path.empty()) {
        throw ConfigError("invalid --out " + Quote(out) + ": give a file, e.g. --out sqlite=run.db");
      }
    } else {
      throw ConfigError("invalid --out " + Quote(out) +
                        ": stampede supports --out sqlite=PATH and --out opentelemetry (or "
                        "experimental-opentelemetry); for a JSON summary use --summary-export FILE");
    }
  }
  c.store = !f.no_store;
  if (f.no_store && !c.store_path.empty()) {
    throw ConfigError("--no-store and --out sqlite=" + c.store_path +
                      " contradict each other: give one of them");
  }
  if (f.store_spans_per_second < 0 || f.store_spans_per_second > 1'000'000) {
    throw ConfigError("invalid --store-spans-per-second " +
                      std::to_string(f.store_spans_per_second) + ": give a count from 0 to 1000000");
  }
  c.store_spans_per_second = static_cast<uint32_t>(f.store_spans_per_second);
  c.command_line = f.command_line;
  c.collect_address = f.collect;
  c.collect_grpc_address = f.collect_grpc;
  if (!f.collect_forward.empty()) {
    if (f.collect.empty() && f.collect_grpc.empty()) {
      throw ConfigError("--collect-forward " + Quote(f.collect_forward) +
                        " needs --collect (or --collect-grpc): there is nothing to forward");
    }
    http::ParseUrl(f.collect_forward, "--collect-forward");  // validates: one-line error
    c.collect_forward = f.collect_forward;
  }
  c.collect_linger_ns = core::ParseDuration(f.collect_linger, "--collect-linger").count();
  if (c.collect_linger_ns < 0 || c.collect_linger_ns > 600 * core::kNsPerSec) {
    throw ConfigError("invalid --collect-linger " + Quote(f.collect_linger) +
                      ": give a duration up to 10m");
  }
  const bool otel_on = f.otel || k6_output;
  if (otel_on || !exporter.empty()) {
    otel::OtlpConfig traces = otel::ParseOtlpConfig(otel::ProcessEnvironment(), otel::Signal::kTraces);
    for (const std::string& w : traces.warnings) core::Warn("{}", w);
    if (traces.exporter != otel::ExporterKind::kNone) c.traces_export = std::move(traces);
  }
  // Metrics: OTLP (--otel, OTEL_METRICS_EXPORTER, k6's K6_OTEL_* variables)
  // and Prometheus (--prometheus, OTEL_METRICS_EXPORTER=prometheus).
  c.metrics_export = otel::ParseMetricsConfig(otel::ProcessEnvironment(), otel_on, k6_output);
  for (const std::string& note : c.metrics_export.notes) core::Warn("{}", note);
  {
    metrics::ExportOptions& eo = c.metric_export_options;
    ParseMetricFamilies(f.otel_metrics, eo);
    if (f.otel_metric_prefix) {
      eo.prefix = *f.otel_metric_prefix;
    } else if (c.metrics_export.k6_prefix) {
      eo.prefix = *c.metrics_export.k6_prefix;
    }
    for (char ch : eo.prefix) {
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '.') {
        throw ConfigError("invalid metric prefix " + Quote(eo.prefix) +
                          ": use letters, digits, '_' or '.' (e.g. k6_)");
      }
    }
    if (f.metric_cardinality_limit < 2 || f.metric_cardinality_limit > 1'000'000) {
      throw ConfigError("invalid --otel-metric-cardinality-limit " +
                        std::to_string(f.metric_cardinality_limit) +
                        ": give a count from 2 to 1000000");
    }
    eo.cardinality_limit = static_cast<size_t>(f.metric_cardinality_limit);
  }
  if (f.prometheus) {
    if (f.prometheus->empty()) {
      throw ConfigError("invalid --prometheus \"\": give HOST:PORT, e.g. 127.0.0.1:9464");
    }
    c.prometheus_address = *f.prometheus;
  } else {
    c.prometheus_address = c.metrics_export.prometheus_address;
  }
  if (!f.linger.empty()) {
    c.linger_ns = core::ParseDuration(f.linger, "--linger").count();
    if (c.linger_ns < 0 || c.linger_ns > 3600 * core::kNsPerSec) {
      throw ConfigError("invalid --linger " + Quote(f.linger) + ": give a duration up to 1h");
    }
  }
  if (!f.trace_keep_slower_than.empty()) {
    c.trace_keep_slower_than_ns =
        core::ParseDuration(f.trace_keep_slower_than, "--trace-keep-slower-than").count();
  }
  if (f.method.empty()) throw ConfigError("invalid -X \"\": give a method such as GET or POST");
  for (char ch : f.method) {
    if (!std::isalpha(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') {
      throw ConfigError("invalid -X " + Quote(f.method) + ": a method is letters only, e.g. GET");
    }
  }
  c.method = f.method;
  for (char& ch : c.method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  for (const std::string& h : f.headers) c.headers.push_back(ParseHeader(h));
  c.body = ReadBody(f.body);

  const bool vus_given = f.vus != -1;
  if (vus_given && (f.vus < 1 || f.vus > 10'000'000)) {
    throw ConfigError("invalid --vus " + std::to_string(f.vus) + ": give at least 1 virtual user");
  }
  c.vus = vus_given ? static_cast<uint32_t>(f.vus) : 1;
  bool have_duration = !f.duration.empty();
  bool have_iterations = f.iterations != -2;
  if (have_iterations && f.iterations < 1) {
    throw ConfigError("invalid --iterations " + std::to_string(f.iterations) +
                      ": give a positive count");
  }
  if (have_duration) {
    c.duration_ns = core::ParseDuration(f.duration, "--duration").count();
    if (c.duration_ns <= 0) {
      throw ConfigError("invalid --duration " + Quote(f.duration) + ": give a positive duration");
    }
  }
  if (have_iterations) c.iterations = static_cast<uint64_t>(f.iterations);
  // Script mode: flags that were given override the script's options.
  if (vus_given) c.overrides.vus = f.vus;
  if (have_duration) c.overrides.duration_ns = c.duration_ns;
  if (have_iterations) c.overrides.iterations = f.iterations;
  if (!f.stages.empty()) {
    std::vector<engine::Stage> stages;
    for (const std::string& st : f.stages) stages.push_back(engine::ParseStageFlag(st));
    c.overrides.stages = stages;
  }
  c.execution_segment = engine::ExecutionSegment::Parse(f.execution_segment);
  c.execution_segment_sequence =
      engine::ExecutionSegmentSequence::Parse(f.execution_segment_sequence);
  if (c.Segmented()) {
    // The segment must be in the sequence: checked here, before any work.
    engine::ExecutionTuple(c.execution_segment, c.execution_segment_sequence);
  }
  if (!have_duration && c.script_path.empty()) {
    // Every run is bounded in time. With --iterations alone, k6's maxDuration
    // default (10m) applies; with neither, a 10 s test.
    c.duration_ns = have_iterations ? 600'000'000'000 : 10'000'000'000;
  }
  if (f.threads < 0 || f.threads > 1024) {
    throw ConfigError("invalid --threads " + std::to_string(f.threads) +
                      ": give a count from 1 to 1024 (0 or none: one per core)");
  }
  {
    // The loops' backend is process-wide and decided here, before any loop
    // exists. io_uring refused by the kernel falls back to epoll with one
    // line (never a failure); auto falls back silently (the summary says).
    std::string io = f.io;
    if (io.empty()) {
      const char* e = getenv("STAMPEDE_IO");
      io = e != nullptr && *e != '\0' ? e : "epoll";
    }
    loop::Backend requested;
    if (!loop::ParseBackend(io, &requested)) {
      throw ConfigError("invalid --io " + Quote(io) +
                        (f.io.empty() ? " (from STAMPEDE_IO)" : "") +
                        ": give epoll, io_uring or auto");
    }
    loop::ResolvedBackend resolved = loop::Resolve(requested);
    if (!resolved.fallback_note.empty()) core::Warn("{}", resolved.fallback_note);
    loop::SetProcessBackend(resolved.backend);
    c.io_backend = loop::BackendName(resolved.backend);
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  c.threads = f.threads > 0 ? static_cast<uint32_t>(f.threads) : cores;
  // A worker without VUs would idle (script mode caps by the plan's VUs).
  if (c.script_path.empty() && c.threads > c.vus) c.threads = c.vus;

  c.graceful_stop_ns = core::ParseDuration(f.graceful_stop, "--graceful-stop").count();
  c.request_timeout_ns = core::ParseDuration(f.timeout, "--timeout").count();
  c.connect_timeout_ns = core::ParseDuration(f.connect_timeout, "--connect-timeout").count();
  if (c.request_timeout_ns <= 0) throw ConfigError("invalid --timeout " + Quote(f.timeout) + ": give a positive duration");
  if (c.connect_timeout_ns <= 0) throw ConfigError("invalid --connect-timeout " + Quote(f.connect_timeout) + ": give a positive duration");
  c.insecure_skip_tls_verify = f.insecure_skip_tls_verify;
  if (!f.ca_file.empty() && access(f.ca_file.c_str(), R_OK) != 0) {
    throw ConfigError("invalid --cacert " + Quote(f.ca_file) + ": cannot read the file");
  }
  c.ca_file = f.ca_file;
  c.dns_servers = f.dns_servers;
  c.no_connection_reuse = f.no_connection_reuse;
  c.no_vu_connection_reuse = f.no_vu_connection_reuse;
  c.http2 = !f.no_http2;
  c.http2_prior_knowledge = f.http2_prior_knowledge;
  if (f.streams_per_connection < 0 || f.streams_per_connection > 1'000'000) {
    throw ConfigError("invalid --streams-per-connection " +
                      std::to_string(f.streams_per_connection) +
                      ": give a count from 1 to 1000000 (0: a connection per VU)");
  }
  c.streams_per_connection = static_cast<uint32_t>(f.streams_per_connection);
  if (c.streams_per_connection > 0 && c.script_path.empty() && !c.url.is_https() &&
      !c.http2_prior_knowledge) {
    throw ConfigError("--streams-per-connection needs HTTP/2: add --http2-prior-knowledge for "
                      "an http:// URL (https:// negotiates it)");
  }
  if (c.streams_per_connection > 0 && !c.script_path.empty()) {
    throw ConfigError("--streams-per-connection applies to --url runs; in a script, "
                      "http.batch() multiplexes its requests on one HTTP/2 connection");
  }
  auto batch_limit = [](int64_t v, const char* flag) {
    if (v < 0 || v > 1'000'000) {
      throw ConfigError("invalid " + std::string(flag) + " " + std::to_string(v) +
                        ": give a count from 0 (no limit) to 1000000");
    }
    return static_cast<uint32_t>(v);
  };
  if (f.batch != RunFlags::kNotGiven) {
    c.batch = batch_limit(f.batch, "--batch");
    c.batch_flag = true;
  }
  if (f.batch_per_host != RunFlags::kNotGiven) {
    c.batch_per_host = batch_limit(f.batch_per_host, "--batch-per-host");
    c.batch_per_host_flag = true;
  }
  if (!f.ui.empty()) {
    http::ParseListenAddress(f.ui, "--ui");  // a bad address: one line, exit 104
    c.ui_address = f.ui;
  } else if (!f.ui_token.empty() || !f.ui_linger.empty() || f.ui_open ||
             !f.trace_url_template.empty()) {
    throw ConfigError("--ui-token, --ui-linger, --ui-open and --trace-url-template need --ui");
  }
  report::ValidateTraceUrlTemplate(f.trace_url_template);
  c.trace_url_template = f.trace_url_template;
  c.ui_token = f.ui_token;
  for (char ch : c.ui_token) {
    if (ch <= ' ' || ch > '~') {
      throw ConfigError("invalid --ui-token: use printable ASCII without spaces");
    }
  }
  if (!f.ui_linger.empty()) {
    c.ui_linger_ns = core::ParseDuration(f.ui_linger, "--ui-linger").count();
    if (c.ui_linger_ns < 0 || c.ui_linger_ns > 24 * 3600 * core::kNsPerSec) {
      throw ConfigError("invalid --ui-linger " + Quote(f.ui_linger) + ": give a duration up to 24h");
    }
  }
  c.ui_open = f.ui_open;
  c.quiet = f.quiet;
  c.summary_export = f.summary_export;
  return c;
}

int RunCommand(const RunFlags& flags) {
  engine::RunConfig config = BuildRunConfig(flags);
  return engine::Runner(std::move(config)).Run();
}

}  // namespace stampede::cli
