#include "engine/runner.h"


#include <fmt/format.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <fstream>

#include "core/clock.h"
#include "core/duration.h"
#include "core/error.h"
#include "core/log.h"
#include "engine/client_stack.h"
#include "engine/custom_metrics.h"
#include "engine/dashboard_wiring.h"
#include "engine/request_recorder.h"
#include "otel/otlp_grpc_exporter.h"
#include "otel/otlp_http_exporter.h"
#include "otel/console_exporter.h"
#include "otel/metrics_pipeline.h"
#include "engine/script_options.h"
#include "engine/script_worker.h"
#include "engine/metric_outputs.h"
#include "engine/worker.h"
#include "metrics/export_model.h"
#include "http/client.h"
#include "loop/event_loop.h"
#include "net/error_type.h"
#include "net/resolver.h"
#include "net/tls.h"
#include "report/summary.h"
#include "report/summary_json.h"
#include "script/runtime.h"

namespace stampede::engine {
namespace {

// Blocks SIGINT/SIGTERM for this thread and every thread it spawns from now
// on; restores the previous mask when it goes out of scope.
class SignalBlock {
 public:
  SignalBlock() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SignalBlock() {
    timespec zero{0, 0};
    while (sigtimedwait(&set_, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  // Waits up to `timeout_ns` for a signal; returns it, or 0. An EINTR is
  // not the end of the wait: io_uring's task work, for one, interrupts
  // sleeps of the thread that made a ring (its notification is a pseudo-
  // signal), and a linger cut short loses the spans or scrapes it was for.
  int Wait(int64_t timeout_ns) {
    const core::MonotonicClock clock;
    const int64_t deadline = clock.NowNs() + timeout_ns;
    while (true) {
      int64_t left = deadline - clock.NowNs();
      if (left < 0) left = 0;
      timespec ts{static_cast<time_t>(left / core::kNsPerSec),
                  static_cast<long>(left % core::kNsPerSec)};
      int sig = sigtimedwait(&set_, nullptr, &ts);
      if (sig > 0) return sig;
      if (errno != EINTR || left == 0) return 0;
    }
  }

 private:
  sigset_t set_;
  sigset_t old_;
};

std::string FormatSeconds(int64_t ns) {
  int64_t s = ns / core::kNsPerSec;
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

core::ConfigError ScriptFailure(const std::string& message) {
  return core::ConfigError(message, core::ExitCode::kScriptException);
}

}  // namespace

// The script loaded on the main thread with a loop of its own: its init
// validates the script, yields `options` and defines the script's custom
// metrics in `registry`; setup() and teardown() run here.
class Runner::ScriptProbe {
 public:
  ScriptProbe(const RunConfig& c, metrics::Registry& registry)
      : loop_(clock_), stack_(loop_, c, /*with_tls=*/true) {
    script::RuntimeOptions options = RuntimeOptionsFor(c);
    options.define_metric = DefineCustomMetricsIn(registry);
    runtime_ = std::make_unique<script::Runtime>(options, loop_, stack_.client());
    runtime_->set_network({&stack_.resolver(), stack_.tls(), c.connect_timeout_ns,
                           c.request_timeout_ns});
  }
  script::Runtime& runtime() { return *runtime_; }
  // Init ran before the script's options were known: setup() and teardown()
  // get them from here on.
  void ApplyScriptOptions(const RunConfig& c) {
    runtime_->ApplyScriptOptions(RuntimeOptionsFor(c));
    stack_.client().set_reuse_connections(!c.no_connection_reuse);
    if (net::TlsContext* tls = stack_.tls()) tls->SetInsecureSkipVerify(c.insecure_skip_tls_verify);
  }

 private:
  core::MonotonicClock clock_;
  loop::EventLoop loop_;
  ClientStack stack_;
  std::unique_ptr<script::Runtime> runtime_;
};

metrics::Registry RunRegistry(bool metric_outputs, bool span_counters) {
  metrics::Registry registry = metrics::Registry::WithBuiltins();
  registry.Define("http_req_looking_up", metrics::MetricType::kTrend, metrics::ValueType::kTime);
  metrics::DefineWsMetrics(registry);  // stampede.ws
  // The span pipeline's counters, for the metric outputs and the store (the
  // summary prints them on a line of their own). Never on the request path.
  if (span_counters) {
    for (const char* name : {"spans_exported", "spans_dropped", "spans_failed"}) {
      registry.DefineInternal(name, metrics::MetricType::kCounter, metrics::ValueType::kDefault);
    }
  }
  // Recorded only when an output reads them: each costs the request loop a
  // few instructions (~3 % of its user-space instructions under callgrind).
  if (!metric_outputs) return registry;
  // The OTel HTTP client metrics (metrics/export_model.h), recorded by the
  // workers and exported by the semconv family; never in the summary.
  registry.DefineInternal(metrics::kHttpClientRequestDuration, metrics::MetricType::kTrend,
                          metrics::ValueType::kTime);
  registry.DefineInternal(metrics::kHttpClientOpenConnections, metrics::MetricType::kCounter,
                          metrics::ValueType::kDefault);
  registry.DefineInternal(metrics::kHttpClientConnectionDuration, metrics::MetricType::kTrend,
                          metrics::ValueType::kTime);
  return registry;
}

Runner::Runner(RunConfig config)
    : config_(std::move(config)),
      registry_(RunRegistry(WantsMetricOutputs(config_),
                            WantsMetricOutputs(config_) || config_.store)) {
  if (!config_.execution) config_.execution = std::make_shared<script::Execution>();
  if (config_.script_path.empty() && config_.Segmented()) {
    // --url mode is constant-vus or shared-iterations: this instance's share
    // of the VUs and of the iterations (k6 ScaleInt64; the shares add up).
    const ExecutionTuple tuple(config_.execution_segment, config_.execution_segment_sequence);
    config_.vus = static_cast<uint32_t>(tuple.Scale(config_.vus));
    config_.iterations = static_cast<uint64_t>(tuple.Scale(static_cast<int64_t>(config_.iterations)));
  }
}

// "  segment: 1/4:1/2 of 0,1/4,1/2,3/4,1\n" when this instance runs a part.
std::string Runner::SegmentLine() const {
  if (!config_.Segmented()) return "";
  const ExecutionTuple tuple(config_.execution_segment, config_.execution_segment_sequence);
  std::string points;
  for (const auto& p : tuple.points()) points += (points.empty() ? "" : ",") + p.ToString();
  return fmt::format("    segment: {} of {} (instance {} of {})\n",
                     config_.execution_segment.ToString(), points, tuple.index() + 1,
                     tuple.points().size() - 1);
}

Runner::~Runner() = default;

// Counts the requests and checks of setup() and teardown() (k6 counts them
// too) in a shard of the main thread's.
class Runner::ProbeHost final : public script::ScriptHost {
 public:
  explicit ProbeHost(const metrics::Registry& registry) : shard_(registry), recorder_(shard_) {
    for (size_t i = 0; i < kWsMetricNames.size(); ++i) {
      ws_metrics_[i] = registry.Find(kWsMetricNames[i]).value_or(kNoMetric);
    }
  }
  // WebSockets in setup()/teardown(): their metrics (no session spans: the
  // probe records no spans for its requests either).
  void OnWsMetric(script::Vu&, WsMetric metric, double value,
                  const std::vector<Tag>& tags) override {
    const metrics::MetricId id = ws_metrics_[static_cast<size_t>(metric)];
    if (id != kNoMetric) shard_.Add(id, Intern(tags), value);
  }
  void OnRequest(script::Vu&, const http::Exchange& ex, const std::vector<Tag>& tags,
                 script::ResponseVerdict verdict, const RequestTrace&) override {
    recorder_.RecordHttp(ex, Intern(tags), FailedSample(verdict));
  }
  void OnCheck(script::Vu&, std::string_view, bool passed, const std::vector<Tag>& tags) override {
    shard_.Add(metrics::builtin::kChecks, Intern(tags), passed ? 1 : 0);
  }
  void OnGroupEnd(script::Vu&, int64_t duration_ns, const std::vector<Tag>& tags) override {
    shard_.Add(metrics::builtin::kGroupDuration, Intern(tags), static_cast<double>(duration_ns));
  }
  void OnMetric(script::Vu&, uint32_t metric, double value, const std::vector<Tag>& tags) override {
    shard_.Add(metric, Intern(tags), value);
  }
  void OnIterationEnd(script::Vu&, int64_t, std::string_view) override {}
  const metrics::Shard& shard() const { return shard_; }

 private:
  metrics::TagSetId Intern(const std::vector<Tag>& tags) {
    std::vector<metrics::Tag> t;
    for (const Tag& tag : tags) t.push_back({tag.key, tag.value});
    return shard_.Intern(t);
  }
  static constexpr metrics::MetricId kNoMetric = UINT32_MAX;
  std::array<metrics::MetricId, 8> ws_metrics_{};
  metrics::Shard shard_;
  RequestRecorder recorder_;
};

void Runner::PrepareScript() {
  try {
    probe_ = std::make_unique<ScriptProbe>(config_, registry_);  // defines custom metrics
  } catch (const script::ScriptError& e) {
    if (config_.execution->aborted()) {
      throw core::ConfigError("test aborted by the script at init: " + config_.execution->abort_reason(),
                              core::ExitCode::kScriptAborted);
    }
    throw ScriptFailure(e.what());
  }
  probe_host_ = std::make_unique<ProbeHost>(registry_);
  probe_->runtime().set_host(probe_host_.get());
  nlohmann::json options;
  try {
    options = probe_->runtime().Options();
  } catch (const script::ScriptError& e) {
    throw core::ConfigError(e.what());
  }
  // Script options that map onto flags; a flag given on the command line wins
  // (k6's order). Wrong types are errors; unknown keys one warning line.
  ScriptOptions so = ParseScriptOptions(options);
  if (!so.ignored_warning.empty()) core::Warn("{}", so.ignored_warning);
  if (so.discard_response_bodies) config_.discard_response_bodies = *so.discard_response_bodies;
  if (so.insecure_skip_tls_verify && !config_.insecure_skip_tls_verify) {
    config_.insecure_skip_tls_verify = *so.insecure_skip_tls_verify;
  }
  if (so.user_agent && !config_.user_agent) config_.user_agent = *so.user_agent;
  if (so.setup_timeout_ns) config_.setup_timeout_ns = *so.setup_timeout_ns;
  if (so.teardown_timeout_ns) config_.teardown_timeout_ns = *so.teardown_timeout_ns;
  if (so.no_connection_reuse && !config_.no_connection_reuse) {
    config_.no_connection_reuse = *so.no_connection_reuse;
  }
  if (so.http2_prior_knowledge && !config_.http2_prior_knowledge) {
    config_.http2_prior_knowledge = *so.http2_prior_knowledge;
  }
  if (so.no_vu_connection_reuse && !config_.no_vu_connection_reuse) {
    config_.no_vu_connection_reuse = *so.no_vu_connection_reuse;
  }
  if (so.batch && !config_.batch_flag) config_.batch = static_cast<uint32_t>(*so.batch);
  if (so.batch_per_host && !config_.batch_per_host_flag) {
    config_.batch_per_host = static_cast<uint32_t>(*so.batch_per_host);
  }
  probe_->ApplyScriptOptions(config_);
  whole_plan_ =
      ParsePlan(options.is_null() ? nlohmann::json::object() : options, config_.overrides);
  plan_ = config_.Segmented() ? SegmentForInstance(whole_plan_, config_.execution_segment,
                                                   config_.execution_segment_sequence)
                              : whole_plan_;
  for (const Scenario& sc : plan_.scenarios) {
    if (!probe_->runtime().HasFunction(sc.exec)) {
      throw ScriptFailure(fmt::format(
          "{}: scenario \"{}\" runs \"{}\", which the script does not define as a function",
          config_.script_path, sc.name, sc.exec));
    }
  }
  script_options_ = options;
  PrepareThresholds(options);
}

void Runner::PrepareThresholds(const nlohmann::json& options) {
  // An agent's thresholds are judged by its coordinator, on the whole test.
  if (config_.link) return;
  if (options.is_object() && options.contains("thresholds")) {
    thresholds_ = metrics::ThresholdSet::FromJson(options["thresholds"], &registry_);
  }
  for (const std::string& flag : config_.threshold_flags) thresholds_.AddFlag(flag);
  thresholds_.Validate(registry_);
}

RunOutcome Runner::Execute() {
  const bool script_mode = !config_.script_path.empty();
  if (script_mode) {
    PrepareScript();
  } else {
    PrepareThresholds(nlohmann::json());
  }

  SignalBlock signals;
  core::MonotonicClock clock;
  RunOutcome out;

  // The run store and the receiver exist before setup(), so that a bad path
  // or a busy port stops the run before any load.
  core::WallAnchor anchor(clock);
  recording_ = std::make_unique<RunRecording>(config_, script_options_, thresholds_,
                                              anchor.ToUnixNs(clock.NowNs()));
  if (!config_.ui_address.empty()) {
    dashboard_ = std::make_unique<DashboardWiring>(config_, script_mode ? &plan_ : nullptr,
                                                   thresholds_, anchor.ToUnixNs(clock.NowNs()));
  }

  if (config_.link) {
    // An agent: the coordinator ran setup(); its data comes with the start.
    std::optional<nlohmann::json> data =
        config_.link->AwaitStart([&](int64_t ns) { return signals.Wait(ns) != 0; });
    if (!data) {
      out.cancelled = true;
      out.aborted_by_signal = true;
      core::Warn("the coordinator did not start the test: no load ran here");
    } else {
      setup_data_ = std::move(*data);
    }
  } else if (script_mode) {
    try {
      setup_data_ = probe_->runtime().RunSetup(config_.setup_timeout_ns);
    } catch (const script::ScriptError& e) {
      if (!config_.execution->aborted()) throw ScriptFailure(e.what());
      // execution.test.abort() in setup(): no load, but teardown() runs (k6);
      // the warning comes once the (empty) load phase ends.
      out.aborted_by_script = true;
    }
  }

  if (config_.fleet && !out.aborted_by_script) {
    // A coordinator: every agent joins and initialises before the clock starts.
    config_.fleet->SetSetupData(setup_data_);
    if (recording_->storing()) config_.fleet->SetSpanSink(recording_->SpanHook());
    if (!config_.fleet->AwaitAgents([&](int64_t ns) { return signals.Wait(ns) != 0; })) {
      out.cancelled = true;
      out.aborted_by_signal = true;
    }
  }
  const int64_t start_ns = clock.NowNs();
  std::vector<std::unique_ptr<WorkerBase>> owned_workers;
  std::vector<WorkerBase*> workers;
  if (out.cancelled) {
    // Nothing to run.
  } else if (config_.fleet) {
    workers.push_back(config_.fleet.get());  // the agents' load, merged
  } else if (script_mode && !out.aborted_by_script) {
    uint32_t threads = std::max<uint32_t>(
        1, std::min<uint32_t>(config_.threads, std::max<uint32_t>(1, plan_.MaxVus())));
    std::vector<script::Execution::ScenarioInfo> infos;
    for (const Scenario& sc : plan_.scenarios) {
      script::Execution::ScenarioInfo info;
      info.name = sc.name;
      info.executor = std::string(ExecutorName(sc.type));
      info.start_offset_ns = sc.start_time_ns;
      info.duration_ns = sc.RegularDurationNs();
      if (sc.type == ExecutorType::kSharedIterations) {
        info.total_iterations = static_cast<uint64_t>(sc.iterations);
      } else if (sc.type == ExecutorType::kPerVuIterations) {
        info.total_iterations = static_cast<uint64_t>(sc.vus * sc.iterations);
      }
      infos.push_back(std::move(info));
    }
    uint32_t instance_index = 0, instance_count = 1;
    if (config_.Segmented()) {
      const ExecutionTuple tuple(config_.execution_segment, config_.execution_segment_sequence);
      instance_index = static_cast<uint32_t>(tuple.index());
      instance_count = static_cast<uint32_t>(tuple.points().size() - 1);
    }
    config_.execution->Configure(std::move(infos), static_cast<int>(threads), ConsolidatedOptions(),
                                 instance_index, instance_count);
    config_.execution->SetStart(start_ns, anchor.ToUnixNs(start_ns));
    for (uint32_t i = 0; i < threads; ++i) {
      owned_workers.push_back(std::make_unique<ScriptWorker>(static_cast<int>(i),
                                                       static_cast<int>(threads), config_,
                                                       registry_, SegmentFor(plan_, i, threads),
                                                       setup_data_, start_ns));
    }
  } else if (!script_mode && config_.vus == 0) {
    // An execution segment with no VU of the test: nothing to run here.
    core::Warn("execution segment {} gets none of the test's VUs: this instance runs no load",
               config_.execution_segment.ToString());
  } else if (!script_mode) {
    // VUs spread evenly; shared iterations split in proportion to VUs, so a
    // worker's VUs share only the worker's budget (no cross-thread counter).
    const uint32_t threads = std::max<uint32_t>(1, std::min(config_.threads, config_.vus));
    uint64_t iterations_left = config_.iterations;
    for (uint32_t i = 0; i < threads; ++i) {
      uint32_t vus = config_.vus / threads + (i < config_.vus % threads ? 1 : 0);
      uint64_t iterations = 0;
      if (config_.iterations > 0) {
        iterations = (i + 1 == threads) ? iterations_left : config_.iterations * vus / config_.vus;
        iterations_left -= iterations;
        if (iterations == 0) continue;  // fewer iterations than workers
      }
      owned_workers.push_back(std::make_unique<Worker>(static_cast<int>(i), config_, registry_,
                                                       vus, iterations, start_ns));
    }
  }
  for (auto& w : owned_workers) workers.push_back(w.get());
  // Spans: one sink per worker, one exporter thread. The load never waits for
  // it: full sinks drop and count.
  // Metric outputs (and the run store) read the one result model: the main
  // thread publishes a cumulative Snapshot every second to them.
  const bool metric_outputs = WantsMetricOutputs(config_) || recording_->storing();
  // The dashboard and an agent's coordinator read the same snapshots.
  const bool live = metric_outputs || dashboard_ || config_.link;
  std::unique_ptr<MetricOutputs> outputs;
  if (metric_outputs) {
    outputs = std::make_unique<MetricOutputs>(config_, registry_, anchor.ToUnixNs(start_ns));
  }
  std::unique_ptr<otel::ExportPipeline> pipeline;
  const bool forwarding = config_.link && config_.forward_spans;
  if (config_.traces_export || recording_->storing() || forwarding) {
    std::unique_ptr<otel::Exporter> exporter;
    otel::ExportPipelineOptions po;
    if (config_.traces_export) {
      const otel::OtlpConfig& oc = *config_.traces_export;
      if (oc.exporter == otel::ExporterKind::kConsole) {
        exporter = std::make_unique<otel::ConsoleExporter>();  // stdout, before the summary
      } else if (oc.protocol == otel::OtlpProtocol::kGrpc) {
        exporter = std::make_unique<otel::OtlpGrpcExporter>(oc);
      } else {
        exporter = std::make_unique<otel::OtlpHttpExporter>(oc);
      }
      po = otel::ExportPipelineOptions::FromConfig(oc);
      std::function<void(std::string_view)> exemplars;
      if (outputs) exemplars = outputs->ExemplarHook();
      if (dashboard_) {
        // The dashboard's exemplars too name only spans the collector took.
        auto ui = dashboard_->SpanHook(/*exported=*/true);
        exemplars = exemplars ? [a = std::move(exemplars), ui](std::string_view r) { a(r); ui(r); }
                              : ui;
      }
      po.on_exported = std::move(exemplars);
      if (oc.exporter == otel::ExporterKind::kConsole) {
        core::Info("writing spans to stdout, one OTLP/JSON line per span");
      } else {
        core::Info("exporting spans over OTLP ({}) to {}", otel::ProtocolName(oc.protocol),
                   oc.protocol == otel::OtlpProtocol::kGrpc ? oc.grpc_target : oc.endpoint);
      }
    } else {
      // Spans only for the store: small batches, often, so that its windows
      // close soon after their second.
      exporter = RunRecording::StoreOnlyExporter();
      const char* service = getenv("OTEL_SERVICE_NAME");
      po.resource_attributes.emplace_back("service.name",
                                          service != nullptr && *service ? service : "stampede");
      po.schedule_delay = std::chrono::seconds(1);
    }
    AddRunResource(config_, po.resource_attributes);
    po.on_batch = recording_->SpanHook();
    if (forwarding) {
      // An agent: its spans also go to the coordinator's run store.
      std::shared_ptr<CoordinatorLink> link = config_.link;
      auto forward = [link](std::string_view r) { link->ForwardSpans(r); };
      po.on_batch = po.on_batch ? [a = std::move(po.on_batch), forward](std::string_view r) {
        a(r);
        forward(r);
      } : std::function<void(std::string_view)>(forward);
    }
    if (dashboard_ && !config_.traces_export) {
      // Spans only for the store: the dashboard's exemplars are what it records.
      auto ui = dashboard_->SpanHook(/*exported=*/false);
      po.on_batch = po.on_batch ? [a = std::move(po.on_batch), ui](std::string_view r) { a(r); ui(r); }
                                : ui;
    }
    if (dashboard_ && recording_->storing()) dashboard_->set_store_path(recording_->store_path());
    pipeline = std::make_unique<otel::ExportPipeline>(std::move(exporter),
                                                      static_cast<int>(workers.size()), po);
    for (size_t i = 0; i < workers.size(); ++i) {
      workers[i]->set_tracing(&pipeline->sink(static_cast<int>(i)), &anchor);
    }
  }
  try {
    for (auto& w : workers) w->Start();
  } catch (const script::ScriptError& e) {
    for (auto& w : workers) w->RequestStop(true);
    throw ScriptFailure(e.what());
  }

  // The run's own series: VU gauges sampled here (they are the run's, not a
  // worker's).
  metrics::Shard run_shard(registry_);
  std::vector<metrics::Snapshot> latest(workers.size());
  // The run's cumulative snapshot so far, from the workers' newest published
  // copies (plus the run's and setup()'s own shards).
  // `data_ns` becomes the oldest of the running workers' copies' times: the
  // instant up to which the snapshot holds every worker's data.
  auto whole_so_far = [&](int64_t now, int64_t* data_ns = nullptr) {
    int64_t oldest = now;
    for (size_t i = 0; i < workers.size(); ++i) {
      if (workers[i] == config_.fleet.get()) {
        if (auto remote = config_.fleet->Latest()) latest[i] = *remote;
        continue;
      }
      workers[i]->publisher().Consume([&](const metrics::Shard& s) {
        const metrics::Shard* one[] = {&s};
        latest[i] = metrics::Snapshot::Merge(registry_, one);
      });
      if (!workers[i]->progress().done.load(std::memory_order_acquire)) {
        oldest = std::min(oldest, std::max(start_ns, workers[i]->publisher().time_ns()));
      }
    }
    if (data_ns != nullptr) *data_ns = oldest;
    std::vector<const metrics::Shard*> own{&run_shard};
    if (outputs) own.push_back(&outputs->span_shard());
    if (probe_) own.push_back(&probe_host_->shard());
    metrics::Snapshot whole = metrics::Snapshot::Merge(registry_, own);
    for (const metrics::Snapshot& s : latest) whole.MergeFrom(s);
    whole.set_elapsed_ns(now - start_ns);
    return whole;
  };
  // Workers publish once a second from their start; the live snapshot is
  // taken half a second after, so it holds the copies just published.
  const int64_t live_every = core::kNsPerSec;
  int64_t next_live = start_ns + live_every + live_every / 2;
  auto sample_vus = [&] {
    uint32_t vus = 0, vus_max = 0;
    for (auto& w : workers) {
      vus += w->progress().active_vus.load(std::memory_order_relaxed);
      vus_max += w->progress().allocated_vus.load(std::memory_order_relaxed);
    }
    run_shard.Add(metrics::builtin::kVus, metrics::Shard::kNoTags, vus);
    run_shard.Add(metrics::builtin::kVusMax, metrics::Shard::kNoTags, vus_max);
    return vus;
  };

  const bool tty = isatty(STDERR_FILENO) == 1;
  const int64_t progress_every = tty ? core::kNsPerSec : 10 * core::kNsPerSec;
  const int64_t threshold_every = 2 * core::kNsPerSec;
  int64_t next_progress = start_ns + progress_every;
  int64_t next_thresholds = start_ns + threshold_every;
  int64_t next_sample = start_ns + 100'000'000;
  int signals_seen = 0;
  bool link_stop_seen = false;
  uint64_t link_steering_seen = 0;
  bool paused_seen = false;
  uint64_t control_seen = 0;
  auto all_done = [&] {
    for (auto& w : workers) {
      if (!w->progress().done.load(std::memory_order_acquire)) return false;
    }
    return true;
  };
  while (!all_done()) {
    int64_t now = clock.NowNs();
    int64_t next = std::min({next_progress, next_thresholds, next_sample,
                             live ? next_live : INT64_MAX});
    int64_t wait = std::min<int64_t>(200'000'000, std::max<int64_t>(1, next - now));
    if (int sig = signals.Wait(wait); sig != 0) {
      ++signals_seen;
      out.aborted_by_signal = true;
      bool hard = signals_seen >= 2;
      core::Warn("{}: {}", sig == SIGINT ? "interrupted" : "terminated",
                 hard ? "stopping now" : "stopping gracefully (again to stop now)");
      for (auto& w : workers) w->RequestStop(hard);
    }
    if (config_.link) {
      // The coordinator's dashboard steered the test: whole-test targets,
      // which this agent's workers turn into its segment's share.
      nlohmann::json st = config_.link->steering();
      if (const uint64_t v = st.value("version", uint64_t{0}); v > link_steering_seen) {
        link_steering_seen = v;
        config_.execution->SetPaused(st.value("paused", false));
        const nlohmann::json scenarios = st.value("scenarios", nlohmann::json::object());
        for (const auto& [name, target] : scenarios.items()) {
          const int index = config_.execution->ScenarioIndex(name);
          if (index < 0) continue;
          if (target.contains("vus")) config_.execution->SetScenarioVus(index, target["vus"].get<int64_t>());
          if (target.contains("rate")) config_.execution->SetScenarioRate(index, target["rate"].get<double>());
        }
      }
    }
    if (config_.link && !link_stop_seen) {
      // The coordinator's stop (a threshold's abortOnFail on the whole test,
      // its Ctrl-C, a lost agent with --on-agent-loss abort, or its own loss).
      const CoordinatorLink::Command c = config_.link->command();
      if (c != CoordinatorLink::Command::kNone) {
        link_stop_seen = true;
        const bool hard = c == CoordinatorLink::Command::kAbort;
        core::Warn("the coordinator stopped the test{}", hard ? " (at once)" : "");
        for (auto& w : workers) w->RequestStop(hard);
      }
    }
    if (dashboard_ && dashboard_->TakeStop()) {
      core::Warn("stop requested from the dashboard: stopping gracefully");
      for (auto& w : workers) w->RequestStop(false);
    }
    now = clock.NowNs();
    if (now >= next_sample) {
      sample_vus();
      next_sample += 200'000'000;
    }
    // Every tick advances, with or without thresholds (a tick left in the
    // past would turn the wait above into a busy loop).
    bool threshold_tick = now >= next_thresholds;
    if (threshold_tick) next_thresholds += threshold_every;
    const bool live_tick = live && now >= next_live;
    if (live_tick) {
      while (next_live <= now) next_live += live_every;
    }
    if (live_tick && pipeline && outputs) outputs->AddSpanCounters(pipeline->stats());
    std::optional<metrics::Snapshot> whole_now;
    int64_t data_ns = now;
    if (live_tick || (threshold_tick && !thresholds_.empty())) {
      whole_now = whole_so_far(now, &data_ns);
    }
    // The dashboard paused or resumed the test: workers re-read it now.
    if (const bool paused = config_.execution->paused(); paused != paused_seen) {
      paused_seen = paused;
      for (auto& w : workers) w->Wake();
    }
    if (const uint64_t v = config_.execution->control_version(); v != control_seen) {
      control_seen = v;  // the dashboard set a scenario's VUs or rate
      for (auto& w : workers) w->Wake();
    }
    if (!out.aborted_by_script && config_.execution->aborted()) {
      out.aborted_by_script = true;
      core::Warn("test aborted by the script: {}", config_.execution->abort_reason());
      for (auto& w : workers) w->RequestStop(true);
    }
    if (threshold_tick && !thresholds_.empty()) {
      thresholds_.Evaluate(*whole_now, now - start_ns, metrics::ThresholdSet::Phase::kDuringRun);
      if (!out.aborted_by_threshold && thresholds_.ShouldAbort(now - start_ns)) {
        out.aborted_by_threshold = true;
        core::Warn("a threshold with abortOnFail failed: stopping the test");
        for (auto& w : workers) w->RequestStop(false);
      }
    }
    if (live_tick) {
      // Stamped with the data's time, not the merge's: a point then covers
      // the requests made up to its time.
      auto shared = std::make_shared<const metrics::Snapshot>(std::move(*whole_now));
      recording_->AddSnapshot(shared, anchor.ToUnixNs(data_ns));
      if (dashboard_) {
        dashboard_->Publish(shared, anchor.ToUnixNs(data_ns), data_ns - start_ns, thresholds_,
                            pipeline ? std::optional(pipeline->stats()) : std::nullopt);
      }
      if (config_.link) config_.link->Report(shared, data_ns - start_ns);
      if (outputs) outputs->Publish(std::move(shared), anchor.ToUnixNs(data_ns));
    }
    if (now >= next_progress) {
      if (!config_.quiet) {
        uint64_t reqs = 0, failed = 0;
        uint32_t vus = 0;
        for (auto& w : workers) {
          reqs += w->progress().requests.load(std::memory_order_relaxed);
          failed += w->progress().failed.load(std::memory_order_relaxed);
          vus += w->progress().active_vus.load(std::memory_order_relaxed);
        }
        double secs = static_cast<double>(now - start_ns) / 1e9;
        int64_t total_ns = script_mode ? plan_.TotalDurationNs() : config_.duration_ns;
        std::string total = total_ns > 0 ? "/" + FormatSeconds(total_ns) : std::string();
        std::string line = fmt::format("running {}{}  {} VUs  {} requests  {:.1f}/s  {} failed",
                                       FormatSeconds(now - start_ns), total, vus, reqs,
                                       secs > 0 ? reqs / secs : 0.0, failed);
        if (tty) {
          std::fprintf(stderr, "\r\033[K%s", line.c_str());
        } else {
          std::fprintf(stderr, "%s\n", line.c_str());
        }
        std::fflush(stderr);
      }
      next_progress += progress_every;
    }
  }
  if (tty && !config_.quiet) std::fprintf(stderr, "\r\033[K");
  sample_vus();
  for (auto& w : workers) w->Join();
  if (dashboard_) dashboard_->MarkEnded();
  out.elapsed_ns = clock.NowNs() - start_ns;
  if (config_.execution->aborted()) {
    out.abort_reason = config_.execution->abort_reason();
    if (!out.aborted_by_script || workers.empty()) {
      core::Warn("test aborted by the script: {}", out.abort_reason);
    }
    out.aborted_by_script = true;
  }
  out.end_unix_ns = anchor.ToUnixNs(start_ns + out.elapsed_ns);
  if (pipeline) {
    // Bounded: a slow or absent collector costs at most this at the end.
    pipeline->Shutdown(std::chrono::seconds(10));
    out.spans = pipeline->stats();
    if (outputs) outputs->AddSpanCounters(*out.spans);
  }

  if (script_mode && !config_.link) {  // an agent's teardown() is the coordinator's
    try {
      probe_->runtime().SetSetupData(setup_data_);
      probe_->runtime().RunTeardown(config_.teardown_timeout_ns);
    } catch (const script::ScriptError& e) {
      core::Warn("{}", e.what());
      out.teardown_error = e.what();
    }
  }

  std::vector<const metrics::Shard*> shards;
  for (auto& w : workers) {
    shards.push_back(&w->shard());
    const WorkerResult& r = w->result();
    for (size_t i = 0; i < r.errors_by_type.size(); ++i) out.errors_by_type[i] += r.errors_by_type[i];
    out.interrupted_iterations += r.interrupted_iterations;
    out.connections_opened += r.connections_opened;
    out.requests_retried += r.requests_retried;
    out.script_errors += r.script_errors;
    out.dropped_iterations += r.dropped_iterations;
    if (out.first_script_error.empty()) out.first_script_error = r.first_script_error;
  }
  if (probe_) shards.push_back(&probe_host_->shard());  // setup() and teardown()
  if (!script_mode) {
    // The closed model keeps the VU gauges constant at --vus.
    run_shard.ResetValues();
    run_shard.Add(metrics::builtin::kVus, metrics::Shard::kNoTags, config_.vus);
    run_shard.Add(metrics::builtin::kVusMax, metrics::Shard::kNoTags, config_.vus);
  }
  shards.push_back(&run_shard);
  if (outputs) shards.push_back(&outputs->span_shard());
  out.snapshot = metrics::Snapshot::Merge(registry_, shards);
  if (config_.fleet && !workers.empty()) {
    out.snapshot.MergeFrom(config_.fleet->Final());
    out.lost_agents = config_.fleet->Lost();
  }
  out.snapshot.set_elapsed_ns(out.elapsed_ns);
  if (config_.link && !out.cancelled) {
    nlohmann::json totals = {{"interrupted_iterations", out.interrupted_iterations},
                             {"connections_opened", out.connections_opened},
                             {"requests_retried", out.requests_retried},
                             {"script_errors", out.script_errors},
                             {"dropped_iterations", out.dropped_iterations},
                             {"first_script_error", out.first_script_error},
                             {"aborted_by_script", out.aborted_by_script},
                             {"abort_reason", out.abort_reason}};
    nlohmann::json errs = nlohmann::json::array();
    for (uint64_t e : out.errors_by_type) errs.push_back(e);
    totals["errors_by_type"] = std::move(errs);
    config_.link->Finish(out.snapshot, totals);
  }
  thresholds_.Evaluate(out.snapshot, out.elapsed_ns, metrics::ThresholdSet::Phase::kEndOfTest);
  out.thresholds = thresholds_;
  if (dashboard_) {
    dashboard_->Publish(std::make_shared<const metrics::Snapshot>(out.snapshot), out.end_unix_ns,
                        out.elapsed_ns, thresholds_, out.spans);
  }

  // The final values go to every metric output: the last OTLP export (also
  // after Ctrl-C), and /metrics for the scrapes while lingering.
  if (outputs) {
    MetricOutputs::Totals totals = outputs->Finish(out.snapshot, anchor.ToUnixNs(clock.NowNs()),
                                                   [&](int64_t ns) { signals.Wait(ns); });
    out.metric_points = totals.otlp;
    out.prometheus_scrapes = totals.scrapes;
  }
  out.received = recording_->StopReceiving(out.aborted_by_signal,
                                           [&](int64_t ns) { signals.Wait(ns); });
  return out;
}

nlohmann::json Runner::ConsolidatedOptions() const {
  nlohmann::json o = script_options_.is_object() ? script_options_ : nlohmann::json::object();
  for (const char* shortcut : {"vus", "duration", "iterations", "stages"}) o.erase(shortcut);
  const auto duration = [](int64_t ns) { return core::FormatDuration(std::chrono::nanoseconds(ns)); };
  nlohmann::json scenarios = nlohmann::json::object();
  // k6's test.options: the whole test's, whatever this instance's share.
  for (const Scenario& sc : whole_plan_.scenarios) {
    nlohmann::json s = {{"executor", std::string(ExecutorName(sc.type))},
                        {"exec", sc.exec},
                        {"startTime", duration(sc.start_time_ns)},
                        {"gracefulStop", duration(sc.graceful_stop_ns)}};
    switch (sc.type) {
      case ExecutorType::kSharedIterations:
      case ExecutorType::kPerVuIterations:
        s["vus"] = sc.vus;
        s["iterations"] = sc.iterations;
        s["maxDuration"] = duration(sc.max_duration_ns);
        break;
      case ExecutorType::kConstantVus:
        s["vus"] = sc.vus;
        s["duration"] = duration(sc.duration_ns);
        break;
      case ExecutorType::kRampingVus:
        s["startVUs"] = sc.start_vus;
        s["gracefulRampDown"] = duration(sc.graceful_ramp_down_ns);
        break;
      case ExecutorType::kConstantArrivalRate:
        s["rate"] = sc.rate;
        s["duration"] = duration(sc.duration_ns);
        [[fallthrough]];
      case ExecutorType::kRampingArrivalRate:
        if (sc.type == ExecutorType::kRampingArrivalRate) s["startRate"] = sc.start_rate;
        s["timeUnit"] = duration(sc.time_unit_ns);
        s["preAllocatedVUs"] = sc.pre_allocated_vus;
        s["maxVUs"] = sc.max_vus;
        break;
    }
    if (!sc.stages.empty()) {
      nlohmann::json stages = nlohmann::json::array();
      for (const Stage& st : sc.stages) {
        stages.push_back({{"duration", duration(st.duration_ns)}, {"target", st.target}});
      }
      s["stages"] = std::move(stages);
    }
    if (!sc.tags.empty()) {
      nlohmann::json tags = nlohmann::json::object();
      for (const auto& [k, v] : sc.tags) tags[k] = v;
      s["tags"] = std::move(tags);
    }
    scenarios[sc.name] = std::move(s);
  }
  o["scenarios"] = std::move(scenarios);
  if (config_.Segmented()) {
    o["executionSegment"] = config_.execution_segment.ToString();
    if (!config_.execution_segment_sequence.empty()) {
      o["executionSegmentSequence"] = config_.execution_segment_sequence.ToString();
    }
  }
  if (!plan_.tags.empty()) {
    nlohmann::json tags = nlohmann::json::object();
    for (const auto& [k, v] : plan_.tags) tags[k] = v;
    o["tags"] = std::move(tags);
  }
  // Thresholds as the run judges them (the script's plus --threshold flags).
  if (!config_.threshold_flags.empty()) {
    nlohmann::json& th = o["thresholds"];
    if (!th.is_object()) th = nlohmann::json::object();
    for (const std::string& flag : config_.threshold_flags) {
      metrics::ThresholdConfig t = metrics::ParseThresholdFlag(flag);  // valid: parsed before
      th[t.metric].push_back(t.source);
    }
  }
  return o;
}

std::string Runner::Describe() const {
  if (config_.script_path.empty()) {
    return fmt::format("     target: {} {}\n  scenarios: {} VUs, {}, closed model\n",
                       config_.method, config_.url.Redacted(), config_.vus,
                       config_.iterations > 0
                           ? fmt::format("{} iterations shared", config_.iterations)
                           : FormatSeconds(config_.duration_ns) + " duration") +
           SegmentLine();
  }
  std::string text = fmt::format("     script: {}\n  scenarios: {} (max {} VUs, {} max duration)\n",
                                 config_.script_path, plan_.scenarios.size(), plan_.MaxVus(),
                                 FormatSeconds(plan_.TotalDurationNs()));
  for (const Scenario& sc : plan_.scenarios) {
    text += fmt::format("           * {}: {}, exec {}\n", sc.name, ExecutorName(sc.type), sc.exec);
  }
  text += SegmentLine();
  return text;
}

int Runner::Run() {
  RunOutcome out = Execute();
  report::SummaryOptions options = report::WithThresholds(report::SummaryOptions{}, out.thresholds);
  std::string summary = report::FormatSummary(out.snapshot, registry_, options);
  std::string errors;
  for (size_t i = 1; i < out.errors_by_type.size(); ++i) {
    if (out.errors_by_type[i] == 0) continue;
    errors += fmt::format("     {:<31} {}\n",
                          fmt::format("{} ", net::Name(static_cast<net::NetError>(i))),
                          out.errors_by_type[i]);
  }
  const char* execution = config_.fleet  ? "distributed (this coordinator's agents)"
                          : config_.link ? "agent of a distributed test"
                                         : "local";
  std::fputs(fmt::format("\n  execution: {}\n         io: {}\n{}\n", execution, config_.io_backend,
                         Describe()).c_str(),
             stdout);
  std::fputs(summary.c_str(), stdout);
  if (out.requests_retried > 0) {
    errors += fmt::format("     {:<31} {}\n", "retried (HTTP/2 refused) ", out.requests_retried);
  }
  if (!errors.empty()) {
    std::fputs("\n   errors by type:\n", stdout);
    std::fputs(errors.c_str(), stdout);
  }
  if (!out.teardown_error.empty()) {
    std::fprintf(stdout, "\n   %s\n", out.teardown_error.c_str());
  }
  if (out.spans && !config_.traces_export) {
    // Spans went only to the run store (its own line below says what it kept).
    const otel::ExportPipelineStats& s = *out.spans;
    if (s.spans_dropped > 0) {
      std::fprintf(stdout, "\n   spans: %llu recorded, %llu dropped (the store's exporter behind)\n",
                   static_cast<unsigned long long>(s.spans_recorded),
                   static_cast<unsigned long long>(s.spans_dropped));
    }
  } else if (out.spans) {
    const otel::ExportPipelineStats& s = *out.spans;
    std::fprintf(stdout,
                 "\n   spans: %llu exported, %llu dropped (exporter behind), %llu failed, %llu "
                 "rejected by the collector\n",
                 static_cast<unsigned long long>(s.spans_exported),
                 static_cast<unsigned long long>(s.spans_dropped),
                 static_cast<unsigned long long>(s.spans_failed),
                 static_cast<unsigned long long>(s.spans_rejected));
  }
  if (out.metric_points) {
    const otel::MetricsPipelineStats& m = *out.metric_points;
    std::fprintf(stdout,
                 "\n   metrics: %llu points exported in %llu exports, %llu dropped (exporter "
                 "behind), %llu failed, %llu rejected by the collector\n",
                 static_cast<unsigned long long>(m.points_exported),
                 static_cast<unsigned long long>(m.exports_ok),
                 static_cast<unsigned long long>(m.points_dropped),
                 static_cast<unsigned long long>(m.points_failed),
                 static_cast<unsigned long long>(m.points_rejected));
  }
  if (!config_.prometheus_address.empty()) {
    std::fprintf(stdout, "\n   prometheus: %llu scrapes of /metrics\n",
                 static_cast<unsigned long long>(out.prometheus_scrapes));
  }
  if (out.received) {
    const otel::ReceiverStats& r = *out.received;
    std::fprintf(stdout,
                 "\n   received: %llu spans from the service (%llu of this run's traces, %llu of "
                 "other traces dropped), %llu bad requests\n",
                 static_cast<unsigned long long>(r.spans_received),
                 static_cast<unsigned long long>(r.spans_kept),
                 static_cast<unsigned long long>(r.spans_foreign),
                 static_cast<unsigned long long>(r.bad_requests));
  }
  if (out.script_errors > 0) {
    std::fprintf(stdout, "\n   %llu iterations ended in a script error; the first: %s\n",
                 static_cast<unsigned long long>(out.script_errors),
                 out.first_script_error.c_str());
  }
  if (out.interrupted_iterations > 0) {
    std::fprintf(stdout, "\n   %llu in-flight iterations interrupted by the stop\n",
                 static_cast<unsigned long long>(out.interrupted_iterations));
  }
  if (out.aborted_by_script) {
    std::fprintf(stdout, "\n   test aborted by the script: %s\n", out.abort_reason.c_str());
  }
  if (dashboard_) {
    if (std::string steering = dashboard_->SteeringSummary(); !steering.empty()) {
      std::fprintf(stdout, "\n%s", steering.c_str());
    }
  }
  if (config_.fleet) {
    std::fputs("\n   agents:\n", stdout);
    for (const std::string& line : config_.fleet->AgentLines()) {
      std::fprintf(stdout, "     %s\n", line.c_str());
    }
    if (!out.lost_agents.empty()) {
      std::fputs("\n   PARTIAL RESULT: these agents were lost (their load until then is counted):\n",
                 stdout);
      for (const std::string& line : out.lost_agents) std::fprintf(stdout, "     %s\n", line.c_str());
    }
  }
  std::vector<std::string> failed = out.thresholds.FailedMetrics();
  if (!failed.empty()) {
    std::string names;
    for (const std::string& f : failed) names += (names.empty() ? "" : ", ") + f;
    std::fprintf(stdout, "\n   thresholds on metrics '%s' have been crossed\n", names.c_str());
  }
  std::fflush(stdout);

  // The k6-shaped JSON summary: --summary-export, and the run store's copy.
  nlohmann::json j;
  if (!config_.summary_export.empty() || recording_->storing()) {
    report::SummaryOptions json_options = options;
    json_options.trend_stats.push_back("p(99)");  // the export carries p(99) too
    j = report::SummaryJson(out.snapshot, registry_, json_options);
    nlohmann::json errs = nlohmann::json::object();
    for (size_t i = 1; i < out.errors_by_type.size(); ++i) {
      if (out.errors_by_type[i] > 0) {
        errs[std::string(net::Name(static_cast<net::NetError>(i)))] = out.errors_by_type[i];
      }
    }
    j["errors"] = errs;
    j["script_errors"] = out.script_errors;
    // Cut by the stop (graceful stop over, or a second Ctrl-C): their
    // requests in flight are in no metric, as in k6.
    j["interrupted_iterations"] = out.interrupted_iterations;
    if (out.aborted_by_script) j["aborted"] = {{"by", "script"}, {"reason", out.abort_reason}};
    if (config_.fleet) {
      j["agents"] = config_.fleet->AgentLines();
      j["lost_agents"] = out.lost_agents;
      j["partial"] = !out.lost_agents.empty();
    }
    if (out.spans && config_.traces_export) {  // (store-only spans: the store's own figures)
      j["spans"] = {{"recorded", out.spans->spans_recorded},
                    {"exported", out.spans->spans_exported},
                    {"dropped", out.spans->spans_dropped},
                    {"failed", out.spans->spans_failed},
                    {"rejected", out.spans->spans_rejected}};
    }
    if (out.metric_points) {
      const otel::MetricsPipelineStats& m = *out.metric_points;
      j["otel_metrics"] = {{"exports", m.exports_ok},
                           {"exports_failed", m.exports_failed},
                           {"points_exported", m.points_exported},
                           {"points_dropped", m.points_dropped},
                           {"points_failed", m.points_failed},
                           {"points_rejected", m.points_rejected},
                           {"retries", m.retries}};
    }
    if (!config_.prometheus_address.empty()) j["prometheus"] = {{"scrapes", out.prometheus_scrapes}};
    if (out.received) {
      const otel::ReceiverStats& r = *out.received;
      j["received"] = {{"spans", r.spans_received},
                       {"kept", r.spans_kept},
                       {"foreign", r.spans_foreign},
                       {"bad_requests", r.bad_requests}};
    }
    if (recording_->storing()) j["store"] = recording_->store_path();
    if (dashboard_) {
      j["steering"] = dashboard_->Steering();
      j["dashboard"] = {{"clients", dashboard_->clients()},
                        {"dropped", dashboard_->clients_dropped()}};
    }
  }
  if (!config_.summary_export.empty()) {
    std::ofstream f(config_.summary_export);
    f << j.dump(2) << "\n";
    if (!f) {
      core::Warn("cannot write --summary-export {}: check the directory exists and is writable",
                 config_.summary_export);
    }
  }
  int exit_code = static_cast<int>(core::ExitCode::kOk);
  std::string outcome = "passed";
  if (!out.lost_agents.empty()) {
    // Thresholds judged on part of the load prove nothing either way.
    exit_code = static_cast<int>(core::ExitCode::kPartialResult);
    outcome = "partial";
  } else if (out.aborted_by_signal) {
    exit_code = static_cast<int>(core::ExitCode::kAbortedBySignal);
    outcome = out.cancelled ? "cancelled" : "interrupted";
  } else if (out.aborted_by_script) {
    exit_code = static_cast<int>(core::ExitCode::kScriptAborted);
    outcome = "aborted_by_script";
  } else if (!failed.empty()) {
    exit_code = static_cast<int>(core::ExitCode::kThresholdsFailed);
    outcome = out.aborted_by_threshold ? "aborted_by_threshold" : "thresholds_failed";
  } else if (!out.teardown_error.empty()) {
    exit_code = static_cast<int>(core::ExitCode::kScriptException);
    outcome = "script_error";
  }
  if (recording_->storing()) {
    store::RunEnd end;
    end.final_snapshot = &out.snapshot;
    end.thresholds = &out.thresholds;
    // The final snapshot holds the load up to its end (not the lingers').
    end.end_unix_ns = out.end_unix_ns;
    end.exit_code = exit_code;
    end.outcome = outcome;
    end.summary_json = j.dump();
    std::fputs(recording_->Finish(end, out.received.has_value()).c_str(), stdout);
    std::fflush(stdout);
  }
  if (dashboard_) {
    // Serves the end (and the run's ticks) for --ui-linger; Ctrl-C ends it
    // without changing the exit code.
    SignalBlock signals;
    dashboard_->End(dashboard_->stopped() && exit_code == 0 ? "stopped" : outcome, exit_code,
                    [&](int64_t ns) { return signals.Wait(ns) != 0; });
    std::fprintf(stdout, "\n   dashboard: %llu clients, %llu dropped\n",
                 static_cast<unsigned long long>(dashboard_->clients()),
                 static_cast<unsigned long long>(dashboard_->clients_dropped()));
    std::fflush(stdout);
  }
  return exit_code;
}

}  // namespace stampede::engine
