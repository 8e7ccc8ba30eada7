#include "engine/script_worker.h"

#include <algorithm>
#include <array>
#include <span>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "core/thread_name.h"
#include "engine/client_stack.h"
#include "engine/custom_metrics.h"
#include "engine/request_recorder.h"
#include "engine/request_spans.h"
#include "engine/scenario_run.h"
#include "engine/schedule.h"
#include "http/client.h"
#include "loop/event_loop.h"
#include "net/resolver.h"
#include "net/tls.h"
#include "script/runtime.h"
#include "script/vu.h"

namespace stampede::engine {
namespace {

namespace mb = metrics::builtin;

constexpr int kMaxLoggedScriptErrors = 5;

}  // namespace

class ScriptWorker::Impl final : public script::ScriptHost, public ScenarioHost {
 public:

  explicit Impl(ScriptWorker& w)
      : w_(w),
        loop_(clock_),
        stack_(loop_, w.config_, /*with_tls=*/true),
        client_(stack_.client()),
        recorder_(*w.shard_),
        spans_(w.span_sink_, *w.anchor_or_default(), ids_, w.config_.trace_keep_slower_than_ns),
        publish_timer_(*this),
        flush_timer_(*this) {
    script::RuntimeOptions ro = RuntimeOptionsFor(w.config_);
    ro.seed = static_cast<uint64_t>(w.start_ns_) + static_cast<uint64_t>(w.index_) * 7919;
    ro.define_metric = ResolveCustomMetricsIn(w.registry_);
    ro.worker_index = w.index_;
    client_.set_observer(&recorder_);
    if (!w.config_.traces_export && (w.config_.store || w.config_.forward_spans)) {
      spans_.set_store_gate(w.config_.store_spans_per_second);
    }
    execution_ = w.config_.execution.get();
    runtime_ = std::make_unique<script::Runtime>(ro, loop_, client_);
    runtime_->set_host(this);
    // stampede.ws: the worker's resolver and TLS context, k6's ws_* metrics.
    runtime_->set_network({&stack_.resolver(), stack_.tls(), w.config_.connect_timeout_ns,
                           w.config_.request_timeout_ns});
    for (size_t i = 0; i < kWsMetricNames.size(); ++i) {
      ws_metrics_[i] = w.registry_.Find(kWsMetricNames[i]).value_or(kNoMetric);
    }
    runtime_->SetSetupData(w.setup_data_);
    for (const auto& [k, v] : w.segment_.tags) global_tags_.emplace_back(k, v);
    for (const Scenario& sc : w.segment_.scenarios) {
      runs_.push_back(std::make_unique<ScenarioRun>(*this, sc));
      std::vector<metrics::Tag> tags = {{"scenario", sc.name}};
      for (const auto& [k, v] : global_tags_) tags.push_back({k, v});
      for (const auto& [k, v] : sc.tags) tags.push_back({k, v});
      runs_.back()->iteration_tags = w.shard_->Intern(tags);
    }
  }

  void Run() {
    loop_.UpdateNow();
    for (auto& r : runs_) r->Schedule(w_.start_ns_);
    loop_.Schedule(publish_timer_, loop_.Now() + core::kNsPerSec);
    if (spans_.enabled()) loop_.Schedule(flush_timer_, loop_.Now() + 200'000'000);
    // Progress shows VUs soon after start, not only at the first publish.
    for (int i = 0; i < 4 && !finished_; ++i) loop_.RunOnce(0);
    UpdateVuCounts();
    CheckFinished();
    while (!finished_) {
      loop_.RunOnce();
      int request = w_.stop_request_.load(std::memory_order_acquire);
      // execution.test.abort() in any worker: stop at once, as k6 does (the
      // main thread also tells every worker; this saves the wait for it).
      if (execution_ != nullptr && execution_->aborted()) request = 2;
      // Resumed after a pause (the runner wakes the loop): held VUs go on.
      if (was_paused_ && !paused()) {
        for (auto& r : runs_) r->Resume();
      }
      was_paused_ = paused();
      // The dashboard steered a scenario's VUs or rate.
      if (execution_ != nullptr && execution_->control_version() != control_seen_) {
        control_seen_ = execution_->control_version();
        for (auto& r : runs_) {
          const int i = execution_->ScenarioIndex(r->scenario().name);
          r->ApplyControl(execution_->scenario_vus(i), execution_->scenario_rate(i));
        }
        UpdateVuCounts();
      }
      if (request > stop_level_) {
        UpdateVuCounts();
        stop_level_ = request;
        for (auto& r : runs_) {
          if (request == 2) {
            r->HardStop();
          } else {
            r->BeginGracefulStop();
          }
        }
        CheckFinished();
      }
    }
    loop_.Cancel(publish_timer_);
    loop_.Cancel(flush_timer_);
    UpdateVuCounts();
    client_.CloseAll();
    for (int i = 0; i < 3; ++i) loop_.RunOnce(0);
    recorder_.SampleConnections(client_);
    client_.set_observer(nullptr);  // the recorder dies before the client
    if (spans_.enabled()) w_.span_sink_->Flush();
    w_.result_.connections_opened = client_.connections_opened();
    w_.result_.requests_retried = client_.requests_retried();
  }

  void Wake() { loop_.Wake(); }

  // ---- ScriptHost ----
  void OnRequest(script::Vu& vu, const http::Exchange& ex, const std::vector<Tag>& tags,
                 script::ResponseVerdict verdict, const RequestTrace& trace) override {
    const bool failed = verdict == script::ResponseVerdict::kUnexpected;
    metrics::TagSetId ts = Intern(tags);
    recorder_.RecordHttp(ex, ts, FailedSample(verdict));
    if (spans_.enabled()) {
      // The span waits for the checks that follow the response (their failed
      // names are one of its attributes): it is recorded at the VU's next
      // request, at the end of the iteration, or when the VU is interrupted.
      auto* slot = static_cast<Slot*>(vu.user_data);
      if (slot != nullptr) {
        FlushPendingSpan(*slot);
        PendingSpan& p = slot->pending;
        p.method.assign(trace.method);
        p.url_full.assign(trace.url_full);
        p.server_address.assign(trace.server_address);
        p.name.assign(trace.name);
        p.error_detail.assign(ex.error_detail);
        p.failed_checks.clear();
        CopyTagAttributes(vu, p);
        p.outcome = RequestOutcome::Of(ex);
        p.info.trace_id = trace.trace_id;
        p.info.span_id = trace.span_id;
        p.info.parent_span_id = trace.parent_span_id;
        p.info.trace_flags = trace.flags;
        p.info.server_port = trace.server_port;
        p.info.vu = vu.id();
        p.info.iteration = vu.iteration() - 1;
        p.failed = failed;
        p.active = true;
        p.kept = spans_.Keeps(p.outcome, p.info, p.failed);  // once per request
        if (p.kept) vu.set_trace_kept();
      }
    }
    w_.result_.errors_by_type[static_cast<size_t>(ex.error)] += ex.error != net::NetError::kNone;
    WorkerProgress& p = w_.progress_;
    p.requests.store(p.requests.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (failed) {
      p.failed.store(p.failed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    }
  }

  void OnCheck(script::Vu& vu, std::string_view name, bool passed,
               const std::vector<Tag>& tags) override {
    w_.shard_->Add(mb::kChecks, Intern(tags), passed ? 1 : 0);
    auto* slot = static_cast<Slot*>(vu.user_data);
    if (!passed && slot != nullptr && slot->pending.active) {
      std::string& names = slot->pending.failed_checks;
      if (!names.empty()) names += ", ";
      names.append(name.data(), std::min<size_t>(name.size(), 256));
    }
  }

  void OnGroupEnd(script::Vu&, int64_t duration_ns, const std::vector<Tag>& tags) override {
    w_.shard_->Add(mb::kGroupDuration, Intern(tags), static_cast<double>(duration_ns));
  }

  void OnMetric(script::Vu&, uint32_t metric, double value, const std::vector<Tag>& tags) override {
    w_.shard_->Add(metric, Intern(tags), value);
  }

  // ---- stampede.ws ----
  void OnWsMetric(script::Vu&, WsMetric metric, double value,
                  const std::vector<Tag>& tags) override {
    const metrics::MetricId id = ws_metrics_[static_cast<size_t>(metric)];
    if (id != kNoMetric) w_.shard_->Add(id, Intern(tags), value);
  }

  // The session's CLIENT span ("WS /path"): the handshake's traceparent
  // named it; messages are its events. Kept like a request's: sampled
  // (and past the store gate), or failed — then its iteration is kept too.
  void OnWsSessionEnd(script::Vu& vu, const WsSessionEnd& ws) override {
    if (!spans_.enabled()) return;
    const bool failed = !ws.error.empty();
    if (!failed && (!vu.trace_sampled() || spans_.gated()) && !vu.trace_kept()) return;
    if (failed) vu.set_trace_kept();
    const core::WallAnchor& anchor = *w_.anchor_or_default();
    std::string name = "WS " + std::string(ws.path.empty() ? std::string_view("/") : ws.path);
    std::vector<otel::KeyValue> attrs = {
        {"url.full", otel::AnyValue::String(ws.url_full)},
        {"server.address", otel::AnyValue::String(ws.server_address)},
        {"server.port", otel::AnyValue::Int(ws.server_port)},
        {"network.protocol.name", otel::AnyValue::String("websocket")},
        {"stampede.ws.messages_sent", otel::AnyValue::Int(static_cast<int64_t>(ws.msgs_sent))},
        {"stampede.ws.messages_received",
         otel::AnyValue::Int(static_cast<int64_t>(ws.msgs_received))},
        {"stampede.scenario", otel::AnyValue::String(vu.scenario())},
        {"stampede.vu", otel::AnyValue::Int(static_cast<int64_t>(vu.id()))},
    };
    if (ws.status > 0) attrs.push_back({"http.response.status_code", otel::AnyValue::Int(ws.status)});
    if (ws.close_code != 0) {
      attrs.push_back({"stampede.ws.close_code", otel::AnyValue::Int(ws.close_code)});
    }
    // The span model has no dropped_events_count: the count is an attribute.
    if (ws.dropped_events > 0) {
      attrs.push_back({"stampede.ws.events_dropped", otel::AnyValue::Int(ws.dropped_events)});
    }
    if (failed) attrs.push_back({"error.type", otel::AnyValue::String("websocket")});
    std::vector<std::array<otel::KeyValue, 2>> event_attrs(ws.events.size());
    std::vector<otel::SpanEvent> events(ws.events.size());
    for (size_t i = 0; i < ws.events.size(); ++i) {
      const WsMessageEvent& e = ws.events[i];
      event_attrs[i] = {
          otel::KeyValue{"ws.message.size", otel::AnyValue::Int(static_cast<int64_t>(e.size))},
          otel::KeyValue{"ws.message.type", otel::AnyValue::String(e.binary ? "binary" : "text")}};
      events[i].time_unix_ns = anchor.ToUnixNs(e.time_ns);
      events[i].name = e.sent ? "ws.message.sent" : "ws.message.received";
      events[i].attributes = event_attrs[i];
    }
    otel::SpanData s;
    s.trace_id = ws.trace_id;
    s.span_id = ws.span_id;
    s.parent_span_id = ws.parent_span_id;
    s.flags = ws.flags;
    s.name = name;
    s.kind = otel::SpanKind::kClient;
    s.start_unix_ns = anchor.ToUnixNs(ws.start_ns);
    s.end_unix_ns = anchor.ToUnixNs(ws.end_ns);
    s.attributes = attrs;
    s.events = events;
    if (failed) {
      s.status = otel::StatusCode::kError;
      s.status_message = ws.error;
    }
    w_.span_sink_->Record(s);
  }

  // Records the VU's deferred request span, if any (views re-pointed at the
  // copies it owns).
  void FlushPendingSpan(Slot& slot) {
    PendingSpan& p = slot.pending;
    if (!p.active) return;
    p.active = false;
    p.info.method = p.method;
    p.info.url_full = p.url_full;
    p.info.server_address = p.server_address;
    p.info.request_name = p.name;
    p.info.scenario = slot.vu.scenario();
    p.info.failed_checks = p.failed_checks;
    p.info.tag_attributes = {p.tag_attributes.data(), p.tag_count};
    p.outcome.error_detail = p.error_detail;
    if (p.kept) spans_.RecordKept(p.outcome, p.info);
  }

  void OnIterationEnd(script::Vu& vu, int64_t started_ns, std::string_view error) override {
    auto* slot = static_cast<Slot*>(vu.user_data);
    if (slot == nullptr) return;
    int64_t now = loop_.UpdateNow();
    // The iteration that called execution.test.abort() ends in that error:
    // the abort, reported once by the runner, not a script error.
    const bool aborting = execution_ != nullptr && execution_->aborted();
    if (!error.empty() && !aborting) {
      ++w_.result_.script_errors;
      std::string message = fmt::format("script error in VU {} (scenario {}): {}", vu.id(),
                                        vu.scenario(), error);
      if (w_.result_.first_script_error.empty()) w_.result_.first_script_error = message;
      if (w_.result_.script_errors <= kMaxLoggedScriptErrors) core::Warn("{}", message);
      if (w_.result_.script_errors == kMaxLoggedScriptErrors) {
        core::Warn("further script errors are counted, not printed");
      }
    }
    FlushPendingSpan(*slot);
    RecordIterationSpan(vu, started_ns, now, error);
    w_.shard_->Add(mb::kIterations, slot->run.iteration_tags, 1);
    w_.shard_->Add(mb::kIterationDuration, slot->run.iteration_tags,
                   static_cast<double>(now - started_ns));
    slot->run.IterationEnded(*slot);
  }

  // The INTERNAL `iteration {scenario}` span that parents the iteration's
  // request spans: recorded when the trace is sampled, or when one of its
  // requests was kept (failed or slow), so kept spans never dangle.
  void RecordIterationSpan(script::Vu& vu, int64_t started_ns, int64_t ended_ns,
                           std::string_view error) {
    if (!spans_.enabled() || w_.config_.trace_root_request) return;
    // Under the store gate, sampled alone is not enough: a kept request is.
    if ((!vu.trace_sampled() || spans_.gated()) && !vu.trace_kept()) return;
    char name[128];
    int len = std::snprintf(name, sizeof name, "iteration %s", vu.scenario().c_str());
    std::array<otel::KeyValue, 3 + kMaxTagAttributes> attrs;
    size_t nattrs = 0;
    attrs[nattrs++] = {"stampede.scenario", otel::AnyValue::String(vu.scenario())};
    attrs[nattrs++] = {"stampede.vu", otel::AnyValue::Int(static_cast<int64_t>(vu.id()))};
    attrs[nattrs++] = {"stampede.iteration",
                       otel::AnyValue::Int(static_cast<int64_t>(vu.iteration() - 1))};
    auto* slot = static_cast<Slot*>(vu.user_data);
    if (slot != nullptr && !vu.tags().empty()) {
      CopyTagAttributes(vu, slot->pending);
      for (size_t i = 0; i < slot->pending.tag_count; ++i) {
        const auto& [k, v] = slot->pending.tag_attributes[i];
        attrs[nattrs++] = {k, otel::AnyValue::String(v)};
      }
    }
    otel::SpanData s;
    s.trace_id = vu.trace_id();
    s.span_id = vu.iteration_span_id();
    s.flags = otel::kFlagRandom | (vu.trace_sampled() ? otel::kFlagSampled : 0);
    s.name = std::string_view(name, static_cast<size_t>(std::clamp(len, 0, 127)));
    s.kind = otel::SpanKind::kInternal;
    s.start_unix_ns = w_.anchor_or_default()->ToUnixNs(started_ns);
    s.end_unix_ns = w_.anchor_or_default()->ToUnixNs(ended_ns);
    s.attributes = std::span<const otel::KeyValue>(attrs.data(), nattrs);
    if (!error.empty()) {
      s.status = otel::StatusCode::kError;
      s.status_message = error;
    }
    w_.span_sink_->Record(s);
  }

  // The VU's tags as span attributes "stampede.tag.<key>", into strings whose
  // capacity is reused (no allocation once a VU's tags are steady).
  static void CopyTagAttributes(script::Vu& vu, PendingSpan& p) {
    const auto& tags = vu.tags();
    p.tag_count = std::min(tags.size(), kMaxTagAttributes);
    if (p.tag_attributes.size() < p.tag_count) p.tag_attributes.resize(p.tag_count);
    for (size_t i = 0; i < p.tag_count; ++i) {
      p.tag_attributes[i].first.assign("stampede.tag.");
      p.tag_attributes[i].first.append(tags[i].first);
      p.tag_attributes[i].second.assign(tags[i].second);
    }
  }

  // group() and trace.span() spans: kept under the same rule as the
  // iteration span (sampled, or a request of the trace was kept). A group
  // that ends before a later request of its trace is kept loses its span.
  void OnSpanEnd(script::Vu& vu, const SpanEnd& end) override {
    if (!spans_.enabled() || ((!vu.trace_sampled() || spans_.gated()) && !vu.trace_kept())) {
      return;
    }
    const otel::KeyValue attrs[] = {
        {"stampede.scenario", otel::AnyValue::String(vu.scenario())},
        {"stampede.vu", otel::AnyValue::Int(static_cast<int64_t>(vu.id()))},
    };
    otel::SpanData s;
    s.trace_id = end.trace_id;
    s.span_id = end.span_id;
    s.parent_span_id = end.parent_span_id;
    s.flags = otel::kFlagRandom | (vu.trace_sampled() ? otel::kFlagSampled : 0);
    s.name = end.name;
    s.kind = otel::SpanKind::kInternal;
    s.start_unix_ns = w_.anchor_or_default()->ToUnixNs(end.start_ns);
    s.end_unix_ns = w_.anchor_or_default()->ToUnixNs(end.end_ns);
    s.attributes = attrs;
    if (!end.error.empty()) {
      s.status = otel::StatusCode::kError;
      s.status_message = end.error;
    }
    w_.span_sink_->Record(s);
  }

  // ---- helpers for ScenarioRun ----
  // ---- ScenarioHost ----
  loop::EventLoop& loop() override { return loop_; }
  void ScenarioDone() override { CheckFinished(); }
  void BeforeInterrupt(Slot& slot) override { FlushPendingSpan(slot); }
  bool paused() const override { return execution_ != nullptr && execution_->paused(); }
  script::Vu& NewVu(const Scenario& sc) override {
    uint64_t id = next_local_vu_++ * static_cast<uint64_t>(w_.workers_) +
                  static_cast<uint64_t>(w_.index_) + 1;
    return runtime_->NewVu(id, sc.name, sc.exec, &sc.tags, &sc.env);
  }
  metrics::Shard& shard() override { return *w_.shard_; }
  WorkerResult& result() override { return w_.result_; }

  // The `vus` gauge: VUs the executors want running, or that are still in
  // an iteration (k6's active VUs); `vus_max`: VUs allocated.
  void UpdateVuCounts() {
    int64_t active = 0, allocated = 0;
    for (auto& r : runs_) {
      active += std::max(r->active_count(), r->in_use());
      allocated += r->allocated();
    }
    w_.progress_.active_vus.store(static_cast<uint32_t>(active), std::memory_order_relaxed);
    w_.progress_.allocated_vus.store(static_cast<uint32_t>(allocated), std::memory_order_relaxed);
    if (execution_ != nullptr) {
      execution_->SetVus(w_.index_, static_cast<uint32_t>(active), static_cast<uint32_t>(allocated));
    }
  }

  void CheckFinished() {
    for (auto& r : runs_) {
      if (!r->done()) return;
    }
    finished_ = true;
  }

 private:
  // Tag sets repeat request after request: a 64-bit digest of the tags, in
  // the order the script layer lists them, maps straight to the interned
  // set, skipping the shard's sort, copy and comparison. (A digest collision
  // between two different tag sets — odds of about n²/2^64 — would merge
  // their series; the shard's own interning stays the source of truth.)
  //
  // The digest mixes 8 bytes at a time, inline: tag strings are short, and
  // std::hash (an out-of-line call per string) was ~4 % of a script
  // iteration's instructions under callgrind.
  static uint64_t MixString(uint64_t h, std::string_view s) {
    const char* p = s.data();
    size_t n = s.size();
    h = (h ^ n) * 0x9E3779B97F4A7C15ull;
    for (; n >= 8; p += 8, n -= 8) {
      uint64_t w;
      std::memcpy(&w, p, 8);
      h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
      h ^= h >> 31;
    }
    // The 0-7 byte tail with fixed-size loads (a byte loop here cost ~2 % of
    // a script iteration): for a given length these cover every byte, so
    // distinct tails still give distinct words.
    uint64_t tail = 0;
    if (n >= 4) {
      uint32_t a, b;
      std::memcpy(&a, p, 4);
      std::memcpy(&b, p + n - 4, 4);
      tail = (static_cast<uint64_t>(a) << 32) | b;
    } else if (n > 0) {
      tail = (static_cast<uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
             (static_cast<uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
             static_cast<unsigned char>(p[n - 1]);
    }
    h = (h ^ tail) * 0x94D049BB133111EBull;
    return h ^ (h >> 29);
  }

  metrics::TagSetId Intern(const std::vector<Tag>& tags) {
    uint64_t digest = 0x9E3779B97F4A7C15ull ^ tags.size();
    for (const Tag& t : tags) {
      digest = MixString(digest, t.key);
      digest = MixString(digest, t.value);
    }
    auto it = tag_cache_.find(digest);
    if (it != tag_cache_.end()) return it->second;
    // The test-wide tags first: the sample's own (scenario, call) tags win.
    scratch_.clear();
    for (const auto& [k, v] : global_tags_) scratch_.push_back({k, v});
    for (const Tag& t : tags) scratch_.push_back({t.key, t.value});
    metrics::TagSetId id = w_.shard_->Intern(scratch_);
    if (tag_cache_.size() < 65536) tag_cache_.emplace(digest, id);  // bounded
    return id;
  }

  void Publish() {
    UpdateVuCounts();
    recorder_.SampleConnections(client_);
    w_.publisher_.Publish(*w_.shard_, loop_.Now());
    loop_.Schedule(publish_timer_, loop_.Now() + core::kNsPerSec);
  }
  friend class MemberTimer<Impl, &Impl::Publish>;


  ScriptWorker& w_;
  core::MonotonicClock clock_;
  loop::EventLoop loop_;
  ClientStack stack_;
  http::Client& client_;
  RequestRecorder recorder_;
  otel::IdGenerator ids_;
  RequestSpans spans_;
  static constexpr metrics::MetricId kNoMetric = UINT32_MAX;
  // By ScriptHost::WsMetric, in its order (kWsMetricNames).
  std::array<metrics::MetricId, 8> ws_metrics_{};
  std::unique_ptr<script::Runtime> runtime_;
  std::vector<std::unique_ptr<ScenarioRun>> runs_;
  std::vector<std::pair<std::string, std::string>> global_tags_;
  std::vector<metrics::Tag> scratch_;
  std::unordered_map<uint64_t, metrics::TagSetId> tag_cache_;
  MemberTimer<Impl, &Impl::Publish> publish_timer_;
  // Every 200 ms: hand the partly filled span chunk to the exporter.
  void FlushSpans() {
    w_.span_sink_->Flush();
    loop_.Schedule(flush_timer_, loop_.Now() + 200'000'000);
  }
  friend class MemberTimer<Impl, &Impl::FlushSpans>;
  MemberTimer<Impl, &Impl::FlushSpans> flush_timer_;
  uint64_t next_local_vu_ = 0;
  script::Execution* execution_ = nullptr;
  int stop_level_ = 0;
  bool was_paused_ = false;
  uint64_t control_seen_ = 0;
  bool finished_ = false;
};

ScriptWorker::ScriptWorker(int index, int workers, const RunConfig& config,
                           const metrics::Registry& registry, Plan segment,
                           nlohmann::json setup_data, int64_t start_ns)
    : WorkerBase(registry),
      index_(index),
      workers_(workers),
      config_(config),
      registry_(registry),
      segment_(std::move(segment)),
      setup_data_(std::move(setup_data)),
      start_ns_(start_ns) {}

ScriptWorker::~ScriptWorker() {
  if (thread_.joinable()) {
    RequestStop(true);
    thread_.join();
  }
}

void ScriptWorker::Start() {
  impl_ = std::make_unique<Impl>(*this);
  thread_ = std::thread([this] {
    core::NameThisThread("stampede-w" + std::to_string(index_));
    impl_->Run();
    progress_.active_vus.store(0, std::memory_order_relaxed);
    progress_.done.store(true, std::memory_order_release);
  });
}

void ScriptWorker::Join() {
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

void ScriptWorker::Wake() {
  if (impl_) impl_->Wake();
}

void ScriptWorker::RequestStop(bool hard) {
  int level = hard ? 2 : 1;
  int current = stop_request_.load();
  while (current < level && !stop_request_.compare_exchange_weak(current, level)) {
  }
  if (impl_) impl_->Wake();
}

}  // namespace stampede::engine
