// Independent check of the encoder: protobufjs, with the opentelemetry-proto
// root shipped by @opentelemetry/otlp-transformer, decodes what we encode
// (testdata/decode_otlp.js). Integration test: needs node and npm, and the
// npm registry the first time (npm ci into testdata/node_modules).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "metrics/exp_histogram.h"
#include "otel/metrics_encoder.h"
#include "otel/otlp_encoder.h"
#include "otel/otlp_json.h"
#include "otel/proto_writer.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using nlohmann::json;
using testing::HexOf;
using testing::SampleHttpSpan;

const std::filesystem::path kTestdata = STAMPEDE_OTEL_TESTDATA;

std::string Quote(const std::string& s) { return "'" + s + "'"; }  // paths have no quotes

// Installs the pinned npm packages once (package-lock.json).
void EnsureNodeModules() {
  const auto root_js = kTestdata /
                       "node_modules/@opentelemetry/otlp-transformer/build/src/"
                       "generated/root.js";
  if (std::filesystem::exists(root_js)) return;
  const std::string cmd = Quote(STAMPEDE_NPM) + " ci --no-audit --no-fund --prefix " +
                          Quote(kTestdata.string()) + " 1>&2";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  ASSERT_TRUE(std::filesystem::exists(root_js));
}

// Runs decode_otlp.js on `request` (`kind`: "traces" or "metrics") and
// returns its parsed stdout.
json DecodeWithNode(std::string_view request, const std::string& name,
                    const std::string& kind = "traces") {
  const auto file = std::filesystem::path(::testing::TempDir()) / (name + ".bin");
  {
    std::ofstream out(file, std::ios::binary);
    out.write(request.data(), static_cast<std::streamsize>(request.size()));
  }
  const std::string cmd = Quote(STAMPEDE_NODE) + " " +
                          Quote((kTestdata / "decode_otlp.js").string()) + " " +
                          Quote(file.string()) + " " + kind;
  FILE* pipe = popen(cmd.c_str(), "r");
  if (pipe == nullptr) {
    ADD_FAILURE() << "popen failed: " << cmd;
    return {};
  }
  std::string output;
  char buffer[65536];
  size_t n;
  while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
  const int status = pclose(pipe);
  std::filesystem::remove(file);
  EXPECT_EQ(status, 0) << cmd;
  return json::parse(output, nullptr, /*allow_exceptions=*/false);
}

class OtlpDecodeTest : public ::testing::Test {
 protected:
  void SetUp() override { EnsureNodeModules(); }
};

TEST_F(OtlpDecodeTest, ProtobufjsRecoversEverything) {
  SampleHttpSpan client(0x10);
  SampleHttpSpan root(0x10);  // the same trace: the scenario span is the parent
  root.data.span_id = client.data.parent_span_id;
  root.data.parent_span_id = SpanId{};
  root.data.kind = SpanKind::kInternal;
  root.data.name = "scenario default";
  root.data.status = StatusCode::kOk;
  root.data.status_message = {};
  root.data.events = {};
  root.data.links = {};
  root.data.trace_state = {};

  ProtoWriter worker1, worker2;
  EncodeSpan(client.data, worker1);
  EncodeSpan(root.data, worker2);
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")},
                               {"service.instance.id", AnyValue::String("run-1")},
                               {"process.pid", AnyValue::Int(4242)}};
  const ExportRequestHeader header{.resource_attributes = resource,
                                   .resource_schema_url = "https://opentelemetry.io/schemas/1.26.0",
                                   .scope_name = "stampede",
                                   .scope_version = "0.1.0"};
  const std::string_view chunks[] = {worker1.view(), worker2.view()};
  ProtoWriter request;
  EncodeExportTraceRequest(header, chunks, request);

  const json got = DecodeWithNode(request.view(), "decode_basic");
  ASSERT_TRUE(got.is_object()) << got.dump();

  const json& rs = got["resourceSpans"][0];
  EXPECT_EQ(rs["schemaUrl"], "https://opentelemetry.io/schemas/1.26.0");
  EXPECT_EQ(rs["resource"]["attributes"], json::parse(R"([
      {"key":"service.name","value":{"stringValue":"stampede"}},
      {"key":"service.instance.id","value":{"stringValue":"run-1"}},
      {"key":"process.pid","value":{"intValue":"4242"}}])"));
  const json& ss = rs["scopeSpans"][0];
  EXPECT_EQ(ss["scope"]["name"], "stampede");
  EXPECT_EQ(ss["scope"]["version"], "0.1.0");
  ASSERT_EQ(ss["spans"].size(), 2u);

  const json& c = ss["spans"][0];
  EXPECT_EQ(c["name"], "GET");
  EXPECT_EQ(c["kind"], 3);
  EXPECT_EQ(c["traceId"], HexOf(client.data.trace_id.bytes));
  EXPECT_EQ(c["spanId"], HexOf(client.data.span_id.bytes));
  EXPECT_EQ(c["parentSpanId"], HexOf(client.data.parent_span_id.bytes));
  EXPECT_EQ(c["traceState"], "ot=th:0");
  EXPECT_EQ(c["startTimeUnixNano"], std::to_string(client.data.start_unix_ns));
  EXPECT_EQ(c["endTimeUnixNano"], std::to_string(client.data.end_unix_ns));
  EXPECT_EQ(c["flags"], 0x101);
  EXPECT_EQ(c["status"], json::parse(R"({"message":"503 Service Unavailable","code":2})"));
  ASSERT_EQ(c["attributes"].size(), client.attributes.size());
  for (size_t i = 0; i < client.attributes.size(); ++i) {
    const KeyValue& kv = client.attributes[i];
    const json& a = c["attributes"][i];
    SCOPED_TRACE(std::string(kv.key));
    EXPECT_EQ(a["key"], kv.key);
    switch (kv.value.type) {
      case AnyValue::Type::kString:
        EXPECT_EQ(a["value"]["stringValue"], kv.value.s);
        break;
      case AnyValue::Type::kInt:
        EXPECT_EQ(a["value"]["intValue"], std::to_string(kv.value.i));
        break;
      case AnyValue::Type::kDouble:
        EXPECT_EQ(a["value"]["doubleValue"], kv.value.d);
        break;
      case AnyValue::Type::kBool:
        EXPECT_EQ(a["value"]["boolValue"], kv.value.b);
        break;
    }
  }
  ASSERT_EQ(c["events"].size(), 1u);
  EXPECT_EQ(c["events"][0]["name"], "http.response.first_byte");
  EXPECT_EQ(c["events"][0]["timeUnixNano"], std::to_string(client.events[0].time_unix_ns));
  EXPECT_EQ(c["events"][0]["attributes"][0]["value"]["intValue"], "1500000");
  ASSERT_EQ(c["links"].size(), 1u);
  EXPECT_EQ(c["links"][0]["traceId"], HexOf(client.links[0].trace_id.bytes));
  EXPECT_EQ(c["links"][0]["spanId"], HexOf(client.links[0].span_id.bytes));
  EXPECT_EQ(c["links"][0]["flags"], 0x101);

  const json& r = ss["spans"][1];
  EXPECT_EQ(r["name"], "scenario default");
  EXPECT_EQ(r["kind"], 1);
  EXPECT_EQ(r["traceId"], c["traceId"]);
  EXPECT_EQ(r["spanId"], c["parentSpanId"]);
  EXPECT_FALSE(r.contains("parentSpanId"));
  EXPECT_EQ(r["status"], json::parse(R"({"code":1})"));

  // Our own OTLP/JSON transcoder agrees with protobufjs on the whole request.
  EXPECT_EQ(json::parse(TraceRequestToJson(request.view())), got);
}

TEST_F(OtlpDecodeTest, BigMessagesDecode) {
  // Attribute strings past the 1-, 2- and 3-byte length varints.
  const std::string s200(200, 'a'), s20k(20000, 'b'), s3m(3'000'000, 'c');
  SampleHttpSpan span;
  span.attributes[1].value = AnyValue::String(s20k);
  span.attributes[0].value = AnyValue::String(s200);
  span.event_attributes[0] = {"big", AnyValue::String(s3m)};
  span.data.attributes = span.attributes;
  span.events[0].attributes = span.event_attributes;
  ProtoWriter spans;
  for (int i = 0; i < 3; ++i) EncodeSpan(span.data, spans);
  const KeyValue resource[] = {{"service.name", AnyValue::String(s200)}};
  const ExportRequestHeader header{.resource_attributes = resource, .scope_name = "stampede"};
  const std::string_view chunks[] = {spans.view()};
  ProtoWriter request;
  EncodeExportTraceRequest(header, chunks, request);
  ASSERT_GT(request.size(), 9'000'000u);

  const json got = DecodeWithNode(request.view(), "decode_big");
  ASSERT_TRUE(got.is_object());
  const json& ss = got["resourceSpans"][0]["scopeSpans"][0];
  ASSERT_EQ(ss["spans"].size(), 3u);
  for (const json& s : ss["spans"]) {
    EXPECT_EQ(s["attributes"][0]["value"]["stringValue"], s200);
    EXPECT_EQ(s["attributes"][1]["value"]["stringValue"], s20k);
    EXPECT_EQ(s["events"][0]["attributes"][0]["value"]["stringValue"], s3m);
    EXPECT_EQ(s["status"]["code"], 2);
  }
  EXPECT_EQ(got["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], s200);
}

// Metrics: names, units, temporality, exponential and explicit histogram
// fields and exemplar ids as protobufjs reads them; and our OTLP/JSON
// transcoder agrees with it on every request.
TEST_F(OtlpDecodeTest, ProtobufjsDecodesMetrics) {
  metrics::ExpHistogram latency;
  latency.Record(0);
  for (double v = 1e6; v < 2e9; v *= 1.01) latency.Record(v);
  metrics::ExpHistogram sizes;
  for (double v = 1; v < 1e5; v *= 1.1) sizes.Record(v);

  std::vector<metrics::ExportMetric> ms(5);
  ms[0].name = "stampede_http_reqs";
  ms[0].description = "Total HTTP requests.";
  ms[0].unit = "{request}";
  ms[0].kind = metrics::InstrumentKind::kCounter;
  ms[0].points.resize(2);
  ms[0].points[0].attributes = {{"method", "GET"}, {"status", "200", true, 200}};
  ms[0].points[0].number = 42;
  ms[0].points[1].overflow = true;
  ms[0].points[1].number = 3;
  ms[1].name = "http.client.open_connections";
  ms[1].unit = "{connection}";
  ms[1].kind = metrics::InstrumentKind::kUpDownCounter;
  ms[1].points.resize(1);
  ms[1].points[0].number = 7;
  ms[2].name = "stampede_vus";
  ms[2].unit = "{vu}";
  ms[2].kind = metrics::InstrumentKind::kGauge;
  ms[2].points.resize(1);
  ms[2].points[0].number = 10;
  ms[3].name = "http.client.request.duration";
  ms[3].unit = "s";
  ms[3].kind = metrics::InstrumentKind::kHistogram;
  ms[3].unit_scale = 1e-9;
  ms[3].exemplars = metrics::ExemplarValue::kTotal;
  ms[3].points.resize(1);
  ms[3].points[0].attributes = {{"http.request.method", "GET"}};
  ms[3].points[0].histogram = &latency;
  ms[3].points[0].exemplar_key = "k";
  ms[4].name = "stampede_data_sent";
  ms[4].unit = "By";
  ms[4].kind = metrics::InstrumentKind::kHistogram;
  ms[4].points.resize(1);
  ms[4].points[0].histogram = &sizes;

  metrics::Exemplar e;
  for (size_t i = 0; i < 16; ++i) e.trace_id[i] = static_cast<uint8_t>(0xf0 - i);
  for (size_t i = 0; i < 8; ++i) e.span_id[i] = static_cast<uint8_t>(0x01 + i);
  e.time_unix_ns = 1'700'000'000'500'000'000;
  e.total_ns = 12'345'678;
  const std::map<std::string, std::vector<metrics::Exemplar>> exemplars = {{"k", {e}}};
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")}};
  const ExportRequestHeader header{
      .resource_attributes = resource, .scope_name = "stampede", .scope_version = "0.1.0"};
  const MetricsBatch batch{.metrics = ms,
                           .exemplars = &exemplars,
                           .start_unix_ns = 1'700'000'000'000'000'000,
                           .time_unix_ns = 1'700'000'010'000'000'000};

  ProtoWriter request;
  MetricsEncoder encoder;
  ASSERT_EQ(encoder.Encode(header, batch, request).data_points, 6u);
  const json got = DecodeWithNode(request.view(), "decode_metrics", "metrics");
  ASSERT_TRUE(got.is_object()) << got.dump();
  EXPECT_EQ(json::parse(MetricsRequestToJson(request.view())), got);

  const json& sm = got["resourceMetrics"][0]["scopeMetrics"][0];
  EXPECT_EQ(sm["scope"]["name"], "stampede");
  const json& m = sm["metrics"];
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(m[0]["name"], "stampede_http_reqs");
  EXPECT_EQ(m[0]["description"], "Total HTTP requests.");
  EXPECT_EQ(m[0]["unit"], "{request}");
  EXPECT_EQ(m[0]["sum"]["aggregationTemporality"], 2);
  EXPECT_EQ(m[0]["sum"]["isMonotonic"], true);
  EXPECT_EQ(m[0]["sum"]["dataPoints"][0]["asDouble"], 42);
  EXPECT_EQ(m[0]["sum"]["dataPoints"][0]["startTimeUnixNano"], "1700000000000000000");
  EXPECT_EQ(m[0]["sum"]["dataPoints"][0]["attributes"][1],
            json::parse(R"({"key":"status","value":{"intValue":"200"}})"));
  EXPECT_EQ(m[0]["sum"]["dataPoints"][1]["attributes"],
            json::parse(R"([{"key":"otel.metric.overflow","value":{"boolValue":true}}])"));
  EXPECT_EQ(m[1]["sum"]["aggregationTemporality"], 2);
  EXPECT_FALSE(m[1]["sum"].contains("isMonotonic"));
  EXPECT_EQ(m[2]["gauge"]["dataPoints"][0]["asDouble"], 10);

  const json& p = m[3]["exponentialHistogram"]["dataPoints"][0];
  EXPECT_EQ(m[3]["unit"], "s");
  EXPECT_EQ(m[3]["exponentialHistogram"]["aggregationTemporality"], 2);
  ExpBuckets b;
  ToExponentialBuckets(latency, 1e-9, 20, 160, b);
  EXPECT_EQ(p["scale"], b.scale);
  EXPECT_EQ(p["positive"]["offset"], b.offset);
  EXPECT_LT(p["positive"]["offset"].get<int>(), 0);
  EXPECT_EQ(p["positive"]["bucketCounts"].size(), b.counts.size());
  EXPECT_EQ(p["count"], std::to_string(latency.count()));
  EXPECT_EQ(p["zeroCount"], "1");
  EXPECT_DOUBLE_EQ(p["sum"].get<double>(), latency.sum() * 1e-9);
  EXPECT_EQ(p["min"], 0);
  EXPECT_DOUBLE_EQ(p["max"].get<double>(), latency.max() * 1e-9);
  uint64_t total = 0;
  for (const json& c : p["positive"]["bucketCounts"]) total += std::stoull(c.get<std::string>());
  EXPECT_EQ(total + 1, latency.count());
  ASSERT_EQ(p["exemplars"].size(), 1u);
  EXPECT_EQ(p["exemplars"][0]["traceId"], HexOf(e.trace_id));
  EXPECT_EQ(p["exemplars"][0]["spanId"], "0102030405060708");
  EXPECT_EQ(p["exemplars"][0]["timeUnixNano"], "1700000000500000000");
  EXPECT_DOUBLE_EQ(p["exemplars"][0]["asDouble"].get<double>(), 0.012345678);
  ToExponentialBuckets(sizes, 1, 20, 160, b);
  EXPECT_EQ(m[4]["exponentialHistogram"]["dataPoints"][0]["positive"]["offset"], b.offset);
  EXPECT_EQ(m[4]["exponentialHistogram"]["dataPoints"][0]["scale"], b.scale);

  // Explicit buckets and delta temporality.
  ProtoWriter delta_request;
  MetricsEncoder delta({.temporality = MetricsTemporality::kDelta,
                        .histogram = HistogramAggregation::kExplicitBucket});
  delta.Encode(header, batch, delta_request);
  const json d = DecodeWithNode(delta_request.view(), "decode_metrics_delta", "metrics");
  ASSERT_TRUE(d.is_object());
  EXPECT_EQ(json::parse(MetricsRequestToJson(delta_request.view())), d);
  const json& dm = d["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
  EXPECT_EQ(dm[0]["sum"]["aggregationTemporality"], 1);
  EXPECT_EQ(dm[1]["sum"]["aggregationTemporality"], 2);  // up-down counters stay cumulative
  const json& h = dm[3]["histogram"];
  EXPECT_EQ(h["aggregationTemporality"], 1);
  EXPECT_EQ(h["dataPoints"][0]["explicitBounds"].size(), 14u);
  EXPECT_EQ(h["dataPoints"][0]["explicitBounds"][0], 0.005);
  EXPECT_EQ(h["dataPoints"][0]["bucketCounts"].size(), 15u);
  EXPECT_FALSE(h["dataPoints"][0].contains("min"));
  EXPECT_EQ(h["dataPoints"][0]["exemplars"][0]["traceId"], HexOf(e.trace_id));
  EXPECT_EQ(dm[4]["histogram"]["dataPoints"][0]["explicitBounds"][14], 10000);
}

}  // namespace
}  // namespace stampede::otel
