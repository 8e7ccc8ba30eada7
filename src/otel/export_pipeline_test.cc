#include "otel/export_pipeline.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "otel/otlp_encoder.h"
#include "otel/otlp_grpc_exporter.h"
#include "otel/proto_reader.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using ::testing::AllOf;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Le;
using testing::SampleHttpSpan;
using namespace std::chrono_literals;

struct DecodedRequest {
  size_t spans = 0;
  std::string service_name;
  std::string scope_name;
};

// Walks ExportTraceServiceRequest → ResourceSpans → ScopeSpans → spans.
DecodedRequest Decode(std::string_view request) {
  DecodedRequest d;
  ProtoReader req(request);
  ProtoField rs;
  while (req.Next(rs)) {
    if (rs.number != 1) continue;
    ProtoReader resource_spans(rs.bytes);
    ProtoField f;
    while (resource_spans.Next(f)) {
      if (f.number == 1) {  // Resource
        ProtoReader resource(f.bytes);
        ProtoField kv;
        while (resource.Next(kv)) {
          ProtoReader pair(kv.bytes);
          ProtoField p;
          std::string key, value;
          while (pair.Next(p)) {
            if (p.number == 1) key = std::string(p.bytes);
            if (p.number == 2) {
              ProtoReader any(p.bytes);
              ProtoField a;
              while (any.Next(a)) {
                if (a.number == 1) value = std::string(a.bytes);
              }
            }
          }
          if (key == "service.name") d.service_name = value;
        }
      } else if (f.number == 2) {  // ScopeSpans
        ProtoReader scope_spans(f.bytes);
        ProtoField s;
        while (scope_spans.Next(s)) {
          if (s.number == 2) ++d.spans;
          if (s.number == 1) {
            ProtoReader scope(s.bytes);
            ProtoField n;
            while (scope.Next(n)) {
              if (n.number == 1) d.scope_name = std::string(n.bytes);
            }
          }
        }
        EXPECT_TRUE(scope_spans.done());
      }
    }
    EXPECT_TRUE(resource_spans.done());
  }
  EXPECT_TRUE(req.done());
  return d;
}

// Answers from a script (then `fallback`), records what it was sent.
class FakeExporter final : public Exporter {
 public:
  struct Shared {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<ExportResult> script;
    ExportResult fallback = ExportResult::Ok();
    std::vector<DecodedRequest> requests;
    std::vector<size_t> request_bytes;
    std::vector<int64_t> timeouts_ns;
    bool gate_open = true;
    size_t total_spans() {
      size_t n = 0;
      for (const auto& r : requests) n += r.spans;
      return n;
    }
  };
  explicit FakeExporter(std::shared_ptr<Shared> shared) : s_(std::move(shared)) {}

  ExportResult Export(std::string_view body, int64_t timeout_ns) override {
    std::unique_lock<std::mutex> lock(s_->mu);
    s_->cv.wait(lock, [&] { return s_->gate_open; });
    s_->requests.push_back(Decode(body));
    s_->request_bytes.push_back(body.size());
    s_->timeouts_ns.push_back(timeout_ns);
    ExportResult r = s_->fallback;
    if (!s_->script.empty()) {
      r = s_->script.front();
      s_->script.pop_front();
    }
    s_->cv.notify_all();
    return r;
  }
  std::string endpoint() const override { return "http://fake:4318/v1/traces"; }

 private:
  std::shared_ptr<Shared> s_;
};

struct Harness {
  std::shared_ptr<FakeExporter::Shared> fake = std::make_shared<FakeExporter::Shared>();
  std::vector<std::string> warnings;
  std::vector<int64_t> backoffs;
  std::mutex mu;  // guards warnings/backoffs (written on the exporter thread)

  ExportPipelineOptions Options() {
    ExportPipelineOptions o;
    o.schedule_delay = 1h;  // only batch-full and shutdown trigger exports
    o.initial_backoff = 1ms;
    o.max_backoff = 4ms;
    o.resource_attributes = {{"service.name", "pipeline-test"}};
    o.warn = [this](std::string_view line) {
      std::lock_guard<std::mutex> lock(mu);
      warnings.emplace_back(line);
    };
    o.on_backoff = [this](int64_t ns) {
      std::lock_guard<std::mutex> lock(mu);
      backoffs.push_back(ns);
    };
    return o;
  }
  std::unique_ptr<ExportPipeline> Make(ExportPipelineOptions o, int sinks = 1) {
    return std::make_unique<ExportPipeline>(std::make_unique<FakeExporter>(fake), sinks,
                                            std::move(o));
  }
};

void RecordN(SpanSink& sink, int n) {
  SampleHttpSpan span;
  for (int i = 0; i < n; ++i) ASSERT_TRUE(sink.Record(span.data));
}

TEST(ExportPipelineTest, BatchesAreCappedBySpanCount) {
  Harness h;
  ExportPipelineOptions o = h.Options();
  o.max_batch_spans = 10;
  auto p = h.Make(o);
  RecordN(p->sink(0), 35);
  p->Shutdown(10s);
  std::vector<size_t> sizes;
  for (const auto& r : h.fake->requests) sizes.push_back(r.spans);
  EXPECT_THAT(sizes, ElementsAre(10, 10, 10, 5));
  EXPECT_EQ(h.fake->requests[0].service_name, "pipeline-test");
  EXPECT_EQ(h.fake->requests[0].scope_name, "stampede");
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_recorded, 35u);
  EXPECT_EQ(s.spans_exported, 35u);
  EXPECT_EQ(s.spans_dropped, 0u);
  EXPECT_EQ(s.spans_failed, 0u);
  EXPECT_EQ(s.requests, 4u);
  EXPECT_EQ(s.warnings, 0u);
}

TEST(ExportPipelineTest, LargeBatchSizesAreAllowed) {
  Harness h;
  ExportPipelineOptions o = h.Options();
  o.max_batch_spans = 5000;
  o.sink.max_spans_per_chunk = 5000;
  o.sink.chunk_count = 64;
  auto p = h.Make(o);
  RecordN(p->sink(0), 3000);
  p->Shutdown(10s);
  EXPECT_EQ(h.fake->total_spans(), 3000u);
  EXPECT_EQ(h.fake->requests.size(), 1u);
}

TEST(ExportPipelineTest, BatchesAreCappedByBytes) {
  Harness h;
  ExportPipelineOptions o = h.Options();
  o.max_batch_spans = 1000;
  o.sink.max_spans_per_chunk = 1;  // one span per chunk: byte cap decides
  SampleHttpSpan span;
  ProtoWriter w;
  const size_t span_size = EncodeSpan(span.data, w);
  o.max_batch_bytes = 3 * span_size + 200;  // envelope + 3 spans
  auto p = h.Make(o);
  RecordN(p->sink(0), 10);
  p->Shutdown(10s);
  EXPECT_EQ(h.fake->total_spans(), 10u);
  EXPECT_THAT(h.fake->request_bytes, Each(Le(o.max_batch_bytes)));
  EXPECT_GE(h.fake->requests.size(), 4u);
  EXPECT_EQ(p->stats().spans_exported, 10u);
}

TEST(ExportPipelineTest, ScheduleDelayExportsAPartialBatch) {
  Harness h;
  ExportPipelineOptions o = h.Options();
  o.schedule_delay = 10ms;
  auto p = h.Make(o);
  RecordN(p->sink(0), 3);
  p->sink(0).Flush();
  {
    std::unique_lock<std::mutex> lock(h.fake->mu);
    ASSERT_TRUE(h.fake->cv.wait_for(lock, 30s, [&] { return h.fake->total_spans() == 3; }));
  }
  p->Shutdown(10s);
  EXPECT_EQ(p->stats().spans_exported, 3u);
}

TEST(ExportPipelineTest, RetryableIsRetriedHonouringRetryAfter) {
  Harness h;
  h.fake->script = {ExportResult::Retryable(503, "HTTP 503", 3'000'000),
                    ExportResult::Retryable(429, "HTTP 429", 2'000'000), ExportResult::Ok()};
  auto p = h.Make(h.Options());
  RecordN(p->sink(0), 7);
  p->Shutdown(30s);
  EXPECT_EQ(h.fake->requests.size(), 3u);
  EXPECT_THAT(h.backoffs, ElementsAre(3'000'000, 2'000'000));
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_exported, 7u);
  EXPECT_EQ(s.spans_failed, 0u);
  EXPECT_EQ(s.retries, 2u);
  EXPECT_EQ(s.warnings, 0u);  // recovered: nothing to warn about
}

TEST(ExportPipelineTest, BackoffDoublesWithJitterUpToTheCap) {
  Harness h;
  h.fake->fallback = ExportResult::Retryable(0, "connection refused");
  ExportPipelineOptions o = h.Options();
  o.max_attempts = 5;
  auto p = h.Make(o);
  RecordN(p->sink(0), 2);
  p->Shutdown(30s);
  EXPECT_EQ(h.fake->requests.size(), 5u);
  ASSERT_EQ(h.backoffs.size(), 4u);
  EXPECT_THAT(h.backoffs[0], AllOf(Ge(500'000), Le(1'000'000)));
  EXPECT_THAT(h.backoffs[1], AllOf(Ge(1'000'000), Le(2'000'000)));
  EXPECT_THAT(h.backoffs[2], AllOf(Ge(2'000'000), Le(4'000'000)));
  EXPECT_THAT(h.backoffs[3], AllOf(Ge(2'000'000), Le(4'000'000)));  // capped at 4 ms
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_failed, 2u);
  EXPECT_EQ(s.spans_exported, 0u);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_EQ(h.warnings[0],
            "OTLP export to http://fake:4318/v1/traces failed: connection refused (spans are "
            "dropped and counted; the test goes on)");
}

TEST(ExportPipelineTest, FailedIsNeverRetried) {
  Harness h;
  h.fake->fallback = ExportResult::Failed(400, "HTTP 400: bad data");
  auto p = h.Make(h.Options());
  RecordN(p->sink(0), 4);
  p->Shutdown(30s);
  EXPECT_EQ(h.fake->requests.size(), 1u);
  EXPECT_TRUE(h.backoffs.empty());
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_failed, 4u);
  EXPECT_EQ(s.retries, 0u);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_THAT(h.warnings[0], HasSubstr("failed: HTTP 400: bad data"));
}

TEST(ExportPipelineTest, OnBatchSeesEveryBatchOnceEvenWhenTheExportFails) {
  Harness h;
  h.fake->script = {ExportResult::Retryable(503, "HTTP 503"), ExportResult::Ok()};
  h.fake->fallback = ExportResult::Failed(400, "HTTP 400: bad data");
  ExportPipelineOptions o = h.Options();
  o.max_batch_spans = 5;
  std::vector<size_t> batches;  // written on the exporter thread, read after Shutdown
  o.on_batch = [&](std::string_view request) { batches.push_back(Decode(request).spans); };
  auto p = h.Make(o);
  RecordN(p->sink(0), 12);
  p->Shutdown(30s);
  // Three batches (5, 5, 2): the first is sent twice (503, then OK), the
  // others fail for good — the hook saw each exactly once, failed or not.
  EXPECT_THAT(batches, ElementsAre(5, 5, 2));
  EXPECT_EQ(h.fake->requests.size(), 4u);
  EXPECT_EQ(p->stats().spans_failed, 7u);
}

TEST(ExportPipelineTest, PartialSuccessIsCountedNotRetried) {
  Harness h;
  ExportResult partial = ExportResult::Ok();
  partial.rejected = 2;
  partial.message = "2 spans too old";
  h.fake->fallback = partial;
  ExportPipelineOptions o = h.Options();
  o.max_batch_spans = 5;
  auto p = h.Make(o);
  RecordN(p->sink(0), 10);
  p->Shutdown(30s);
  EXPECT_EQ(h.fake->requests.size(), 2u);
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_rejected, 4u);
  EXPECT_EQ(s.spans_exported, 6u);
  EXPECT_EQ(s.retries, 0u);
  ASSERT_EQ(h.warnings.size(), 1u);  // same message twice: one line
  EXPECT_THAT(h.warnings[0], HasSubstr("rejected 2 spans: 2 spans too old"));
}

TEST(ExportPipelineTest, OneWarningPerDistinctCause) {
  Harness h;
  for (int i = 0; i < 5; ++i)
    h.fake->script.push_back(ExportResult::Retryable(0, "connection refused"));
  for (int i = 0; i < 3; ++i) h.fake->script.push_back(ExportResult::Failed(400, "HTTP 400"));
  ExportPipelineOptions o = h.Options();
  o.max_attempts = 1;
  o.max_batch_spans = 1;
  auto p = h.Make(o);
  RecordN(p->sink(0), 9);
  p->Shutdown(30s);
  EXPECT_EQ(h.fake->requests.size(), 9u);
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_failed, 8u);
  EXPECT_EQ(s.spans_exported, 1u);
  ASSERT_EQ(h.warnings.size(), 2u);
  EXPECT_THAT(h.warnings[0], HasSubstr("connection refused"));
  EXPECT_THAT(h.warnings[1], HasSubstr("HTTP 400"));
  EXPECT_EQ(s.warnings, 2u);
}

TEST(ExportPipelineTest, ShutdownFlushIsBoundedByItsTimeout) {
  Harness h;
  h.fake->fallback = ExportResult::Retryable(503, "HTTP 503");
  ExportPipelineOptions o = h.Options();
  o.max_attempts = 1'000'000;
  o.retry_budget = 1h;
  o.initial_backoff = 20ms;
  o.max_backoff = 20ms;
  o.export_timeout = 1h;
  auto p = h.Make(o);
  RecordN(p->sink(0), 5);
  p->Shutdown(300ms);  // returns: the test's own ctest timeout would catch a hang
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_failed + s.spans_dropped, 5u);
  EXPECT_EQ(s.spans_exported, 0u);
  // Every attempt's timeout was cut to what remained of the flush timeout.
  EXPECT_THAT(h.fake->timeouts_ns, Each(Le(300'000'000)));
  EXPECT_GE(h.fake->requests.size(), 1u);
}

TEST(ExportPipelineTest, ShutdownWithNoTimeLeftCountsSpansAsDropped) {
  Harness h;
  auto p = h.Make(h.Options());
  RecordN(p->sink(0), 5);
  p->Shutdown(0ns);
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_dropped, 5u);
  EXPECT_EQ(s.requests, 0u);
  ASSERT_EQ(h.warnings.size(), 1u);
  EXPECT_THAT(h.warnings[0], HasSubstr("shutdown flush timeout"));
}

TEST(ExportPipelineTest, WorkersDropInsteadOfWaitingForABlockedExporter) {
  Harness h;
  h.fake->gate_open = false;  // the exporter blocks until the test opens it
  ExportPipelineOptions o = h.Options();
  o.max_batch_spans = 4;
  o.sink.chunk_count = 2;
  auto p = h.Make(o);
  SampleHttpSpan span;
  int accepted = 0;
  for (int i = 0; i < 100; ++i) accepted += p->sink(0).Record(span.data) ? 1 : 0;
  {
    std::lock_guard<std::mutex> lock(h.fake->mu);
    h.fake->gate_open = true;
  }
  h.fake->cv.notify_all();
  p->Shutdown(30s);
  ExportPipelineStats s = p->stats();
  EXPECT_GT(s.spans_dropped, 0u);
  EXPECT_EQ(s.spans_recorded, static_cast<uint64_t>(accepted));
  EXPECT_EQ(s.spans_recorded + s.spans_dropped, 100u);
  EXPECT_EQ(s.spans_exported, s.spans_recorded);
}

TEST(ExportPipelineTest, ManyWorkersOneExporter) {
  Harness h;
  ExportPipelineOptions o = h.Options();
  o.sink.chunk_count = 64;
  auto p = h.Make(o, /*sinks=*/3);
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w) {
    workers.emplace_back([&p, w] {
      SampleHttpSpan span(static_cast<uint8_t>(w));
      for (int i = 0; i < 1000; ++i) {
        p->sink(w).Record(span.data);
        if (i % 100 == 0) p->sink(w).Flush();
      }
    });
  }
  for (auto& t : workers) t.join();
  p->Shutdown(30s);
  ExportPipelineStats s = p->stats();
  EXPECT_EQ(s.spans_recorded + s.spans_dropped, 3000u);
  EXPECT_EQ(s.spans_exported, s.spans_recorded);
  EXPECT_EQ(h.fake->total_spans(), s.spans_recorded);
  EXPECT_THAT(h.fake->requests, Each(::testing::Field(&DecodedRequest::spans, Le(512u))));
}

TEST(ExportPipelineTest, OptionsFromConfig) {
  OtlpConfig c = ParseOtlpConfig({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"},
                                  {"OTEL_BSP_SCHEDULE_DELAY", "250"},
                                  {"OTEL_EXPORTER_OTLP_TIMEOUT", "1234"},
                                  {"OTEL_BSP_EXPORT_TIMEOUT", "4321"},
                                  {"OTEL_SERVICE_NAME", "svc"}},
                                 Signal::kTraces);
  ExportPipelineOptions o = ExportPipelineOptions::FromConfig(c);
  EXPECT_EQ(o.max_batch_spans, 100u);
  EXPECT_EQ(o.schedule_delay, 250ms);
  EXPECT_EQ(o.export_timeout, 1234ms);
  EXPECT_EQ(o.retry_budget, 4321ms);
  ASSERT_FALSE(o.resource_attributes.empty());
  EXPECT_EQ(o.resource_attributes[0],
            std::make_pair(std::string("service.name"), std::string("svc")));
}

// google.rpc.Status{code=8, details=[Any{type_url, RetryInfo{retry_delay{1s, 500ms}}}]}.
TEST(GrpcRetryInfoTest, ParsesRetryDelayFromStatusDetails) {
  ProtoWriter duration;
  duration.VarintField(1, 1);
  duration.VarintField(2, 500'000'000);
  ProtoWriter retry_info;
  retry_info.BytesField(1, duration.view());
  ProtoWriter any;
  any.StringField(1, "type.googleapis.com/google.rpc.RetryInfo");
  any.BytesField(2, retry_info.view());
  ProtoWriter status;
  status.VarintField(1, 8);
  status.StringField(2, "slow down");
  status.BytesField(3, any.view());
  EXPECT_EQ(RetryDelayFromStatusDetails(status.view()), 1'500'000'000);

  ProtoWriter other_any;
  other_any.StringField(1, "type.googleapis.com/google.rpc.DebugInfo");
  ProtoWriter no_retry;
  no_retry.VarintField(1, 8);
  no_retry.BytesField(3, other_any.view());
  EXPECT_EQ(RetryDelayFromStatusDetails(no_retry.view()), std::nullopt);
  EXPECT_EQ(RetryDelayFromStatusDetails(""), std::nullopt);
  EXPECT_EQ(RetryDelayFromStatusDetails("\xff\xff"), std::nullopt);
}

}  // namespace
}  // namespace stampede::otel
