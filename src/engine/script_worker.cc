#include "engine/script_worker.h"

#include <algorithm>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "engine/client_stack.h"
#include "engine/request_recorder.h"
#include "engine/request_spans.h"
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

// A timer that calls a member function: lets one object own several timers
// without a class per timer and without std::function.
template <typename T, void (T::*Method)()>
class MemberTimer final : public loop::Timer {
 public:
  explicit MemberTimer(T& owner) : owner_(owner) {}
  void OnTimer() override { (owner_.*Method)(); }

 private:
  T& owner_;
};

constexpr int kMaxLoggedScriptErrors = 5;

}  // namespace

class ScriptWorker::Impl final : public script::ScriptHost {
 public:
  class ScenarioRun;

  // One VU of a scenario, with the deferred start of its next iteration and
  // its ramp-down deadline.
  // A request span waiting for the checks that follow its response.
  struct PendingSpan {
    bool active = false;
    bool failed = false;
    RequestOutcome outcome;
    RequestSpanInfo info;
    std::string method, url_full, server_address, name, error_detail, failed_checks;
  };

  class Slot final : public loop::Task, public loop::Timer {
   public:
    Slot(ScenarioRun& run, script::Vu& vu) : run(run), vu(vu) { vu.user_data = this; }
    void Run() override { run.StartNext(*this); }      // next iteration (Task)
    void OnTimer() override { run.RampDownExpired(*this); }  // gracefulRampDown
    ScenarioRun& run;
    script::Vu& vu;
    bool active = false;          // the executor wants this VU iterating
    uint64_t own_left = 0;        // per-vu-iterations: iterations still to run
    int64_t scheduled_ns = 0;     // arrival-rate: when this iteration was due
    PendingSpan pending;          // capacity reused: no allocation per request
  };

  // This worker's share of one scenario, and its executor.
  class ScenarioRun {
   public:
    ScenarioRun(Impl& impl, const Scenario& sc)
        : impl_(impl), sc_(sc), phase_timer_(*this), arrival_timer_(*this) {}

    const Scenario& scenario() const { return sc_; }
    bool done() const { return state_ == State::kDone; }

    void Schedule(int64_t test_start_ns) {
      t0_ = test_start_ns + sc_.start_time_ns;
      next_phase_ = Phase::kBegin;
      impl_.loop_.Schedule(phase_timer_, t0_);
    }

    // The engine (or the end of the scenario's time) asks for a stop.
    // VUs in the executor's wanted set / inside an iteration or about to
    // start one: kept as counters so that ending an iteration is O(1).
    int64_t active_count() const { return active_count_; }
    int64_t in_use() const { return in_iteration_ + pending_; }
    int64_t allocated() const { return static_cast<int64_t>(slots_.size()); }

    void BeginGracefulStop() {
      if (state_ == State::kStopping || state_ == State::kDone) return;
      if (state_ == State::kWaiting) {
        impl_.loop_.Cancel(phase_timer_);
        state_ = State::kDone;
        return;
      }
      state_ = State::kStopping;
      impl_.loop_.Cancel(arrival_timer_);
      for (auto& s : slots_) SetActive(*s, false);
      next_phase_ = Phase::kGraceOver;
      impl_.loop_.Schedule(phase_timer_, impl_.loop_.UpdateNow() + sc_.graceful_stop_ns);
      CheckDone();
    }

    void HardStop() {
      impl_.loop_.Cancel(phase_timer_);
      impl_.loop_.Cancel(arrival_timer_);
      for (auto& s : slots_) {
        SetActive(*s, false);
        impl_.loop_.Cancel(static_cast<loop::Timer&>(*s));
        if (s->vu.busy()) {
          impl_.FlushPendingSpan(*s);
          s->vu.Interrupt();
          --in_iteration_;
          ++impl_.result().interrupted_iterations;
        }
      }
      state_ = State::kDone;
    }

    void StartNext(Slot& s) {
      --pending_;
      if (state_ != State::kRunning || !s.active || s.vu.busy()) {
        CheckDone();
        return;
      }
      switch (sc_.type) {
        case ExecutorType::kSharedIterations:
          if (remaining_ == 0) {
            SetActive(s, false);
            CheckDone();
            return;
          }
          --remaining_;
          break;
        case ExecutorType::kPerVuIterations:
          if (s.own_left == 0) {
            SetActive(s, false);
            CheckDone();
            return;
          }
          --s.own_left;
          break;
        default:
          break;
      }
      ++in_iteration_;
      s.vu.StartIteration();
    }

    void IterationEnded(Slot& s) {
      --in_iteration_;
      if (IsArrivalRate()) {
        SetActive(s, false);
        idle_.push_back(&s);
        CheckDone();
        return;
      }
      Post(s);  // deferred: an iteration that never blocks cannot recurse
    }

    void RampDownExpired(Slot& s) {
      if (!s.active && s.vu.busy()) {
        impl_.FlushPendingSpan(s);
        s.vu.Interrupt();
        --in_iteration_;
        ++impl_.result().interrupted_iterations;
        CheckDone();
      }
    }

    metrics::TagSetId iteration_tags = 0;

   private:
    enum class State { kWaiting, kRunning, kStopping, kDone };
    enum class Phase { kBegin, kRampChange, kEnd, kGraceOver };

    bool IsArrivalRate() const {
      return sc_.type == ExecutorType::kConstantArrivalRate ||
             sc_.type == ExecutorType::kRampingArrivalRate;
    }

    void SetActive(Slot& s, bool active) {
      if (s.active == active) return;
      s.active = active;
      active_count_ += active ? 1 : -1;
    }

    void Post(Slot& s) {
      if (s.posted()) return;
      ++pending_;
      impl_.loop_.Post(s);
    }

    Slot& NewSlot() {
      script::Vu& vu = impl_.NewVu(sc_);
      slots_.push_back(std::make_unique<Slot>(*this, vu));
      return *slots_.back();
    }

    void OnPhase() {
      int64_t now = impl_.loop_.UpdateNow();
      switch (next_phase_) {
        case Phase::kBegin:
          Begin(now);
          return;
        case Phase::kRampChange:
          ApplyRamp(now);
          return;
        case Phase::kEnd:
          BeginGracefulStop();
          return;
        case Phase::kGraceOver:
          HardStop();
          impl_.CheckFinished();
          return;
      }
    }
    friend class MemberTimer<ScenarioRun, &ScenarioRun::OnPhase>;

    void Begin(int64_t now) {
      if (!sc_.HasWork()) {
        state_ = State::kDone;
        impl_.CheckFinished();
        return;
      }
      state_ = State::kRunning;
      int64_t end_ns = 0;
      switch (sc_.type) {
        case ExecutorType::kSharedIterations:
        case ExecutorType::kPerVuIterations:
        case ExecutorType::kConstantVus: {
          remaining_ = static_cast<uint64_t>(sc_.iterations);
          for (int64_t i = 0; i < sc_.vus; ++i) {
            Slot& s = NewSlot();
            SetActive(s, true);
            s.own_left = static_cast<uint64_t>(sc_.iterations);
            Post(s);
          }
          end_ns = t0_ + (sc_.type == ExecutorType::kConstantVus ? sc_.duration_ns
                                                                  : sc_.max_duration_ns);
          break;
        }
        case ExecutorType::kRampingVus:
          ramp_ = std::make_unique<RampingVusSchedule>(sc_);
          ApplyRamp(now);
          return;  // ApplyRamp schedules the next phase
        case ExecutorType::kConstantArrivalRate:
        case ExecutorType::kRampingArrivalRate: {
          arrivals_ = std::make_unique<ArrivalSchedule>(ArrivalSchedule::For(sc_));
          for (int64_t i = 0; i < sc_.pre_allocated_vus; ++i) idle_.push_back(&NewSlot());
          next_arrival_ = 0;
          ScheduleArrival();
          end_ns = t0_ + arrivals_->DurationNs();
          break;
        }
      }
      next_phase_ = Phase::kEnd;
      impl_.loop_.Schedule(phase_timer_, end_ns);
    }

    void ApplyRamp(int64_t now) {
      int64_t t = now - t0_;
      int64_t target = ramp_->VusAt(t);
      // VUs are taken in order, so the active ones are always a prefix:
      // ramping up activates the next ones, ramping down releases the last.
      for (size_t i = static_cast<size_t>(active_count_); active_count_ < target; ++i) {
        Slot& s = i < slots_.size() ? *slots_[i] : NewSlot();
        SetActive(s, true);
        impl_.loop_.Cancel(static_cast<loop::Timer&>(s));
        if (!s.vu.busy()) Post(s);
      }
      for (size_t i = static_cast<size_t>(active_count_); active_count_ > target && i-- > 0;) {
        Slot& s = *slots_[i];
        SetActive(s, false);  // finishes its iteration, up to gracefulRampDown
        if (s.vu.busy()) {
          impl_.loop_.Schedule(static_cast<loop::Timer&>(s), now + sc_.graceful_ramp_down_ns);
        }
      }
      int64_t next = ramp_->NextChangeNs(t);
      if (next == kNeverNs || next >= ramp_->TotalDurationNs()) {
        next_phase_ = Phase::kEnd;
        impl_.loop_.Schedule(phase_timer_, t0_ + ramp_->TotalDurationNs());
      } else {
        next_phase_ = Phase::kRampChange;
        impl_.loop_.Schedule(phase_timer_, t0_ + next);
      }
    }

    void ScheduleArrival() {
      if (next_arrival_ >= arrivals_->TotalArrivals()) return;
      impl_.loop_.Schedule(arrival_timer_, t0_ + arrivals_->ArrivalNs(next_arrival_));
    }

    // Starts every iteration that is due, each on an idle VU; with none free
    // (and maxVUs reached) the iteration is dropped and counted, so
    // coordinated omission shows instead of hiding.
    void OnArrival() {
      if (state_ != State::kRunning) return;
      int64_t now = impl_.loop_.UpdateNow();
      while (next_arrival_ < arrivals_->TotalArrivals()) {
        int64_t due = t0_ + arrivals_->ArrivalNs(next_arrival_);
        if (due > now) break;
        ++next_arrival_;
        Slot* s = nullptr;
        if (!idle_.empty()) {
          s = idle_.back();
          idle_.pop_back();
        } else if (static_cast<int64_t>(slots_.size()) < sc_.max_vus) {
          s = &NewSlot();
        }
        if (s == nullptr) {
          impl_.shard().Add(mb::kDroppedIterations, iteration_tags, 1);
          ++impl_.result().dropped_iterations;
          continue;
        }
        SetActive(*s, true);
        s->scheduled_ns = due;
        impl_.shard().Add(mb::kIterationStartLag, iteration_tags, static_cast<double>(now - due));
        ++in_iteration_;
        s->vu.StartIteration();
      }
      ScheduleArrival();
    }
    friend class MemberTimer<ScenarioRun, &ScenarioRun::OnArrival>;

    void CheckDone() {
      if (state_ == State::kDone) return;
      bool any_busy = in_use() > 0;
      if (state_ == State::kRunning && !IsArrivalRate() && sc_.type != ExecutorType::kRampingVus &&
          sc_.type != ExecutorType::kConstantVus && active_count_ == 0 && !any_busy) {
        // Iteration-based executors end when their iterations are done.
        impl_.loop_.Cancel(phase_timer_);
        state_ = State::kDone;
      } else if (state_ == State::kStopping && !any_busy) {
        impl_.loop_.Cancel(phase_timer_);
        state_ = State::kDone;
      }
      if (state_ == State::kDone) impl_.CheckFinished();
    }

    Impl& impl_;
    const Scenario& sc_;
    State state_ = State::kWaiting;
    Phase next_phase_ = Phase::kBegin;
    int64_t t0_ = 0;
    uint64_t remaining_ = 0;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<Slot*> idle_;  // arrival-rate: VUs free for the next arrival
    std::unique_ptr<RampingVusSchedule> ramp_;
    std::unique_ptr<ArrivalSchedule> arrivals_;
    uint64_t next_arrival_ = 0;
    int64_t active_count_ = 0;
    int64_t in_iteration_ = 0;
    int64_t pending_ = 0;
    MemberTimer<ScenarioRun, &ScenarioRun::OnPhase> phase_timer_;
    MemberTimer<ScenarioRun, &ScenarioRun::OnArrival> arrival_timer_;
  };

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
    runtime_ = std::make_unique<script::Runtime>(ro, loop_, client_);
    runtime_->set_host(this);
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
    if (spans_.enabled()) w_.span_sink_->Flush();
    w_.result_.connections_opened = client_.connections_opened();
  }

  void Wake() { loop_.Wake(); }

  // ---- ScriptHost ----
  void OnRequest(script::Vu& vu, const http::Exchange& ex, const std::vector<Tag>& tags,
                 bool expected, const RequestTrace& trace) override {
    metrics::TagSetId ts = Intern(tags);
    recorder_.RecordHttp(ex, ts, !expected);
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
        p.outcome = RequestOutcome::Of(ex);
        p.info.trace_id = trace.trace_id;
        p.info.span_id = trace.span_id;
        p.info.parent_span_id = trace.parent_span_id;
        p.info.trace_flags = trace.flags;
        p.info.server_port = trace.server_port;
        p.info.vu = vu.id();
        p.info.iteration = vu.iteration() - 1;
        p.failed = !expected;
        p.active = true;
        if (spans_.Keeps(p.outcome, p.info, p.failed)) vu.set_trace_kept();
      }
    }
    w_.result_.errors_by_type[static_cast<size_t>(ex.error)] += ex.error != net::NetError::kNone;
    WorkerProgress& p = w_.progress_;
    p.requests.store(p.requests.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (!expected) {
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
    p.outcome.error_detail = p.error_detail;
    spans_.Record(p.outcome, p.info, p.failed);
  }

  void OnIterationEnd(script::Vu& vu, int64_t started_ns, std::string_view error) override {
    auto* slot = static_cast<Slot*>(vu.user_data);
    if (slot == nullptr) return;
    int64_t now = loop_.UpdateNow();
    if (!error.empty()) {
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
    if (!vu.trace_sampled() && !vu.trace_kept()) return;
    char name[128];
    int len = std::snprintf(name, sizeof name, "iteration %s", vu.scenario().c_str());
    const otel::KeyValue attrs[] = {
        {"stampede.scenario", otel::AnyValue::String(vu.scenario())},
        {"stampede.vu", otel::AnyValue::Int(static_cast<int64_t>(vu.id()))},
        {"stampede.iteration", otel::AnyValue::Int(static_cast<int64_t>(vu.iteration() - 1))},
    };
    otel::SpanData s;
    s.trace_id = vu.trace_id();
    s.span_id = vu.iteration_span_id();
    s.flags = otel::kFlagRandom | (vu.trace_sampled() ? otel::kFlagSampled : 0);
    s.name = std::string_view(name, static_cast<size_t>(std::clamp(len, 0, 127)));
    s.kind = otel::SpanKind::kInternal;
    s.start_unix_ns = w_.anchor_or_default()->ToUnixNs(started_ns);
    s.end_unix_ns = w_.anchor_or_default()->ToUnixNs(ended_ns);
    s.attributes = attrs;
    if (!error.empty()) {
      s.status = otel::StatusCode::kError;
      s.status_message = error;
    }
    w_.span_sink_->Record(s);
  }

  // group() and trace.span() spans: kept under the same rule as the
  // iteration span (sampled, or a request of the trace was kept). A group
  // that ends before a later request of its trace is kept loses its span.
  void OnSpanEnd(script::Vu& vu, const SpanEnd& end) override {
    if (!spans_.enabled() || (!vu.trace_sampled() && !vu.trace_kept())) return;
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
  script::Vu& NewVu(const Scenario& sc) {
    uint64_t id = next_local_vu_++ * static_cast<uint64_t>(w_.workers_) +
                  static_cast<uint64_t>(w_.index_) + 1;
    return runtime_->NewVu(id, sc.name, sc.exec, &sc.tags, &sc.env);
  }
  metrics::Shard& shard() { return *w_.shard_; }
  WorkerResult& result() { return w_.result_; }

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
  metrics::TagSetId Intern(const std::vector<Tag>& tags) {
    uint64_t digest = 0x9E3779B97F4A7C15ull ^ tags.size();
    for (const Tag& t : tags) {
      digest = (digest ^ std::hash<std::string_view>{}(t.key)) * 0xBF58476D1CE4E5B9ull;
      digest = (digest ^ std::hash<std::string_view>{}(t.value)) * 0x94D049BB133111EBull;
    }
    auto it = tag_cache_.find(digest);
    if (it != tag_cache_.end()) return it->second;
    scratch_.clear();
    for (const Tag& t : tags) scratch_.push_back({t.key, t.value});
    for (const auto& [k, v] : global_tags_) scratch_.push_back({k, v});
    metrics::TagSetId id = w_.shard_->Intern(scratch_);
    if (tag_cache_.size() < 65536) tag_cache_.emplace(digest, id);  // bounded
    return id;
  }

  void Publish() {
    UpdateVuCounts();
    w_.publisher_.Publish(*w_.shard_);
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
  int stop_level_ = 0;
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
    impl_->Run();
    progress_.active_vus.store(0, std::memory_order_relaxed);
    progress_.done.store(true, std::memory_order_release);
  });
}

void ScriptWorker::Join() {
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

void ScriptWorker::RequestStop(bool hard) {
  int level = hard ? 2 : 1;
  int current = stop_request_.load();
  while (current < level && !stop_request_.compare_exchange_weak(current, level)) {
  }
  if (impl_) impl_->Wake();
}

}  // namespace stampede::engine
