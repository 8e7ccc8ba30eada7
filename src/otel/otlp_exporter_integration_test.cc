// OTLP exporters and the export pipeline against a real, independent OTLP
// receiver: tests/support/otlp_sink.js (Node; protobufjs decoding from
// @opentelemetry/otlp-transformer, @grpc/grpc-js server) on loopback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "child_process.h"
#include "otel/export_pipeline.h"
#include "otel/otlp_config.h"
#include "otel/otlp_grpc_exporter.h"
#include "otel/otlp_http_exporter.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using namespace std::chrono_literals;
using Json = nlohmann::json;
namespace support = ::stampede::testing;

constexpr int kSpans = 40;

// kSpans distinct spans; views point into the object's members.
struct TestSpans {
  TestSpans() {
    names.reserve(kSpans);
    attrs.resize(kSpans);
    events.resize(kSpans);
    for (int i = 0; i < kSpans; ++i) names.push_back("GET /items/" + std::to_string(i));
    for (int i = 0; i < kSpans; ++i) {
      attrs[i] = {KeyValue{"http.request.method", AnyValue::String("GET")},
                  KeyValue{"stampede.vu", AnyValue::Int(i)},
                  KeyValue{"stampede.ratio", AnyValue::Double(0.5)},
                  KeyValue{"stampede.expected", AnyValue::Bool(true)}};
      events[i] = SpanEvent{.time_unix_ns = 1'700'000'000'000'000'500 + i,
                            .name = "http.response.first_byte",
                            .attributes = {}};
      SpanData s;
      s.trace_id = testing::MakeTraceId(static_cast<uint8_t>(i));
      s.span_id = testing::MakeSpanId(static_cast<uint8_t>(100 + i));
      if (i % 2 == 1) s.parent_span_id = testing::MakeSpanId(static_cast<uint8_t>(200 + i));
      s.flags = 0x101;
      s.name = names[i];
      s.kind = SpanKind::kClient;
      s.start_unix_ns = 1'700'000'000'000'000'000 + i;
      s.end_unix_ns = 1'700'000'000'000'001'000 + i;
      s.attributes = attrs[i];
      s.events = std::span<const SpanEvent>(&events[i], 1);
      s.status = i % 3 == 0 ? StatusCode::kError : StatusCode::kUnset;
      s.status_message = i % 3 == 0 ? "boom" : "";
      spans.push_back(s);
    }
  }
  TestSpans(const TestSpans&) = delete;

  std::vector<std::string> names;
  std::vector<std::array<KeyValue, 4>> attrs;
  std::vector<SpanEvent> events;
  std::vector<SpanData> spans;
};

struct RunResult {
  std::vector<std::string> warnings;
  std::vector<int64_t> backoffs;
  std::mutex mu;
  ExportPipelineStats stats;
};

OtlpConfig Config(std::map<std::string, std::string> env) {
  env.emplace("OTEL_SERVICE_NAME", "stampede-it");
  env.emplace("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=ci");
  env.emplace("OTEL_EXPORTER_OTLP_TIMEOUT", "5000");
  OtlpConfig c = ParseOtlpConfig(env, Signal::kTraces);
  EXPECT_THAT(c.warnings, IsEmpty());
  return c;
}

std::unique_ptr<Exporter> MakeExporter(const OtlpConfig& c) {
  if (c.protocol == OtlpProtocol::kGrpc) return std::make_unique<OtlpGrpcExporter>(c);
  return std::make_unique<OtlpHttpExporter>(c);
}

// Records every test span through a pipeline and shuts it down.
void ExportAll(const OtlpConfig& config, RunResult& run,
               std::chrono::nanoseconds flush_timeout = 30s, int max_attempts = 4) {
  TestSpans spans;
  ExportPipelineOptions o = ExportPipelineOptions::FromConfig(config);
  o.max_batch_spans = 16;  // several requests per run
  o.max_attempts = max_attempts;
  o.initial_backoff = 10ms;
  o.max_backoff = 50ms;
  o.warn = [&run](std::string_view line) {
    std::lock_guard<std::mutex> lock(run.mu);
    run.warnings.emplace_back(line);
  };
  o.on_backoff = [&run](int64_t ns) {
    std::lock_guard<std::mutex> lock(run.mu);
    run.backoffs.push_back(ns);
  };
  ExportPipeline pipeline(MakeExporter(config), 1, o);
  for (const SpanData& s : spans.spans) ASSERT_TRUE(pipeline.sink(0).Record(s));
  pipeline.Shutdown(flush_timeout);
  run.stats = pipeline.stats();
}

// Checks that the sink wrote back exactly the test spans, as sent.
void ExpectDelivered(const support::OtlpSink& sink, const std::string& transport) {
  std::vector<std::string> lines = sink.WaitForLines(kSpans, 30000);
  ASSERT_EQ(lines.size(), static_cast<size_t>(kSpans));
  TestSpans expected;
  std::map<std::string, Json> by_span_id;
  for (const std::string& l : lines) {
    Json j = Json::parse(l);
    by_span_id[j["span_id"].get<std::string>()] = j;
  }
  ASSERT_EQ(by_span_id.size(), static_cast<size_t>(kSpans));
  for (int i = 0; i < kSpans; ++i) {
    const SpanData& s = expected.spans[i];
    SCOPED_TRACE("span " + std::to_string(i));
    const Json& j = by_span_id.at(testing::HexOf(s.span_id.bytes));
    EXPECT_EQ(j["transport"], transport);
    EXPECT_EQ(j["trace_id"], testing::HexOf(s.trace_id.bytes));
    EXPECT_EQ(j["parent_span_id"], i % 2 == 1 ? testing::HexOf(s.parent_span_id.bytes) : "");
    EXPECT_EQ(j["name"], "GET /items/" + std::to_string(i));
    EXPECT_EQ(j["kind"], 3);
    EXPECT_EQ(j["flags"], 0x101);
    EXPECT_EQ(j["start_ns"], std::to_string(s.start_unix_ns));
    EXPECT_EQ(j["end_ns"], std::to_string(s.end_unix_ns));
    EXPECT_EQ(j["attributes"]["http.request.method"], "GET");
    EXPECT_EQ(j["attributes"]["stampede.vu"], i);
    EXPECT_EQ(j["attributes"]["stampede.ratio"], 0.5);
    EXPECT_EQ(j["attributes"]["stampede.expected"], true);
    ASSERT_EQ(j["events"].size(), 1u);
    EXPECT_EQ(j["events"][0]["name"], "http.response.first_byte");
    EXPECT_EQ(j["events"][0]["time_ns"], std::to_string(s.events[0].time_unix_ns));
    EXPECT_EQ(j["status"]["code"], i % 3 == 0 ? 2 : 0);
    EXPECT_EQ(j["status"]["message"], i % 3 == 0 ? "boom" : "");
    EXPECT_EQ(j["resource"]["service.name"], "stampede-it");
    EXPECT_EQ(j["resource"]["deployment.environment"], "ci");
    EXPECT_EQ(j["scope"]["name"], "stampede");
  }
}

TEST(OtlpHttpExporterIT, ProtobufDeliversSpans) {
  support::OtlpSink sink;
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_ENDPOINT",
                     "http://127.0.0.1:" + std::to_string(sink.http_port())},
                    {"OTEL_EXPORTER_OTLP_HEADERS", "x-stampede-test=hello%20world"}}),
            run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.spans_failed + run.stats.spans_dropped, 0u);
  EXPECT_THAT(run.warnings, IsEmpty());
  ExpectDelivered(sink, "http/protobuf");
  Json stats = Json::parse(sink.Stats());
  EXPECT_EQ(stats["requests"]["200"], 3);   // 16 + 16 + 8 spans
  EXPECT_EQ(stats["http_connections"], 2);  // one kept alive for 3 exports, one for /__stats
  EXPECT_EQ(stats["last_headers"]["x-stampede-test"], "hello world");
  EXPECT_EQ(stats["last_headers"]["user-agent"], "OTel-OTLP-Exporter-stampede/0.1");
  EXPECT_EQ(stats["last_headers"]["content-type"], "application/x-protobuf");
}

TEST(OtlpHttpExporterIT, JsonDeliversSpans) {
  support::OtlpSink sink;
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()},
                    {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}),
            run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  ExpectDelivered(sink, "http/json");
  EXPECT_EQ(Json::parse(sink.Stats())["last_headers"]["content-type"], "application/json");
}

TEST(OtlpHttpExporterIT, GzipDeliversSpans) {
  for (const char* protocol : {"http/protobuf", "http/json"}) {
    SCOPED_TRACE(protocol);
    support::OtlpSink sink;
    RunResult run;
    ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()},
                      {"OTEL_EXPORTER_OTLP_PROTOCOL", protocol},
                      {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}}),
              run);
    EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
    ExpectDelivered(sink, protocol);
    EXPECT_EQ(Json::parse(sink.Stats())["last_headers"]["content-encoding"], "gzip");
  }
}

TEST(OtlpHttpExporterIT, RetryAfterThenDelivered) {
  support::OtlpSink sink({"--mode", "503", "--retry-after", "1", "--fault-count", "1"});
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()}}), run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.spans_failed, 0u);
  EXPECT_EQ(run.stats.retries, 1u);
  EXPECT_THAT(run.backoffs, ::testing::ElementsAre(1'000'000'000));  // Retry-After: 1
  ExpectDelivered(sink, "http/protobuf");
  Json stats = Json::parse(sink.Stats());
  EXPECT_EQ(stats["requests"]["503"], 1);
  EXPECT_EQ(stats["requests"]["200"], 3);
}

TEST(OtlpHttpExporterIT, DisconnectWithoutAnswerIsRetried) {
  support::OtlpSink sink({"--mode", "close", "--fault-count", "1"});
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()}}), run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.retries, 1u);
  EXPECT_THAT(run.warnings, IsEmpty());
  ExpectDelivered(sink, "http/protobuf");
  EXPECT_EQ(Json::parse(sink.Stats())["requests"]["closed"], 1);
}

TEST(OtlpHttpExporterIT, BadRequestIsFailedCountedAndNotRetried) {
  support::OtlpSink sink({"--mode", "400"});
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()}}), run);
  EXPECT_EQ(run.stats.spans_failed, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.spans_exported, 0u);
  EXPECT_EQ(run.stats.retries, 0u);
  EXPECT_EQ(run.stats.requests, 3u);
  ASSERT_EQ(run.warnings.size(), 1u);  // three failed batches, one cause
  EXPECT_EQ(run.warnings[0], "OTLP export to " + sink.http_traces_url() +
                                 " failed: HTTP 400: sink fault 400: bad data (spans are dropped "
                                 "and counted; the test goes on)");
  EXPECT_EQ(Json::parse(sink.Stats())["requests"]["400"], 3);
}

TEST(OtlpHttpExporterIT, PartialSuccessIsCounted) {
  support::OtlpSink sink({"--mode", "partial", "--rejected", "2"});
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()}}), run);
  EXPECT_EQ(run.stats.spans_rejected, 6u);  // 2 per request, 3 requests
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans) - 6);
  EXPECT_EQ(run.stats.retries, 0u);
  ASSERT_EQ(run.warnings.size(), 1u);
  EXPECT_THAT(run.warnings[0], HasSubstr("rejected 2 spans: sink rejected some"));
}

TEST(OtlpHttpExporterIT, SinkDownIsCountedAndShutdownIsBounded) {
  const std::string url =
      "http://127.0.0.1:" + std::to_string(support::UnusedPort()) + "/v1/traces";
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", url}}), run, /*flush_timeout=*/2s);
  EXPECT_EQ(run.stats.spans_failed + run.stats.spans_dropped, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.spans_exported, 0u);
  ASSERT_FALSE(run.warnings.empty());
  EXPECT_EQ(run.warnings[0], "OTLP export to " + url +
                                 " failed: connection refused (spans are dropped and counted; "
                                 "the test goes on)");
}

TEST(OtlpHttpExporterIT, DirectExportClassifiesAnswers) {
  support::OtlpSink sink({"--mode", "429", "--retry-after", "7", "--fault-count", "1"});
  OtlpConfig c = Config({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", sink.http_traces_url()}});
  OtlpHttpExporter exporter(c);
  EXPECT_EQ(exporter.endpoint(), sink.http_traces_url());
  ExportResult r = exporter.Export("", 5'000'000'000);  // an empty request
  EXPECT_EQ(r.kind, ExportResult::Kind::kRetryable);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.retry_after_ns, 7'000'000'000);
  EXPECT_EQ(r.message, "HTTP 429: sink fault 429");
  r = exporter.Export("", 5'000'000'000);  // same connection, now accepted
  EXPECT_EQ(r.kind, ExportResult::Kind::kOk);
  EXPECT_EQ(r.status, 200);
}

TEST(OtlpGrpcExporterIT, DeliversSpans) {
  support::OtlpSink sink;
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_ENDPOINT", sink.grpc_endpoint()},
                    {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                    {"OTEL_EXPORTER_OTLP_HEADERS", "X-Stampede-Test=grpc"}}),
            run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  EXPECT_THAT(run.warnings, IsEmpty());
  ExpectDelivered(sink, "grpc");
  Json stats = Json::parse(sink.Stats());
  EXPECT_EQ(stats["grpc"]["0"], 3);
  EXPECT_EQ(stats["last_headers"]["x-stampede-test"], "grpc");
  EXPECT_THAT(stats["last_headers"]["user-agent"].get<std::string>(),
              HasSubstr("OTel-OTLP-Exporter-stampede/0.1"));
}

TEST(OtlpGrpcExporterIT, GzipDeliversSpans) {
  support::OtlpSink sink;
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_ENDPOINT", sink.grpc_endpoint()},
                    {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                    {"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}}),
            run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  ExpectDelivered(sink, "grpc");
}

TEST(OtlpGrpcExporterIT, UnavailableIsRetriedThenDelivered) {
  support::OtlpSink sink({"--mode", "503", "--fault-count", "2"});
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_ENDPOINT", sink.grpc_endpoint()},
                    {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}),
            run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.retries, 2u);
  ExpectDelivered(sink, "grpc");
  Json stats = Json::parse(sink.Stats());
  EXPECT_EQ(stats["grpc"]["14"], 2);  // UNAVAILABLE
}

TEST(OtlpGrpcExporterIT, InvalidArgumentAndResourceExhaustedAreNotRetried) {
  for (const char* mode : {"400", "429"}) {
    SCOPED_TRACE(mode);
    support::OtlpSink sink({"--mode", mode});
    RunResult run;
    ExportAll(Config({{"OTEL_EXPORTER_OTLP_ENDPOINT", sink.grpc_endpoint()},
                      {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}),
              run);
    EXPECT_EQ(run.stats.spans_failed, static_cast<uint64_t>(kSpans));
    EXPECT_EQ(run.stats.retries, 0u);
    EXPECT_EQ(run.stats.requests, 3u);
    ASSERT_EQ(run.warnings.size(), 1u);
    EXPECT_THAT(run.warnings[0],
                HasSubstr(std::string(mode) == "400" ? "gRPC INVALID_ARGUMENT: sink fault 400"
                                                     : "gRPC RESOURCE_EXHAUSTED"));
  }
}

TEST(OtlpGrpcExporterIT, ResourceExhaustedWithRetryInfoIsRetriedAfterItsDelay) {
  support::OtlpSink sink({"--mode", "429", "--retry-after", "0.25", "--fault-count", "1"});
  RunResult run;
  ExportAll(Config({{"OTEL_EXPORTER_OTLP_ENDPOINT", sink.grpc_endpoint()},
                    {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}),
            run);
  EXPECT_EQ(run.stats.spans_exported, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.retries, 1u);
  EXPECT_THAT(run.backoffs, ::testing::ElementsAre(250'000'000));  // RetryInfo.retry_delay
  EXPECT_THAT(run.warnings, IsEmpty());
  ExpectDelivered(sink, "grpc");
}

TEST(OtlpGrpcExporterIT, SinkDownIsCountedAndShutdownIsBounded) {
  const std::string endpoint = "http://127.0.0.1:" + std::to_string(support::UnusedPort());
  RunResult run;
  ExportAll(
      Config({{"OTEL_EXPORTER_OTLP_ENDPOINT", endpoint}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}}),
      run, /*flush_timeout=*/2s);
  EXPECT_EQ(run.stats.spans_failed + run.stats.spans_dropped, static_cast<uint64_t>(kSpans));
  EXPECT_EQ(run.stats.spans_exported, 0u);
  ASSERT_FALSE(run.warnings.empty());
  EXPECT_THAT(run.warnings[0], HasSubstr("gRPC UNAVAILABLE"));
}

}  // namespace
}  // namespace stampede::otel
