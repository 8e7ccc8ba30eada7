#include "otel/console_exporter.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "otel/export_pipeline.h"
#include "otel/otlp_encoder.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using testing::HexOf;
using testing::SampleHttpSpan;
using namespace std::chrono_literals;

std::vector<json> ParseLines(const std::string& text) {
  std::vector<json> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "the last line has no newline";
    if (nl == std::string::npos) break;
    lines.push_back(json::parse(text.substr(pos, nl - pos)));  // throws if not JSON
    pos = nl + 1;
  }
  return lines;
}

// The one span of a single-span line.
const json& OnlySpan(const json& line) {
  EXPECT_EQ(line["resourceSpans"].size(), 1u);
  EXPECT_EQ(line["resourceSpans"][0]["scopeSpans"].size(), 1u);
  EXPECT_EQ(line["resourceSpans"][0]["scopeSpans"][0]["spans"].size(), 1u);
  return line["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
}

std::string TwoSpanRequest(SampleHttpSpan& client, SampleHttpSpan& root) {
  root.data.parent_span_id = SpanId{};
  root.data.kind = SpanKind::kInternal;
  root.data.name = "iteration default";
  root.data.status = StatusCode::kUnset;
  root.data.status_message = {};
  root.data.events = {};
  root.data.links = {};
  ProtoWriter spans;
  EncodeSpan(client.data, spans);
  EncodeSpan(root.data, spans);
  static const KeyValue kResource[] = {{"service.name", AnyValue::String("stampede")},
                                       {"stampede.run.id", AnyValue::String("r1")}};
  const ExportRequestHeader header{.resource_attributes = kResource,
                                   .resource_schema_url = "https://opentelemetry.io/schemas/1.26.0",
                                   .scope_name = "stampede",
                                   .scope_version = "0.1.0"};
  const std::string_view chunks[] = {spans.view()};
  ProtoWriter request;
  EncodeExportTraceRequest(header, chunks, request);
  return std::string(request.view());
}

TEST(ConsoleExporterTest, OneSelfContainedOtlpJsonLinePerSpan) {
  SampleHttpSpan client;
  SampleHttpSpan root(0x70);
  const std::string request = TwoSpanRequest(client, root);

  ProtoWriter scratch;
  std::string out;
  ASSERT_EQ(AppendSpanJsonLines(request, scratch, out), 2);
  const std::vector<json> lines = ParseLines(out);
  ASSERT_EQ(lines.size(), 2u);

  for (const json& line : lines) {
    const json& rs = line["resourceSpans"][0];
    EXPECT_EQ(rs["schemaUrl"], "https://opentelemetry.io/schemas/1.26.0");
    EXPECT_EQ(rs["resource"]["attributes"][0],
              json::parse(R"({"key":"service.name","value":{"stringValue":"stampede"}})"));
    EXPECT_EQ(rs["scopeSpans"][0]["scope"],
              json::parse(R"({"name":"stampede","version":"0.1.0"})"));
  }

  const json& s = OnlySpan(lines[0]);
  EXPECT_EQ(s["traceId"], HexOf(client.data.trace_id.bytes));
  EXPECT_EQ(s["spanId"], HexOf(client.data.span_id.bytes));
  EXPECT_EQ(s["parentSpanId"], HexOf(client.data.parent_span_id.bytes));
  EXPECT_EQ(s["name"], "GET");
  EXPECT_EQ(s["kind"], 3);  // CLIENT
  EXPECT_EQ(s["startTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(s["endTimeUnixNano"], "1700000000126206789");
  EXPECT_EQ(s["status"]["code"], 2);
  EXPECT_EQ(s["attributes"][0],
            json::parse(R"({"key":"http.request.method","value":{"stringValue":"GET"}})"));
  EXPECT_EQ(s["events"][0]["name"], "http.response.first_byte");
  EXPECT_EQ(s["links"].size(), 1u);

  const json& r = OnlySpan(lines[1]);
  EXPECT_EQ(r["name"], "iteration default");
  EXPECT_EQ(r["kind"], 1);
  EXPECT_FALSE(r.contains("parentSpanId"));  // a root span
}

TEST(ConsoleExporterTest, EmptyAndMalformedRequests) {
  ProtoWriter scratch;
  std::string out;
  EXPECT_EQ(AppendSpanJsonLines("", scratch, out), 0);
  EXPECT_EQ(out, "");
  EXPECT_EQ(AppendSpanJsonLines("\x0a\x05\x12", scratch, out), -1);  // truncated
}

TEST(ConsoleExporterTest, ExportWritesTheLinesToItsStream) {
  SampleHttpSpan client;
  SampleHttpSpan root(0x70);
  const std::string request = TwoSpanRequest(client, root);
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ConsoleExporter exporter(f, "test stream");
  EXPECT_EQ(exporter.endpoint(), "test stream");
  EXPECT_EQ(exporter.Export(request, 0).kind, ExportResult::Kind::kOk);
  EXPECT_EQ(exporter.Export("", 0).kind, ExportResult::Kind::kOk);  // nothing to write
  ExportResult bad = exporter.Export("\x0a\x05\x12", 0);
  EXPECT_EQ(bad.kind, ExportResult::Kind::kFailed);
  EXPECT_THAT(bad.message, HasSubstr("malformed"));

  std::rewind(f);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  EXPECT_EQ(ParseLines(text).size(), 2u);
}

TEST(ConsoleExporterTest, AWriteErrorIsAFailureNamingTheStream) {
  std::FILE* f = std::fopen("/dev/full", "w");
  if (f == nullptr) GTEST_SKIP() << "no /dev/full";
  SampleHttpSpan client;
  SampleHttpSpan root(0x70);
  ConsoleExporter exporter(f, "stdout");
  ExportResult r = exporter.Export(TwoSpanRequest(client, root), 0);
  std::fclose(f);
  EXPECT_EQ(r.kind, ExportResult::Kind::kFailed);
  EXPECT_THAT(r.message, HasSubstr("cannot write spans to stdout"));
}

// Through the pipeline, as the runner uses it: batching and counters as for
// the network exporters.
TEST(ConsoleExporterTest, PlugsIntoTheExportPipeline) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ExportPipelineOptions options;
  options.max_batch_spans = 4;
  options.resource_attributes = {{"service.name", "console-test"}};
  options.warn = [](std::string_view) {};
  auto pipeline =
      std::make_unique<ExportPipeline>(std::make_unique<ConsoleExporter>(f), 1, options);
  SampleHttpSpan span;
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(pipeline->sink(0).Record(span.data));
  pipeline->Shutdown(10s);
  const ExportPipelineStats stats = pipeline->stats();
  EXPECT_EQ(stats.spans_exported, 10u);
  EXPECT_EQ(stats.spans_dropped + stats.spans_failed, 0u);
  EXPECT_GE(stats.requests, 3u);  // batches of at most 4
  pipeline.reset();

  std::rewind(f);
  std::string text;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  const std::vector<json> lines = ParseLines(text);
  ASSERT_EQ(lines.size(), 10u);
  for (const json& line : lines) {
    EXPECT_EQ(line["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"],
              "console-test");
    EXPECT_EQ(OnlySpan(line)["kind"], 3);
  }
}

}  // namespace
}  // namespace stampede::otel
