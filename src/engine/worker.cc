#include "engine/worker.h"

#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/thread_name.h"
#include "engine/client_stack.h"
#include "engine/request_recorder.h"
#include "engine/request_spans.h"
#include "http/client.h"
#include "http/request_writer.h"
#include "loop/event_loop.h"
#include "net/resolver.h"
#include "net/tls.h"
#include "otel/trace_context.h"

#include <strings.h>

namespace stampede::engine {

// Everything a worker thread owns. Built on the main thread by Start() and
// handed over to the worker thread (thread start is the hand-off barrier).
class Worker::Impl {
 public:
  // A closed-model VU of `run --url`: one request per iteration; the next
  // starts when the last ends.
  class UrlVu final : public http::Exchange {
   public:
    explicit UrlVu(Impl& impl) : impl_(impl) {}
    void OnComplete() override { impl_.OnVuDone(*this); }
    // This VU's copy of the request: its traceparent differs per request and
    // is rewritten in place (fixed length), so sending allocates nothing.
    std::string bytes;
    uint64_t id = 0;
    uint64_t iterations = 0;
    otel::TraceId trace_id;
    otel::SpanId span_id;
    uint8_t trace_flags = 0;

   private:
    Impl& impl_;
  };

  // The end of the test's duration, and the end of the graceful stop.
  class Deadline final : public loop::Timer {
   public:
    explicit Deadline(Impl& impl, bool hard) : impl_(impl), hard_(hard) {}
    void OnTimer() override { impl_.BeginStop(hard_); }

   private:
    Impl& impl_;
    bool hard_;
  };

  // Once a second: hand a copy of the cumulative metrics to the main thread.
  class PublishTick final : public loop::Timer {
   public:
    explicit PublishTick(Impl& impl) : impl_(impl) {}
    void OnTimer() override {
      impl_.recorder_.SampleConnections(impl_.client_);
      impl_.w_.publisher_.Publish(*impl_.w_.shard_, impl_.loop_.Now());
      impl_.loop_.Schedule(*this, impl_.loop_.Now() + core::kNsPerSec);
    }

   private:
    Impl& impl_;
  };

  Impl(Worker& w)
      : w_(w),
        loop_(clock_),
        stack_(loop_, w.config_, w.config_.url.is_https()),
        client_(stack_.client()),
        writer_(w.config_.user_agent ? http::RequestWriter(*w.config_.user_agent)
                                     : http::RequestWriter()),
        request_(http::PreparedRequest::Prepare(writer_, w.config_.method, w.config_.url,
                                                Headers(w.config_), w.config_.body)),
        traceparent_at_(WritesTraceparent(w.config_)
                            ? TraceparentOffset(request_.bytes().substr(0, request_.head_size()))
                            : std::string::npos),
        recorder_(*w.shard_, w.config_),
        end_of_test_(*this, false),
        end_of_grace_(*this, true),
        publish_tick_(*this),
        url_full_(w.config_.url.Redacted()),
        spans_(w.span_sink_, *w.anchor_or_default(), ids_, w.config_.trace_keep_slower_than_ns),
        flush_tick_(*this) {
    origin_ = client_.GetOrigin(w.config_.url);
    ids_.set_run_tag(otel::RunTraceTag(w.config_.run_id));
    // Spans only for the run store: record about what it keeps, not every
    // request (RequestSpans::set_store_gate).
    if (!w.config_.traces_export && (w.config_.store || w.config_.forward_spans)) {
      spans_.set_store_gate(w.config_.store_spans_per_second);
    }
    client_.set_observer(&recorder_);
    if (w.config_.streams_per_connection > 0) {
      // h2load's -c/-m: the VUs share connections, N streams each.
      uint32_t m = w.config_.streams_per_connection;
      client_.set_max_conns_per_origin(std::max<uint32_t>(1, (w.vus_ + m - 1) / m));
    }
    vus_.reserve(w.vus_);
    for (uint32_t i = 0; i < w.vus_; ++i) {
      vus_.push_back(std::make_unique<UrlVu>(*this));
      UrlVu& vu = *vus_.back();
      vu.id = static_cast<uint64_t>(w.index_) + 1 + static_cast<uint64_t>(i) * 1024;
      vu.origin = origin_;
      vu.bytes.assign(request_.bytes());
      vu.request_bytes = vu.bytes;
      vu.head = request_.head_request();
      vu.http2_prior_knowledge = w.config_.http2_prior_knowledge;
    }
    remaining_ = w.iterations_;
    execution_ = w.config_.execution.get();
    held_.reserve(vus_.size());
    resuming_.reserve(vus_.size());
  }

  void Run() {
    loop_.UpdateNow();
    if (w_.config_.duration_ns > 0) loop_.Schedule(end_of_test_, w_.start_ns_ + w_.config_.duration_ns);
    loop_.Schedule(publish_tick_, loop_.Now() + core::kNsPerSec);
    if (spans_.enabled()) loop_.Schedule(flush_tick_, loop_.Now() + 200'000'000);
    for (auto& vu : vus_) StartIteration(*vu);
    w_.progress_.active_vus.store(active_, std::memory_order_relaxed);
    w_.progress_.allocated_vus.store(w_.vus_, std::memory_order_relaxed);
    while (!finished_) {
      loop_.RunOnce();
      int request = w_.stop_request_.load(std::memory_order_acquire);
      if (request != 0 && request > stop_level_) BeginStop(request == 2);
      if (!held_.empty() && !execution_->paused()) {  // resumed (the runner wakes us)
        resuming_.swap(held_);
        for (UrlVu* vu : resuming_) StartIteration(*vu);
        resuming_.clear();
        w_.progress_.active_vus.store(active_, std::memory_order_relaxed);
      }
      if (stop_level_ > 0 && active_ == 0) finished_ = true;
    }
    loop_.Cancel(publish_tick_);
    loop_.Cancel(flush_tick_);
    if (spans_.enabled()) w_.span_sink_->Flush();
    client_.CloseAll();
    for (int i = 0; i < 3 && loop_.scheduled_timers() > 0; ++i) loop_.RunOnce(0);
    recorder_.SampleConnections(client_);
    client_.set_observer(nullptr);  // the recorder dies before the client
    w_.result_.connections_opened = client_.connections_opened();
    w_.result_.requests_retried = client_.requests_retried();
  }

  void Wake() { loop_.Wake(); }

 private:
  // The dashboard's pause: VUs whose next request waits for the resume.
  script::Execution* execution_ = nullptr;
  std::vector<UrlVu*> held_;
  std::vector<UrlVu*> resuming_;

  // The user's headers, plus the trace context headers unless the user set
  // them (theirs win). The traceparent value is a placeholder of the final
  // length, rewritten per request.
  static bool UserSets(const RunConfig& c, const char* header) {
    for (const auto& [name, value] : c.headers) {
      if (strcasecmp(name.c_str(), header) == 0) return true;
    }
    return false;
  }
  static bool WritesTraceparent(const RunConfig& c) {
    return c.propagators.tracecontext && !UserSets(c, "traceparent");
  }
  static std::vector<http::Header> Headers(const RunConfig& c) {
    static const std::string kPlaceholder(otel::kTraceparentSize, '0');
    std::vector<http::Header> h;
    for (const auto& [name, value] : c.headers) h.push_back({name, value});
    if (WritesTraceparent(c)) h.push_back({"traceparent", kPlaceholder});
    if (c.propagators.baggage && c.baggage_run_id && !UserSets(c, "baggage")) {
      static thread_local std::string baggage;
      baggage = "stampede.run.id=" + otel::EncodeBaggageValue(c.run_id);
      h.push_back({"baggage", baggage});
    }
    // No reuse (an iteration here is one request, so noVUConnectionReuse is
    // the same): say so to the server, as k6 does.
    if ((c.no_connection_reuse || c.no_vu_connection_reuse) && !UserSets(c, "connection")) {
      h.push_back({"Connection", "close"});
    }
    return h;
  }
  // Searches the request head only; our header comes after the user's, so
  // the last match is ours.
  static size_t TraceparentOffset(std::string_view bytes) {
    size_t at = bytes.rfind("\r\ntraceparent: ");
    return at == std::string_view::npos ? std::string_view::npos : at + 15;
  }

  void StartIteration(UrlVu& vu) {
    if (stop_level_ > 0) return;
    if (execution_ != nullptr && execution_->paused()) {
      held_.push_back(&vu);  // reserved: one per VU
      return;
    }
    if (w_.iterations_ != 0) {
      if (remaining_ == 0) {
        BeginStop(false);
        return;
      }
      --remaining_;
    }
    ++active_;
    if (traceparent_at_ != std::string::npos) {
      // Each request is its own trace here (one request per iteration).
      vu.trace_id = ids_.NewTraceId();
      vu.span_id = ids_.NewSpanId();
      vu.trace_flags = otel::kFlagRandom |
                       (w_.config_.sampler.ShouldSample(vu.trace_id, std::nullopt) ? otel::kFlagSampled : 0);
      otel::FormatTraceparent(vu.trace_id, vu.span_id, vu.trace_flags,
                              vu.bytes.data() + traceparent_at_);
    }
    client_.Send(vu);
  }

  void OnVuDone(UrlVu& vu) {
    --active_;
    recorder_.Record(vu);
    bool failed = recorder_.Failed(vu);
    if (spans_.enabled()) {
      RequestSpanInfo info;
      info.trace_id = vu.trace_id;
      info.span_id = vu.span_id;
      info.trace_flags = vu.trace_flags;
      info.method = w_.config_.method;
      info.url_full = url_full_;
      info.server_address = w_.config_.url.host;
      info.server_port = w_.config_.url.port;
      info.vu = vu.id;
      info.iteration = vu.iterations++;
      spans_.Record(RequestOutcome::Of(vu), info, failed);
    }
    w_.result_.errors_by_type[static_cast<size_t>(vu.error)] += vu.error != net::NetError::kNone;
    WorkerProgress& p = w_.progress_;
    p.requests.store(p.requests.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (failed) p.failed.store(p.failed.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    StartIteration(vu);
    p.active_vus.store(active_, std::memory_order_relaxed);
  }

  // Graceful: stop issuing; in-flight requests get graceful_stop to finish.
  // Hard: abandon in-flight requests now (they are not recorded: k6 counts
  // such iterations as interrupted).
  void BeginStop(bool hard) {
    if (!hard) {
      if (stop_level_ >= 1) return;
      stop_level_ = 1;
      loop_.Cancel(end_of_test_);
      loop_.Schedule(end_of_grace_, loop_.UpdateNow() + w_.config_.graceful_stop_ns);
      return;
    }
    if (stop_level_ >= 2) return;
    stop_level_ = 2;
    loop_.Cancel(end_of_test_);
    loop_.Cancel(end_of_grace_);
    for (auto& vu : vus_) {
      if (!vu->in_flight()) continue;
      client_.Cancel(*vu);
      --active_;
      ++w_.result_.interrupted_iterations;
    }
    w_.progress_.active_vus.store(active_, std::memory_order_relaxed);
  }

  Worker& w_;
  core::MonotonicClock clock_;
  loop::EventLoop loop_;
  ClientStack stack_;
  http::Client& client_;
  http::RequestWriter writer_;
  http::PreparedRequest request_;
  size_t traceparent_at_;  // offset of the traceparent value in the request, or npos
  otel::IdGenerator ids_;
  RequestRecorder recorder_;
  http::Origin* origin_ = nullptr;
  std::vector<std::unique_ptr<UrlVu>> vus_;
  Deadline end_of_test_;
  Deadline end_of_grace_;
  PublishTick publish_tick_;
  std::string url_full_;
  RequestSpans spans_;
  // Every 200 ms: hand the worker's partly filled span chunk to the exporter.
  class FlushTick final : public loop::Timer {
   public:
    explicit FlushTick(Impl& impl) : impl_(impl) {}
    void OnTimer() override {
      impl_.w_.span_sink_->Flush();
      impl_.loop_.Schedule(*this, impl_.loop_.Now() + 200'000'000);
    }

   private:
    Impl& impl_;
  };
  FlushTick flush_tick_;
  uint64_t remaining_ = 0;
  uint32_t active_ = 0;
  int stop_level_ = 0;  // 0 running, 1 graceful stop, 2 hard stop
  bool finished_ = false;
};

Worker::Worker(int index, const RunConfig& config, const metrics::Registry& registry,
               uint32_t vus, uint64_t iterations, int64_t start_ns)
    : WorkerBase(registry),
      index_(index),
      config_(config),
      registry_(registry),
      vus_(vus),
      iterations_(iterations),
      start_ns_(start_ns) {}

Worker::~Worker() {
  if (thread_.joinable()) {
    RequestStop(true);
    thread_.join();
  }
}

void Worker::Start() {
  impl_ = std::make_unique<Impl>(*this);
  thread_ = std::thread([this] { ThreadMain(); });
}

void Worker::ThreadMain() {
  core::NameThisThread("stampede-w" + std::to_string(index_));
  impl_->Run();
  progress_.active_vus.store(0, std::memory_order_relaxed);
  progress_.done.store(true, std::memory_order_release);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

void Worker::Wake() {
  if (impl_) impl_->Wake();
}

void Worker::RequestStop(bool hard) {
  int level = hard ? 2 : 1;
  int current = stop_request_.load();
  while (current < level && !stop_request_.compare_exchange_weak(current, level)) {
  }
  if (impl_) impl_->Wake();
}

}  // namespace stampede::engine
