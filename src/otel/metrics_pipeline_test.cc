#include "otel/metrics_pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "metrics/registry.h"
#include "metrics/shard.h"
#include "otel/console_metrics_exporter.h"
#include "otel/otlp_http_exporter.h"
#include "otel/otlp_json.h"

namespace stampede::otel {
namespace {

using nlohmann::json;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::Le;
using namespace std::chrono_literals;

constexpr int64_t kStart = 1'700'000'000'000'000'000;

// What a request held: its JSON (our transcoder) for assertions.
struct Received {
  json body;
  int64_t timeout_ns = 0;

  // The first data point of metric `name`, or null.
  const json* Point(std::string_view name) const {
    for (const json& m : body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]) {
      if (m["name"] != name) continue;
      for (const char* kind : {"sum", "gauge", "histogram", "exponentialHistogram"}) {
        if (m.contains(kind)) return &m[kind]["dataPoints"][0];
      }
    }
    return nullptr;
  }
  size_t Points() const {
    size_t n = 0;
    for (const json& m : body["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]) {
      for (const char* kind : {"sum", "gauge", "histogram", "exponentialHistogram"}) {
        if (m.contains(kind)) n += m[kind]["dataPoints"].size();
      }
    }
    return n;
  }
};

// Answers from a script (then `fallback`), records what it was sent; can be
// gated (blocks until opened) or slowed.
class FakeExporter final : public Exporter {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<ExportResult> script;
    ExportResult fallback = ExportResult::Ok();
    std::vector<Received> received;
    int entered = 0;
    bool gate_open = true;
    std::chrono::milliseconds delay{0};  // simulated slowness of each answer

    // Waits (generously) until `pred` holds; false on timeout.
    template <typename Pred>
    bool WaitFor(Pred pred) {
      std::unique_lock<std::mutex> lock(mu);
      return cv.wait_for(lock, 30s, pred);
    }
    void Open() {
      {
        std::lock_guard<std::mutex> lock(mu);
        gate_open = true;
      }
      cv.notify_all();
    }
  };
  explicit FakeExporter(std::shared_ptr<Shared> shared) : s_(std::move(shared)) {}

  ExportResult Export(std::string_view body, int64_t timeout_ns) override {
    std::unique_lock<std::mutex> lock(s_->mu);
    ++s_->entered;
    s_->cv.notify_all();
    s_->cv.wait(lock, [&] { return s_->gate_open; });
    if (s_->delay.count() > 0) s_->cv.wait_for(lock, s_->delay, [] { return false; });
    s_->received.push_back(Received{json::parse(MetricsRequestToJson(body)), timeout_ns});
    ExportResult r = s_->fallback;
    if (!s_->script.empty()) {
      r = s_->script.front();
      s_->script.pop_front();
    }
    s_->cv.notify_all();
    return r;
  }
  std::string endpoint() const override { return "http://fake:4318/v1/metrics"; }

 private:
  std::shared_ptr<Shared> s_;
};

class MetricsPipelineTest : public ::testing::Test {
 protected:
  MetricsPipelineTest() : registry_(metrics::Registry::WithBuiltins()), live_(kStart) {
    shard_ = std::make_unique<metrics::Shard>(registry_);
    tags_ = shard_->Intern({{"name", "/api"}, {"method", "GET"}, {"status", "200"}});
  }

  // Records `requests` more requests and publishes a snapshot.
  std::shared_ptr<const metrics::Snapshot> Publish(int requests, int64_t time) {
    for (int i = 0; i < requests; ++i) {
      shard_->Add(metrics::builtin::kHttpReqs, tags_, 1);
      shard_->Add(metrics::builtin::kHttpReqDuration, tags_, 1e6 * (i + 1));
    }
    const metrics::Shard* shards[] = {shard_.get()};
    auto snap =
        std::make_shared<const metrics::Snapshot>(metrics::Snapshot::Merge(registry_, shards));
    live_.Publish(snap, time);
    return snap;
  }

  MetricsPipelineOptions Options() {
    MetricsPipelineOptions o;
    o.interval = 1h;  // only Shutdown() exports unless a test says otherwise
    o.initial_backoff = 1ms;
    o.max_backoff = 4ms;
    o.resource_attributes = {{"service.name", "metrics-test"}};
    o.warn = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu_);
      warnings_.emplace_back(line);
    };
    o.on_backoff = [this](int64_t ns) {
      std::lock_guard<std::mutex> lock(mu_);
      backoffs_.push_back(ns);
    };
    return o;
  }

  std::unique_ptr<MetricsPipeline> Make(MetricsPipelineOptions o,
                                        metrics::ExemplarReservoir* reservoir = nullptr) {
    return std::make_unique<MetricsPipeline>(std::make_unique<FakeExporter>(fake_), live_,
                                             reservoir, std::move(o));
  }

  std::vector<std::string> Warnings() {
    std::lock_guard<std::mutex> lock(mu_);
    return warnings_;
  }

  metrics::Registry registry_;
  metrics::LiveResults live_;
  std::unique_ptr<metrics::Shard> shard_;
  metrics::TagSetId tags_ = 0;
  std::shared_ptr<FakeExporter::Shared> fake_ = std::make_shared<FakeExporter::Shared>();
  std::mutex mu_;
  std::vector<std::string> warnings_;
  std::vector<int64_t> backoffs_;
};

TEST_F(MetricsPipelineTest, ExportsPeriodicallyAndTheFinalSnapshotOnShutdown) {
  MetricsPipelineOptions o = Options();
  o.interval = 20ms;
  auto p = Make(o);
  Publish(3, kStart + 1'000'000'000);
  ASSERT_TRUE(fake_->WaitFor([&] { return fake_->received.size() >= 3; }));
  const auto final_snapshot = Publish(4, kStart + 2'000'000'000);
  p->Shutdown(final_snapshot, kStart + 2'000'000'000, 10s);

  std::lock_guard<std::mutex> lock(fake_->mu);
  const Received& first = fake_->received.front();
  EXPECT_EQ(first.body["resourceMetrics"][0]["resource"]["attributes"][0]["value"]["stringValue"],
            "metrics-test");
  EXPECT_EQ(first.body["resourceMetrics"][0]["scopeMetrics"][0]["scope"]["name"], "stampede");
  const json* reqs = first.Point("stampede_http_reqs");
  ASSERT_NE(reqs, nullptr);
  EXPECT_EQ((*reqs)["startTimeUnixNano"], std::to_string(kStart));
  // The last request is the final snapshot: 3 + 4 requests.
  const Received& last = fake_->received.back();
  ASSERT_NE(last.Point("stampede_http_reqs"), nullptr);
  EXPECT_EQ((*last.Point("stampede_http_reqs"))["asDouble"], 7);
  EXPECT_EQ((*last.Point("stampede_http_reqs"))["timeUnixNano"],
            std::to_string(kStart + 2'000'000'000));
  const json* duration = last.Point("stampede_http_req_duration");
  ASSERT_NE(duration, nullptr);
  EXPECT_EQ((*duration)["count"], "7");

  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.exports_attempted, fake_->received.size());
  EXPECT_EQ(s.exports_ok, s.exports_attempted);
  EXPECT_EQ(s.exports_failed, 0u);
  size_t points = 0;
  for (const Received& r : fake_->received) points += r.Points();
  EXPECT_EQ(s.points_exported, points);
  EXPECT_EQ(s.points_failed + s.points_rejected, 0u);
  // A loaded machine may make an export outlast the 20 ms interval: then
  // skipped intervals are dropped, with that one warning and no other.
  for (const std::string& w : Warnings()) EXPECT_THAT(w, HasSubstr("took longer than"));
}

TEST_F(MetricsPipelineTest, NothingPublishedNothingSent) {
  MetricsPipelineOptions o = Options();
  o.interval = 5ms;
  auto p = Make(o);
  p->Shutdown(nullptr, 0, 1s);
  EXPECT_EQ(p->stats().exports_attempted, 0u);
  EXPECT_TRUE(fake_->received.empty());
}

TEST_F(MetricsPipelineTest, RetryableThenOkIsRetriedHonouringRetryAfter) {
  fake_->script = {ExportResult::Retryable(503, "HTTP 503", 2'000'000), ExportResult::Ok()};
  auto p = Make(Options());
  const auto snap = Publish(2, kStart + 1);
  p->Shutdown(snap, kStart + 1, 30s);
  EXPECT_EQ(fake_->received.size(), 2u);
  EXPECT_EQ(fake_->received[0].body, fake_->received[1].body);  // the same request again
  EXPECT_THAT(backoffs_, ::testing::ElementsAre(2'000'000));
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.exports_attempted, 1u);
  EXPECT_EQ(s.exports_ok, 1u);
  EXPECT_EQ(s.requests, 2u);
  EXPECT_EQ(s.retries, 1u);
  EXPECT_EQ(s.points_exported, fake_->received[0].Points());
  EXPECT_EQ(s.warnings, 0u);
}

TEST_F(MetricsPipelineTest, DownCollectorIsCountedAsFailedWithOneWarning) {
  fake_->fallback = ExportResult::Retryable(0, "connection refused");
  MetricsPipelineOptions o = Options();
  o.max_attempts = 3;
  auto p = Make(o);
  const auto snap = Publish(2, kStart + 1);
  p->Shutdown(snap, kStart + 1, 30s);
  EXPECT_EQ(fake_->received.size(), 3u);
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.exports_failed, 1u);
  EXPECT_EQ(s.points_failed, fake_->received[0].Points());
  EXPECT_EQ(s.points_exported, 0u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_THAT(Warnings(), ::testing::ElementsAre(
                              "OTLP metrics export to http://fake:4318/v1/metrics failed: "
                              "connection refused (the data points are dropped and counted; the "
                              "test goes on)"));
}

TEST_F(MetricsPipelineTest, FailedIsNeverRetriedAndWarnsOncePerCause) {
  fake_->fallback = ExportResult::Failed(400, "HTTP 400: bad data");
  MetricsPipelineOptions o = Options();
  o.interval = 5ms;
  auto p = Make(o);
  Publish(1, kStart + 1);
  ASSERT_TRUE(fake_->WaitFor([&] { return fake_->received.size() >= 3; }));
  p->Shutdown(nullptr, 0, 10s);
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.requests, s.exports_attempted);  // one request per export: no retries
  EXPECT_EQ(s.retries, 0u);
  EXPECT_EQ(s.exports_failed, s.exports_attempted);
  std::vector<std::string> w;
  for (const std::string& line : Warnings()) {
    if (line.find("took longer than") == std::string::npos) w.push_back(line);  // load-dependent
  }
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("failed: HTTP 400: bad data"));
}

TEST_F(MetricsPipelineTest, PartialSuccessIsCountedNotRetried) {
  ExportResult partial = ExportResult::Ok();
  partial.rejected = 1;
  partial.message = "1 point too old";
  fake_->fallback = partial;
  auto p = Make(Options());
  const auto snap = Publish(1, kStart + 1);
  p->Shutdown(snap, kStart + 1, 10s);
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.requests, 1u);
  EXPECT_EQ(s.points_rejected, 1u);
  EXPECT_EQ(s.points_exported + 1, fake_->received[0].Points());
  ASSERT_EQ(Warnings().size(), 1u);
  EXPECT_THAT(Warnings()[0], HasSubstr("rejected 1 data points: 1 point too old"));
}

TEST_F(MetricsPipelineTest, ShutdownIsBoundedByItsTimeoutWhenTheCollectorStaysDown) {
  fake_->fallback = ExportResult::Retryable(503, "HTTP 503");
  MetricsPipelineOptions o = Options();
  o.max_attempts = 1'000'000;
  o.export_timeout = 1h;
  o.attempt_timeout = 1h;
  o.initial_backoff = 20ms;
  o.max_backoff = 20ms;
  auto p = Make(o);
  const auto snap = Publish(2, kStart + 1);
  p->Shutdown(snap, kStart + 1, 300ms);  // returns: ctest's timeout would catch a hang
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.points_exported, 0u);
  EXPECT_EQ(s.exports_failed + s.exports_ok, s.exports_attempted);
  EXPECT_GT(s.points_failed + s.points_dropped, 0u);
  std::lock_guard<std::mutex> lock(fake_->mu);
  std::vector<int64_t> timeouts;
  for (const Received& r : fake_->received) timeouts.push_back(r.timeout_ns);
  EXPECT_THAT(timeouts, Each(Le(300'000'000)));  // each attempt cut to the flush time left
}

TEST_F(MetricsPipelineTest, TheFinalExportIsBoundedByTheExportTimeoutToo) {
  // A collector that stays down: the final export gives up at
  // OTEL_METRIC_EXPORT_TIMEOUT, not at the (longer) shutdown flush timeout.
  fake_->fallback = ExportResult::Retryable(0, "connection refused");
  MetricsPipelineOptions o = Options();
  o.max_attempts = 1'000'000;
  o.export_timeout = 200ms;
  o.attempt_timeout = 1h;
  o.initial_backoff = 20ms;
  o.max_backoff = 20ms;
  auto p = Make(o);
  const auto snap = Publish(2, kStart + 1);
  const auto start = std::chrono::steady_clock::now();
  p->Shutdown(snap, kStart + 1, 1h);  // returns: ctest's timeout would catch a hang
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.points_exported, 0u);
  EXPECT_EQ(s.exports_failed, 1u);
  EXPECT_GT(s.points_failed, 0u);
  std::lock_guard<std::mutex> lock(fake_->mu);
  std::vector<int64_t> timeouts;
  for (const Received& r : fake_->received) timeouts.push_back(r.timeout_ns);
  EXPECT_THAT(timeouts, Each(Le(200'000'000)));  // each attempt cut to the export time left
}

TEST_F(MetricsPipelineTest, ShutdownWithNoTimeLeftCountsTheFinalPointsAsDropped) {
  auto p = Make(Options());
  const auto snap = Publish(1, kStart + 1);
  p->Shutdown(snap, kStart + 1, 0ns);
  const MetricsPipelineStats s = p->stats();
  EXPECT_EQ(s.requests, 0u);
  EXPECT_GT(s.points_dropped, 0u);
  ASSERT_EQ(Warnings().size(), 1u);
  EXPECT_THAT(Warnings()[0], HasSubstr("shutdown flush timeout"));
}

TEST_F(MetricsPipelineTest, AStuckExporterDoesNotHoldShutdown) {
  fake_->gate_open = false;
  MetricsPipelineOptions o = Options();
  o.interval = 5ms;
  auto p = Make(o);
  Publish(1, kStart + 1);
  ASSERT_TRUE(fake_->WaitFor([&] { return fake_->entered >= 1; }));  // blocked inside Export()
  p->Shutdown(nullptr, 0, 50ms);  // returns after ~50 ms + the grace, not when the gate opens
  const std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("did not finish within the flush timeout"));
  // The left-behind thread finishes on its own once the exporter answers,
  // counting the final points it had no time for; it warns no more.
  fake_->Open();
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (p->stats().points_dropped == 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::yield();
  }
  EXPECT_GT(p->stats().points_dropped, 0u);
  EXPECT_EQ(Warnings().size(), 1u);
}

TEST_F(MetricsPipelineTest, ASlowExportSkipsIntervalsAndCountsTheirPoints) {
  fake_->delay = 60ms;  // each answer takes at least 6 intervals
  MetricsPipelineOptions o = Options();
  o.interval = 10ms;
  auto p = Make(o);
  Publish(1, kStart + 1);
  ASSERT_TRUE(fake_->WaitFor([&] { return fake_->received.size() >= 2; }));
  p->Shutdown(nullptr, 0, 10s);
  const MetricsPipelineStats s = p->stats();
  EXPECT_GT(s.points_dropped, 0u);
  const std::vector<std::string> w = Warnings();
  ASSERT_EQ(w.size(), 1u);
  EXPECT_THAT(w[0], HasSubstr("took longer than the export interval"));
}

TEST_F(MetricsPipelineTest, CardinalityOverflowWarnsOncePerMetric) {
  MetricsPipelineOptions o = Options();
  o.interval = 5ms;
  o.model.cardinality_limit = 2;
  auto p = Make(o);
  for (const char* name : {"/a", "/b", "/c"}) {
    shard_->Add(metrics::builtin::kHttpReqs,
                shard_->Intern({{"name", name}, {"method", "GET"}, {"status", "200"}}), 1);
  }
  Publish(0, kStart + 1);
  ASSERT_TRUE(fake_->WaitFor([&] { return fake_->received.size() >= 3; }));
  p->Shutdown(nullptr, 0, 10s);
  std::vector<std::string> overflow;
  for (const std::string& line : Warnings()) {
    if (line.find("cardinality limit") != std::string::npos) overflow.push_back(line);
  }
  const std::string expected =
      "metric stampede_http_reqs reached its cardinality limit of 2 series; further series are "
      "merged into otel.metric.overflow=true";
  EXPECT_EQ(std::count(overflow.begin(), overflow.end(), expected), 1);  // once, not per export
  // The overflow point is on the wire with its bool attribute.
  std::lock_guard<std::mutex> lock(fake_->mu);
  const json& metric = fake_->received.back().body["resourceMetrics"][0]["scopeMetrics"][0];
  bool seen = false;
  for (const json& m : metric["metrics"]) {
    if (m["name"] != "stampede_http_reqs") continue;
    for (const json& dp : m["sum"]["dataPoints"]) {
      if (dp["attributes"][0]["key"] == "otel.metric.overflow") {
        EXPECT_EQ(dp["attributes"][0]["value"]["boolValue"], true);
        seen = true;
      }
    }
  }
  EXPECT_TRUE(seen);
}

TEST_F(MetricsPipelineTest, ExemplarsFromTheReservoirReachTheirPoint) {
  metrics::ExemplarReservoir reservoir;
  metrics::Exemplar e;
  for (size_t i = 0; i < 16; ++i) e.trace_id[i] = static_cast<uint8_t>(0xa0 + i);
  for (size_t i = 0; i < 8; ++i) e.span_id[i] = static_cast<uint8_t>(0x10 + i);
  e.time_unix_ns = kStart + 5;
  e.duration_ns = 2'000'000;
  e.total_ns = 3'000'000;
  reservoir.Offer(metrics::ExemplarKey("/api", "GET", "200"), e);
  auto p = Make(Options(), &reservoir);
  const auto snap = Publish(2, kStart + 10);
  p->Shutdown(snap, kStart + 10, 10s);
  ASSERT_EQ(fake_->received.size(), 1u);
  const json* d = fake_->received[0].Point("stampede_http_req_duration");
  ASSERT_NE(d, nullptr);
  ASSERT_TRUE(d->contains("exemplars"));
  EXPECT_EQ((*d)["exemplars"][0]["traceId"], "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
  EXPECT_EQ((*d)["exemplars"][0]["spanId"], "1011121314151617");
  EXPECT_DOUBLE_EQ((*d)["exemplars"][0]["asDouble"].get<double>(), 2e-3);
}

TEST_F(MetricsPipelineTest, DeltaTemporalitySendsDifferences) {
  MetricsPipelineOptions o = Options();
  o.interval = 5ms;
  o.encoder.temporality = MetricsTemporality::kDelta;
  auto p = Make(o);
  Publish(5, kStart + 1);
  ASSERT_TRUE(fake_->WaitFor([&] { return fake_->received.size() >= 1; }));
  const auto final_snapshot = Publish(2, kStart + 2);
  p->Shutdown(final_snapshot, kStart + 2, 10s);
  std::lock_guard<std::mutex> lock(fake_->mu);
  double total = 0;
  for (const Received& r : fake_->received) {
    if (const json* reqs = r.Point("stampede_http_reqs"))
      total += (*reqs)["asDouble"].get<double>();
  }
  EXPECT_EQ(total, 7);  // the deltas add up to the cumulative count
  const json* last = fake_->received.back().Point("stampede_http_reqs");
  ASSERT_NE(last, nullptr);
  EXPECT_EQ((*last)["asDouble"], 2);
}

TEST(MetricsExportersTest, ConsoleWritesOneJsonLinePerExport) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ConsoleMetricsExporter console(f, "tmpfile");
  // A minimal request: resource_metrics { scope_metrics { metrics { name: "m" } } }.
  ProtoWriter metric, sm, rm, req;
  metric.StringField(1, "m");
  sm.BytesField(2, metric.view());
  rm.BytesField(2, sm.view());
  req.BytesField(1, rm.view());
  EXPECT_EQ(console.Export(req.view(), 0).kind, ExportResult::Kind::kOk);
  EXPECT_EQ(console.Export("", 0).kind, ExportResult::Kind::kOk);  // nothing written
  EXPECT_EQ(console.Export("\x0a\x09", 0).kind, ExportResult::Kind::kFailed);
  std::rewind(f);
  char buf[256] = {};
  const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  EXPECT_EQ(std::string(buf, n),
            "{\"resourceMetrics\":[{\"scopeMetrics\":[{\"metrics\":[{\"name\":\"m\"}]}]}]}\n");
}

TEST(MetricsExportersTest, MakeMetricsExporterPicksByConfiguration) {
  OtlpConfig c = ParseOtlpConfig({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}, Signal::kMetrics);
  std::unique_ptr<Exporter> http = MakeMetricsExporter(c);  // http/json metrics are supported
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->endpoint(), "http://localhost:4318/v1/metrics");
  c.exporter = ExporterKind::kConsole;
  EXPECT_EQ(MakeMetricsExporter(c)->endpoint(), "stdout");
  c.exporter = ExporterKind::kNone;
  EXPECT_EQ(MakeMetricsExporter(c), nullptr);
}

TEST(MetricsExportersTest, OptionsFromTheMetricsConfig) {
  MetricsConfig c;
  c.interval = 1500ms;
  c.timeout = 2500ms;
  c.temporality = MetricsTemporality::kDelta;
  c.aggregation = HistogramAggregation::kExplicitBucket;
  c.otlp = ParseOtlpConfig(
      {{"OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "1234"}, {"OTEL_SERVICE_NAME", "svc"}},
      Signal::kMetrics);
  const MetricsPipelineOptions o = MetricsPipelineOptions::FromConfig(c);
  EXPECT_EQ(o.interval, 1500ms);
  EXPECT_EQ(o.export_timeout, 2500ms);
  EXPECT_EQ(o.attempt_timeout, 1234ms);
  EXPECT_EQ(o.encoder.temporality, MetricsTemporality::kDelta);
  EXPECT_EQ(o.encoder.histogram, HistogramAggregation::kExplicitBucket);
  ASSERT_FALSE(o.resource_attributes.empty());
  EXPECT_EQ(o.resource_attributes[0],
            std::make_pair(std::string("service.name"), std::string("svc")));
}

}  // namespace
}  // namespace stampede::otel
