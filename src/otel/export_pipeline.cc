#include "otel/export_pipeline.h"

#include <algorithm>
#include <array>

#include "core/log.h"
#include "core/thread_name.h"
#include "otel/export_retry.h"
#include "otel/otlp_encoder.h"

namespace stampede::otel {
namespace {

// Bound on distinct warning lines, so that a collector answering with
// ever-changing messages cannot turn the warnings into a stream.
constexpr size_t kMaxDistinctWarnings = 16;

int64_t ToNs(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

ExportPipelineOptions ExportPipelineOptions::FromConfig(const OtlpConfig& config) {
  ExportPipelineOptions o;
  o.max_batch_spans = config.bsp.max_export_batch_size;
  o.schedule_delay = config.bsp.schedule_delay;
  o.export_timeout = config.timeout;
  o.retry_budget = config.bsp.export_timeout;
  o.resource_attributes = config.resource_attributes;
  return o;
}

ExportPipeline::ExportPipeline(std::unique_ptr<Exporter> exporter, int num_sinks,
                               ExportPipelineOptions options)
    : exporter_(std::move(exporter)), options_(std::move(options)) {
  if (options_.max_batch_spans == 0) options_.max_batch_spans = 1;
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  if (!options_.warn) options_.warn = [](std::string_view line) { core::Warn("{}", line); };
  endpoint_ = exporter_->endpoint();
  for (const auto& [k, v] : options_.resource_attributes) {
    resource_kv_.push_back(KeyValue{k, AnyValue::String(v)});
  }
  SpanSink::Options sink_options = options_.sink;
  sink_options.max_spans_per_chunk =
      std::min(sink_options.max_spans_per_chunk, options_.max_batch_spans);
  for (int i = 0; i < num_sinks; ++i) {
    sinks_.push_back(std::make_unique<SpanSink>(sink_options, [this] { Wake(); }));
  }
  pending_.Reserve(options_.max_batch_bytes + sink_options.chunk_bytes);
  request_.Reserve(options_.max_batch_bytes + sink_options.chunk_bytes + 4096);
  rng_state_ ^= static_cast<uint64_t>(ToNs(SteadyClock::now()));
  thread_ = std::thread([this] {
    core::NameThisThread("stampede-export");
    Run();
  });
}

ExportPipeline::~ExportPipeline() { Shutdown(std::chrono::nanoseconds(0)); }

void ExportPipeline::Wake() {
  // One exchange per handed-over chunk; notify only on the false→true edge.
  if (!wake_.exchange(true, std::memory_order_acq_rel)) cv_.notify_one();
}

void ExportPipeline::Shutdown(std::chrono::nanoseconds flush_timeout) {
  if (shut_down_) return;
  shut_down_ = true;
  // The workers are joined (the contract), so this thread may act as producer.
  for (auto& s : sinks_) s->Flush();
  {
    std::lock_guard<std::mutex> lock(mu_);
    shutdown_deadline_ns_.store(ToNs(SteadyClock::now()) + flush_timeout.count(),
                                std::memory_order_release);
    stop_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

ExportPipelineStats ExportPipeline::stats() const {
  ExportPipelineStats s;
  for (const auto& sink : sinks_) {
    s.spans_recorded += sink->recorded();
    s.spans_dropped += sink->dropped();
  }
  s.spans_dropped += unsent_.load(std::memory_order_relaxed);
  s.spans_exported = exported_.load(std::memory_order_relaxed);
  s.spans_failed = failed_.load(std::memory_order_relaxed);
  s.spans_rejected = rejected_.load(std::memory_order_relaxed);
  s.requests = requests_.load(std::memory_order_relaxed);
  s.retries = retries_.load(std::memory_order_relaxed);
  s.warnings = warnings_.load(std::memory_order_relaxed);
  return s;
}

ExportPipeline::SteadyClock::time_point ExportPipeline::ShutdownDeadline() const {
  const int64_t ns = shutdown_deadline_ns_.load(std::memory_order_acquire);
  if (ns == INT64_MAX) return SteadyClock::time_point::max();
  return SteadyClock::time_point(std::chrono::nanoseconds(ns));
}

void ExportPipeline::Run() {
  // A bounded poll backs up the lock-free wake-up (a notify may slip in
  // between the predicate check and the wait).
  const auto tick = std::min<SteadyClock::duration>(
      std::chrono::duration_cast<SteadyClock::duration>(options_.schedule_delay),
      std::chrono::milliseconds(100));
  auto next_due = SteadyClock::now() + options_.schedule_delay;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(lock, std::min(next_due, SteadyClock::now() + tick), [this] {
        return wake_.load(std::memory_order_acquire) || stop_.load(std::memory_order_acquire);
      });
    }
    wake_.store(false, std::memory_order_release);
    const bool stopping = stop_.load(std::memory_order_acquire);
    Drain();
    if (stopping || SteadyClock::now() >= next_due) {
      if (pending_spans_ > 0) ExportPending();
      next_due = SteadyClock::now() + options_.schedule_delay;
    }
    if (stopping) break;
  }
}

void ExportPipeline::Drain() {
  const ExportRequestHeader header{.resource_attributes = resource_kv_,
                                   .scope_name = options_.scope_name,
                                   .scope_version = options_.scope_version};
  for (auto& sink : sinks_) {
    while (const SpanSink::Chunk* chunk = sink->TakeFilled()) {
      const std::string_view bytes = chunk->bytes();
      if (pending_spans_ > 0 && (pending_spans_ + chunk->spans() > options_.max_batch_spans ||
                                 ExportTraceRequestSize(header, pending_.size() + bytes.size()) >
                                     options_.max_batch_bytes)) {
        ExportPending();
      }
      pending_.AppendRaw(bytes);
      pending_spans_ += chunk->spans();
      sink->Recycle(chunk);
      if (pending_spans_ >= options_.max_batch_spans) ExportPending();
    }
  }
}

void ExportPipeline::ExportPending() {
  const ExportRequestHeader header{.resource_attributes = resource_kv_,
                                   .scope_name = options_.scope_name,
                                   .scope_version = options_.scope_version};
  const std::array<std::string_view, 1> chunks{pending_.view()};
  request_.Clear();
  EncodeExportTraceRequest(header, chunks, request_);
  if (options_.on_batch) options_.on_batch(request_.view());
  ExportWithRetry(request_.view(), pending_spans_);
  pending_.Clear();
  pending_spans_ = 0;
}

void ExportPipeline::ExportWithRetry(std::string_view request, uint64_t spans) {
  const RetryOutcome out = otel::ExportWithRetry(
      *exporter_, request, spans,
      RetryPolicy{
          .deadline = SteadyClock::now() +
                      std::chrono::duration_cast<SteadyClock::duration>(options_.retry_budget),
          .attempt_timeout = options_.export_timeout,
          .max_attempts = options_.max_attempts,
          .initial_backoff = options_.initial_backoff,
          .max_backoff = options_.max_backoff},
      RetryHooks{.jitter_state = &rng_state_,
                 .wait_until = [this](SteadyClock::time_point t) { return WaitUntil(t); },
                 .shutdown_deadline = [this] { return ShutdownDeadline(); },
                 .abandon = nullptr,
                 .on_request = [this] { Add(requests_, 1); },
                 .on_backoff =
                     [this](int64_t delay_ns) {
                       if (options_.on_backoff) options_.on_backoff(delay_ns);
                       Add(retries_, 1);
                     }});
  switch (out.kind) {
    case RetryOutcome::Kind::kNotSent:
      Add(unsent_, spans);
      WarnOnce("\x01shutdown", "OTLP export to " + endpoint_ +
                                   ": spans not sent before the shutdown flush timeout "
                                   "(counted as dropped)");
      return;
    case RetryOutcome::Kind::kFailed:
      Add(failed_, spans);
      WarnOnce(out.message, "OTLP export to " + endpoint_ + " failed: " + out.message +
                                " (spans are dropped and counted; the test goes on)");
      return;
    case RetryOutcome::Kind::kExported:
      Add(exported_, spans - out.rejected);
      Add(rejected_, out.rejected);
      if (out.rejected > 0 || !out.message.empty()) {
        WarnOnce("\x02partial " + out.message,
                 "OTLP export to " + endpoint_ + ": the receiver rejected " +
                     std::to_string(out.rejected) + " spans" +
                     (out.message.empty() ? std::string() : ": " + out.message) +
                     " (counted; not retried)");
      }
      // Which spans a partial success refused is unknown: only fully
      // accepted batches are reported as exported.
      if (out.rejected == 0 && options_.on_exported) options_.on_exported(request);
      return;
  }
}

bool ExportPipeline::WaitUntil(SteadyClock::time_point until) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (ShutdownDeadline() < until) return false;
    if (SteadyClock::now() >= until) return true;
    cv_.wait_until(lock, until);
  }
}

void ExportPipeline::WarnOnce(const std::string& cause, const std::string& line) {
  if (warned_causes_.count(cause) != 0) return;
  if (warned_causes_.size() >= kMaxDistinctWarnings) {
    if (warned_causes_.insert("\x03more").second) {
      Add(warnings_, 1);
      options_.warn("OTLP export to " + endpoint_ +
                    ": more distinct export problems; further ones are not shown");
    }
    return;
  }
  warned_causes_.insert(cause);
  Add(warnings_, 1);
  options_.warn(line);
}

}  // namespace stampede::otel
