#include "otel/metrics_pipeline.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <set>

#include "core/log.h"
#include "core/thread_name.h"
#include "otel/console_metrics_exporter.h"
#include "otel/export_retry.h"
#include "otel/otlp_grpc_exporter.h"
#include "otel/otlp_http_exporter.h"
#include "otel/proto_writer.h"

namespace stampede::otel {
namespace {

using SteadyClock = std::chrono::steady_clock;
using Exemplars = std::map<std::string, std::vector<metrics::Exemplar>>;

// Bound on distinct failure lines, so that a collector answering with
// ever-changing messages cannot turn the warnings into a stream.
constexpr size_t kMaxDistinctWarnings = 16;
// How long Shutdown() waits past its flush timeout for an attempt in flight.
constexpr auto kShutdownGrace = std::chrono::milliseconds(500);

int64_t ToNs(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

SteadyClock::time_point FromNs(int64_t ns) {
  if (ns == INT64_MAX) return SteadyClock::time_point::max();
  return SteadyClock::time_point(std::chrono::nanoseconds(ns));
}

std::string Seconds(std::chrono::nanoseconds d) {
  const double s = std::chrono::duration<double>(d).count();
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, s);
  return std::string(buf, r.ptr) + " s";
}

}  // namespace

MetricsPipelineOptions MetricsPipelineOptions::FromConfig(const MetricsConfig& config) {
  MetricsPipelineOptions o;
  o.interval = config.interval;
  o.export_timeout = config.timeout;
  o.encoder.temporality = config.temporality;
  o.encoder.histogram = config.aggregation;
  if (config.otlp) {
    o.attempt_timeout = config.otlp->timeout;
    o.resource_attributes = config.otlp->resource_attributes;
  }
  return o;
}

std::unique_ptr<Exporter> MakeMetricsExporter(const OtlpConfig& config, std::FILE* console) {
  switch (config.exporter) {
    case ExporterKind::kNone:
      return nullptr;
    case ExporterKind::kConsole:
      return std::make_unique<ConsoleMetricsExporter>(console);
    case ExporterKind::kOtlp:
      break;
  }
  if (config.protocol == OtlpProtocol::kGrpc) return std::make_unique<OtlpGrpcExporter>(config);
  return std::make_unique<OtlpHttpExporter>(config);
}

// Everything the thread touches. Shared (shared_ptr) so that a thread stuck
// in an exporter past Shutdown() can finish on its own.
struct MetricsPipeline::Core {
  Core(std::unique_ptr<Exporter> e, const metrics::LiveResults& l, metrics::ExemplarReservoir* r,
       MetricsPipelineOptions o)
      : exporter(std::move(e)),
        options(std::move(o)),
        live(&l),
        reservoir(r),
        start_unix_ns(l.start_unix_ns()),
        model(options.model),
        encoder(options.encoder) {
    endpoint = exporter->endpoint();
    for (const auto& [k, v] : options.resource_attributes) {
      resource_kv.push_back(KeyValue{k, AnyValue::String(v)});
    }
    rng_state ^= static_cast<uint64_t>(ToNs(SteadyClock::now()));
  }

  void Run();
  void PeriodicExport();
  void FinalExport();
  void EncodeAndExport(const metrics::Snapshot& snapshot, int64_t time_unix_ns,
                       const Exemplars& exemplars, SteadyClock::time_point deadline, bool periodic);
  void ExportWithRetry(std::string_view request, uint64_t points, SteadyClock::time_point deadline,
                       bool periodic);
  // Waits until `until`; false at once if stopping cuts it short.
  bool WaitUntil(SteadyClock::time_point until, bool periodic);
  SteadyClock::time_point ShutdownDeadline() const {
    return FromNs(shutdown_deadline_ns.load(std::memory_order_acquire));
  }
  bool Stopping() const { return stopping.load(std::memory_order_acquire); }
  void WarnOnce(const std::string& cause, const std::string& line);
  void Warn(const std::string& line);  // unconditionally (still not once abandoned)
  static void Add(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.fetch_add(n, std::memory_order_relaxed);
  }

  // Set at construction.
  std::unique_ptr<Exporter> exporter;
  MetricsPipelineOptions options;
  const metrics::LiveResults* live;       // read only under mu, before `stop`
  metrics::ExemplarReservoir* reservoir;  // likewise
  int64_t start_unix_ns;
  std::string endpoint;
  std::vector<KeyValue> resource_kv;  // views into options.resource_attributes

  // Thread state.
  metrics::ExportModel model;
  MetricsEncoder encoder;
  ProtoWriter request;
  std::set<std::string> warned_causes;
  uint64_t last_points = 0;     // data points of the last export
  bool last_export_ok = false;  // whether it was acknowledged
  uint64_t rng_state = 0x9e3779b97f4a7c15ull;

  // Control.
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;       // under mu
  bool abandoned = false;  // under mu: Shutdown() returned without the thread
  bool finished = false;   // under mu
  std::shared_ptr<const metrics::Snapshot> final_snapshot;  // under mu
  int64_t final_time_unix_ns = 0;                           // under mu
  Exemplars final_exemplars;                                // under mu
  std::atomic<bool> stopping{false};
  std::atomic<int64_t> shutdown_deadline_ns{INT64_MAX};  // steady_clock epoch ns

  std::atomic<uint64_t> exports_attempted{0}, exports_ok{0}, exports_failed{0}, points_exported{0},
      points_failed{0}, points_dropped{0}, points_rejected{0}, requests{0}, retries{0}, warnings{0};
};

void MetricsPipeline::Core::Run() {
  auto next_due = SteadyClock::now() + options.interval;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_until(lock, next_due, [this] { return stop; });
      if (stop) break;
    }
    PeriodicExport();
    const auto now = SteadyClock::now();
    next_due += options.interval;
    uint64_t skipped = 0;
    while (next_due <= now) {
      next_due += options.interval;
      ++skipped;
    }
    if (skipped > 0 && !Stopping()) {
      Add(points_dropped, skipped * last_points);
      // An export that failed in the end has been warned about; its retries
      // are why it overran. Warn about slowness only when it got through.
      if (last_export_ok) {
        WarnOnce("\x01slow",
                 "OTLP metrics export to " + endpoint + " took longer than the export interval (" +
                     Seconds(options.interval) +
                     "); intervals are skipped and their data points counted as dropped");
      }
    }
  }
  FinalExport();
  {
    std::lock_guard<std::mutex> lock(mu);
    finished = true;
  }
  cv.notify_all();
}

void MetricsPipeline::Core::PeriodicExport() {
  metrics::LiveSnapshot latest;
  Exemplars exemplars;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (stop) return;
    latest = live->Latest();
    if (reservoir != nullptr) exemplars = reservoir->TakeInterval();
  }
  if (latest.snapshot == nullptr) return;  // nothing published yet
  const auto deadline = SteadyClock::now() +
                        std::chrono::duration_cast<SteadyClock::duration>(options.export_timeout);
  EncodeAndExport(*latest.snapshot, latest.time_unix_ns, exemplars, deadline, /*periodic=*/true);
}

void MetricsPipeline::Core::FinalExport() {
  std::shared_ptr<const metrics::Snapshot> snapshot;
  int64_t time_unix_ns = 0;
  Exemplars exemplars;
  {
    std::lock_guard<std::mutex> lock(mu);
    snapshot = std::move(final_snapshot);
    time_unix_ns = final_time_unix_ns;
    exemplars = std::move(final_exemplars);
  }
  if (snapshot == nullptr) return;
  // The final export is an export like the others: OTEL_METRIC_EXPORT_TIMEOUT
  // bounds it too, not only Shutdown()'s flush timeout (a down collector
  // would otherwise hold the end of the run for the whole flush timeout).
  const auto own_deadline =
      SteadyClock::now() +
      std::chrono::duration_cast<SteadyClock::duration>(options.export_timeout);
  EncodeAndExport(*snapshot, time_unix_ns, exemplars, std::min(own_deadline, ShutdownDeadline()),
                  /*periodic=*/false);
}

void MetricsPipeline::Core::EncodeAndExport(const metrics::Snapshot& snapshot, int64_t time_unix_ns,
                                            const Exemplars& exemplars,
                                            SteadyClock::time_point deadline, bool periodic) {
  MetricsEncodeResult encoded;
  try {
    const std::vector<metrics::ExportMetric> exported = model.Build(snapshot);
    for (const std::string& name : model.newly_overflowed()) {
      WarnOnce("\x02overflow " + name,
               "metric " + name + " reached its cardinality limit of " +
                   std::to_string(options.model.cardinality_limit) +
                   " series; further series are merged into otel.metric.overflow=true");
    }
    const ExportRequestHeader header{.resource_attributes = resource_kv,
                                     .scope_name = options.scope_name,
                                     .scope_version = options.scope_version};
    request.Clear();
    encoded = encoder.Encode(header,
                             MetricsBatch{.metrics = exported,
                                          .exemplars = &exemplars,
                                          .start_unix_ns = start_unix_ns,
                                          .time_unix_ns = time_unix_ns},
                             request);
  } catch (const std::exception& e) {
    WarnOnce(std::string("\x03") + e.what(),
             std::string("OTLP metrics: cannot encode the metrics: ") + e.what() +
                 " (this export is skipped)");
    return;
  }
  if (encoded.data_points == 0) return;
  last_points = encoded.data_points;
  Add(exports_attempted, 1);
  ExportWithRetry(request.view(), encoded.data_points, deadline, periodic);
}

void MetricsPipeline::Core::ExportWithRetry(std::string_view body, uint64_t points,
                                            SteadyClock::time_point export_deadline,
                                            bool periodic) {
  const RetryOutcome out = otel::ExportWithRetry(
      *exporter, body, points,
      RetryPolicy{.deadline = export_deadline,
                  .attempt_timeout = options.attempt_timeout,
                  .max_attempts = options.max_attempts,
                  .initial_backoff = options.initial_backoff,
                  .max_backoff = options.max_backoff},
      RetryHooks{.jitter_state = &rng_state,
                 .wait_until =
                     [this, periodic](SteadyClock::time_point t) { return WaitUntil(t, periodic); },
                 .shutdown_deadline = [this] { return ShutdownDeadline(); },
                 // A periodic export still retrying at Shutdown() gives up:
                 // the final export supersedes it.
                 .abandon = [this, periodic] { return periodic && Stopping(); },
                 .on_request = [this] { Add(requests, 1); },
                 .on_backoff =
                     [this](int64_t delay_ns) {
                       if (options.on_backoff) {
                         std::lock_guard<std::mutex> lock(mu);
                         if (!abandoned) options.on_backoff(delay_ns);
                       }
                       Add(retries, 1);
                     }});
  last_export_ok = out.kind == RetryOutcome::Kind::kExported;
  switch (out.kind) {
    case RetryOutcome::Kind::kNotSent:
      Add(points_dropped, points);
      WarnOnce("\x04shutdown", "OTLP metrics export to " + endpoint +
                                   ": data points not sent before the shutdown flush timeout "
                                   "(counted as dropped)");
      return;
    case RetryOutcome::Kind::kFailed:
      // A cumulative periodic export given up for the final one loses
      // nothing: the final export carries every point it held.
      if (out.abandoned && options.encoder.temporality == MetricsTemporality::kCumulative) {
        return;
      }
      Add(exports_failed, 1);
      Add(points_failed, points);
      WarnOnce(out.message, "OTLP metrics export to " + endpoint + " failed: " + out.message +
                                " (the data points are dropped and counted; the test goes on)");
      return;
    case RetryOutcome::Kind::kExported:
      Add(exports_ok, 1);
      Add(points_exported, points - out.rejected);
      Add(points_rejected, out.rejected);
      if (out.rejected > 0 || !out.message.empty()) {
        WarnOnce("\x05partial " + out.message,
                 "OTLP metrics export to " + endpoint + ": the receiver rejected " +
                     std::to_string(out.rejected) + " data points" +
                     (out.message.empty() ? std::string() : ": " + out.message) +
                     " (counted; not retried)");
      }
      return;
  }
}

bool MetricsPipeline::Core::WaitUntil(SteadyClock::time_point until, bool periodic) {
  std::unique_lock<std::mutex> lock(mu);
  for (;;) {
    if (periodic && stop) return false;  // the final export supersedes this one
    if (ShutdownDeadline() < until) return false;
    if (SteadyClock::now() >= until) return true;
    cv.wait_until(lock, until);
  }
}

void MetricsPipeline::Core::WarnOnce(const std::string& cause, const std::string& line) {
  const bool overflow = cause.rfind("\x02", 0) == 0;  // one per metric name, not bounded
  if (warned_causes.count(cause) != 0) return;
  if (!overflow && warned_causes.size() >= kMaxDistinctWarnings) {
    if (warned_causes.insert("\x06more").second) {
      Warn("OTLP metrics export to " + endpoint +
           ": more distinct export problems; further ones are not shown");
    }
    return;
  }
  warned_causes.insert(cause);
  Warn(line);
}

void MetricsPipeline::Core::Warn(const std::string& line) {
  std::lock_guard<std::mutex> lock(mu);
  if (abandoned) return;  // the owner's `warn` may be gone
  Add(warnings, 1);
  options.warn(line);
}

MetricsPipeline::MetricsPipeline(std::unique_ptr<Exporter> exporter,
                                 const metrics::LiveResults& live,
                                 metrics::ExemplarReservoir* reservoir,
                                 MetricsPipelineOptions options) {
  if (options.max_attempts < 1) options.max_attempts = 1;
  if (options.interval <= std::chrono::nanoseconds(0)) options.interval = std::chrono::seconds(10);
  if (!options.warn) options.warn = [](std::string_view line) { core::Warn("{}", line); };
  core_ = std::make_shared<Core>(std::move(exporter), live, reservoir, std::move(options));
  thread_ = std::thread([core = core_] {
    core::NameThisThread("stampede-metric");
    core->Run();
  });
}

MetricsPipeline::~MetricsPipeline() {
  if (shut_down_) return;
  // No final export: a pipeline destroyed without Shutdown() (an error path)
  // has nothing reliable to flush.
  Shutdown(nullptr, 0, std::chrono::nanoseconds(0));
}

void MetricsPipeline::Shutdown(std::shared_ptr<const metrics::Snapshot> final_snapshot,
                               int64_t time_unix_ns, std::chrono::nanoseconds flush_timeout) {
  if (shut_down_) return;
  shut_down_ = true;
  Core& c = *core_;
  const auto deadline = SteadyClock::now() + flush_timeout;
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (final_snapshot == nullptr && flush_timeout > std::chrono::nanoseconds(0)) {
      const metrics::LiveSnapshot latest = c.live->Latest();
      final_snapshot = latest.snapshot;
      time_unix_ns = latest.time_unix_ns;
    }
    c.final_snapshot = std::move(final_snapshot);
    c.final_time_unix_ns = time_unix_ns;
    if (c.reservoir != nullptr) c.final_exemplars = c.reservoir->TakeInterval();
    c.shutdown_deadline_ns.store(ToNs(deadline), std::memory_order_release);
    c.stopping.store(true, std::memory_order_release);
    c.stop = true;
  }
  c.cv.notify_all();
  bool finished = false;
  {
    std::unique_lock<std::mutex> lock(c.mu);
    finished = c.cv.wait_until(lock, deadline + kShutdownGrace, [&c] { return c.finished; });
    if (!finished) c.abandoned = true;
  }
  if (finished) {
    thread_.join();
    return;
  }
  // Stuck inside Exporter::Export(): leave the thread to finish that attempt;
  // it owns the Core and touches nothing of ours from now on.
  thread_.detach();
  c.warnings.fetch_add(1, std::memory_order_relaxed);
  c.options.warn("OTLP metrics export to " + c.endpoint +
                 " did not finish within the flush timeout (" + Seconds(flush_timeout) +
                 "); the last data points are not exported");
}

MetricsPipelineStats MetricsPipeline::stats() const {
  const Core& c = *core_;
  MetricsPipelineStats s;
  s.exports_attempted = c.exports_attempted.load(std::memory_order_relaxed);
  s.exports_ok = c.exports_ok.load(std::memory_order_relaxed);
  s.exports_failed = c.exports_failed.load(std::memory_order_relaxed);
  s.points_exported = c.points_exported.load(std::memory_order_relaxed);
  s.points_failed = c.points_failed.load(std::memory_order_relaxed);
  s.points_dropped = c.points_dropped.load(std::memory_order_relaxed);
  s.points_rejected = c.points_rejected.load(std::memory_order_relaxed);
  s.requests = c.requests.load(std::memory_order_relaxed);
  s.retries = c.retries.load(std::memory_order_relaxed);
  s.warnings = c.warnings.load(std::memory_order_relaxed);
  return s;
}

}  // namespace stampede::otel
