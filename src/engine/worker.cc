#include "engine/worker.h"

#include <memory>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "engine/request_recorder.h"
#include "http/client.h"
#include "http/request_writer.h"
#include "loop/event_loop.h"
#include "net/resolver.h"
#include "net/tls.h"

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
      impl_.w_.publisher_.Publish(*impl_.w_.shard_);
      impl_.loop_.Schedule(*this, impl_.loop_.Now() + core::kNsPerSec);
    }

   private:
    Impl& impl_;
  };

  Impl(Worker& w)
      : w_(w),
        loop_(clock_),
        resolver_(loop_, ResolverOptions(w.config_)),
        tls_(MakeTls(w.config_)),
        client_(loop_, resolver_, tls_.get(), ClientOptions(w.config_)),
        request_(http::PreparedRequest::Prepare(writer_, w.config_.method, w.config_.url,
                                                Headers(w.config_), w.config_.body)),
        recorder_(*w.shard_, w.config_),
        end_of_test_(*this, false),
        end_of_grace_(*this, true),
        publish_tick_(*this) {
    origin_ = client_.GetOrigin(w.config_.url);
    vus_.reserve(w.vus_);
    for (uint32_t i = 0; i < w.vus_; ++i) {
      vus_.push_back(std::make_unique<UrlVu>(*this));
      UrlVu& vu = *vus_.back();
      vu.origin = origin_;
      vu.request_bytes = request_.bytes();
      vu.head = request_.head_request();
    }
    remaining_ = w.iterations_;
  }

  void Run() {
    loop_.UpdateNow();
    if (w_.config_.duration_ns > 0) loop_.Schedule(end_of_test_, w_.start_ns_ + w_.config_.duration_ns);
    loop_.Schedule(publish_tick_, loop_.Now() + core::kNsPerSec);
    for (auto& vu : vus_) StartIteration(*vu);
    w_.progress_.active_vus.store(active_, std::memory_order_relaxed);
    w_.progress_.allocated_vus.store(w_.vus_, std::memory_order_relaxed);
    while (!finished_) {
      loop_.RunOnce();
      int request = w_.stop_request_.load(std::memory_order_acquire);
      if (request != 0 && request > stop_level_) BeginStop(request == 2);
      if (stop_level_ > 0 && active_ == 0) finished_ = true;
    }
    loop_.Cancel(publish_tick_);
    client_.CloseAll();
    for (int i = 0; i < 3 && loop_.scheduled_timers() > 0; ++i) loop_.RunOnce(0);
    w_.result_.connections_opened = client_.connections_opened();
  }

  void Wake() { loop_.Wake(); }

 private:
  static net::Resolver::Options ResolverOptions(const RunConfig& c) {
    net::Resolver::Options o;
    o.servers = c.dns_servers;
    return o;
  }
  static std::unique_ptr<net::TlsContext> MakeTls(const RunConfig& c) {
    if (!c.url.is_https()) return nullptr;
    net::TlsContext::Options o;
    o.insecure_skip_verify = c.insecure_skip_tls_verify;
    o.ca_file = c.ca_file;
    return std::make_unique<net::TlsContext>(o);
  }
  static http::ClientOptions ClientOptions(const RunConfig& c) {
    http::ClientOptions o;
    o.connect_timeout_ns = c.connect_timeout_ns;
    o.request_timeout_ns = c.request_timeout_ns;
    return o;
  }
  static std::vector<http::Header> Headers(const RunConfig& c) {
    std::vector<http::Header> h;
    for (const auto& [name, value] : c.headers) h.push_back({name, value});
    return h;
  }

  void StartIteration(UrlVu& vu) {
    if (stop_level_ > 0) return;
    if (w_.iterations_ != 0) {
      if (remaining_ == 0) {
        BeginStop(false);
        return;
      }
      --remaining_;
    }
    ++active_;
    client_.Send(vu);
  }

  void OnVuDone(UrlVu& vu) {
    --active_;
    recorder_.Record(vu);
    bool failed = recorder_.Failed(vu);
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
  net::Resolver resolver_;
  std::unique_ptr<net::TlsContext> tls_;
  http::Client client_;
  http::RequestWriter writer_;
  http::PreparedRequest request_;
  RequestRecorder recorder_;
  http::Origin* origin_ = nullptr;
  std::vector<std::unique_ptr<UrlVu>> vus_;
  Deadline end_of_test_;
  Deadline end_of_grace_;
  PublishTick publish_tick_;
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
  impl_->Run();
  progress_.active_vus.store(0, std::memory_order_relaxed);
  progress_.done.store(true, std::memory_order_release);
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
  impl_.reset();
}

void Worker::RequestStop(bool hard) {
  int level = hard ? 2 : 1;
  int current = stop_request_.load();
  while (current < level && !stop_request_.compare_exchange_weak(current, level)) {
  }
  if (impl_) impl_->Wake();
}

}  // namespace stampede::engine
