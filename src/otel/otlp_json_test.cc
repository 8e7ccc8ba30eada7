#include "otel/otlp_json.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "otel/otlp_encoder.h"
#include "otel/proto_writer.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using nlohmann::json;
using testing::HexOf;
using testing::SampleHttpSpan;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

TEST(OtlpJsonTest, TranscodesARequestFieldByField) {
  SampleHttpSpan sample;
  SampleHttpSpan root(0x70);
  root.data.parent_span_id = SpanId{};
  root.data.status = StatusCode::kUnset;
  root.data.status_message = {};
  root.data.kind = SpanKind::kInternal;
  root.data.name = "scenario";
  root.data.events = {};
  root.data.links = {};
  ProtoWriter spans;
  EncodeSpan(sample.data, spans);
  EncodeSpan(root.data, spans);
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")}};
  const ExportRequestHeader header{.resource_attributes = resource,
                                   .resource_schema_url = "https://opentelemetry.io/schemas/1.26.0",
                                   .scope_name = "stampede",
                                   .scope_version = "0.1.0"};
  const std::string_view chunks[] = {spans.view()};
  ProtoWriter request;
  EncodeExportTraceRequest(header, chunks, request);

  const std::string text = TraceRequestToJson(request.view());
  ASSERT_FALSE(text.empty());
  const json j = json::parse(text);

  ASSERT_EQ(j["resourceSpans"].size(), 1u);
  const json& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["schemaUrl"], "https://opentelemetry.io/schemas/1.26.0");
  EXPECT_EQ(
      rs["resource"],
      json::parse(R"({"attributes":[{"key":"service.name","value":{"stringValue":"stampede"}}]})"));
  ASSERT_EQ(rs["scopeSpans"].size(), 1u);
  const json& ss = rs["scopeSpans"][0];
  EXPECT_EQ(ss["scope"], json::parse(R"({"name":"stampede","version":"0.1.0"})"));
  ASSERT_EQ(ss["spans"].size(), 2u);

  const json& s = ss["spans"][0];
  EXPECT_EQ(s["traceId"], HexOf(sample.data.trace_id.bytes));
  EXPECT_EQ(s["traceId"], "101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(s["spanId"], "3031323334353637");
  EXPECT_EQ(s["parentSpanId"], "5051525354555657");
  EXPECT_EQ(s["traceState"], "ot=th:0");
  EXPECT_EQ(s["name"], "GET");
  EXPECT_EQ(s["kind"], 3);
  EXPECT_EQ(s["startTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(s["endTimeUnixNano"], "1700000000126206789");
  EXPECT_EQ(s["flags"], 257);
  EXPECT_EQ(s["status"], json::parse(R"({"message":"503 Service Unavailable","code":2})"));
  ASSERT_EQ(s["attributes"].size(), sample.attributes.size());
  EXPECT_EQ(s["attributes"][0],
            json::parse(R"({"key":"http.request.method","value":{"stringValue":"GET"}})"));
  EXPECT_EQ(s["attributes"][3],
            json::parse(R"({"key":"server.port","value":{"intValue":"8080"}})"));
  EXPECT_EQ(s["attributes"][11],
            json::parse(R"({"key":"stampede.iteration","value":{"intValue":"0"}})"));
  EXPECT_EQ(s["attributes"][13],
            json::parse(R"({"key":"stampede.ratio","value":{"doubleValue":0.25}})"));
  EXPECT_EQ(s["attributes"][14],
            json::parse(R"({"key":"stampede.expected","value":{"boolValue":false}})"));
  EXPECT_EQ(s["attributes"][15],
            json::parse(R"({"key":"stampede.offset","value":{"intValue":"-5"}})"));
  EXPECT_EQ(s["events"], json::parse(R"([{"timeUnixNano":"1700000000124956789",
      "name":"http.response.first_byte",
      "attributes":[{"key":"stampede.ttfb_ns","value":{"intValue":"1500000"}}]}])"));
  EXPECT_EQ(s["links"], json::parse(R"([{"traceId":"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
      "spanId":"b0b1b2b3b4b5b6b7","traceState":"vendor=x",
      "attributes":[{"key":"stampede.link","value":{"boolValue":true}}],"flags":257}])"));

  const json& r = ss["spans"][1];
  EXPECT_FALSE(r.contains("parentSpanId"));
  EXPECT_FALSE(r.contains("status"));
  EXPECT_FALSE(r.contains("events"));
  EXPECT_FALSE(r.contains("links"));
  EXPECT_EQ(r["kind"], 1);
  EXPECT_EQ(r["name"], "scenario");
  EXPECT_EQ(r["traceId"], "707172737475767778797a7b7c7d7e7f");

  // lowerCamelCase keys in proto field order.
  EXPECT_EQ(text.find("\"resourceSpans\":[{\"resource\""), 1u);
}

TEST(OtlpJsonTest, EmptyRequest) { EXPECT_EQ(TraceRequestToJson(""), "{}"); }

TEST(OtlpJsonTest, MalformedGivesEmptyString) {
  EXPECT_EQ(TraceRequestToJson(Bytes({0x0A, 0x05, 0x00})), "");
  EXPECT_EQ(TraceRequestToJson(Bytes({0x08, 0x01})), "");  // resource_spans as a varint
  // A span whose name (field 5) is a varint.
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  auto span = w.BeginMessage(2);
  w.VarintField(5, 1);
  w.EndMessage(span);
  w.EndMessage(ss);
  w.EndMessage(rs);
  EXPECT_EQ(TraceRequestToJson(w.view()), "");
}

TEST(OtlpJsonTest, OtherAnyValueKindsAndUnknownFields) {
  // A span with attributes our encoder never writes (bytes, array, kvlist,
  // non-finite doubles), dropped counts, and an unknown field 99.
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  auto span = w.BeginMessage(2);
  w.StringField(5, "s");
  w.StringField(99, "ignored");
  auto add = [&w](std::string_view key, auto&& value_fn) {
    auto kv = w.BeginMessage(9);
    w.StringField(1, key);
    auto v = w.BeginMessage(2);
    value_fn();
    w.EndMessage(v);
    w.EndMessage(kv);
  };
  add("bytes",
      [&] { w.BytesField(7, std::string_view("\x00\xFF\x10\x20", 4), Presence::kExplicit); });
  add("bytes5", [&] { w.BytesField(7, "hello", Presence::kExplicit); });
  add("array", [&] {
    auto a = w.BeginMessage(5);
    auto v1 = w.BeginMessage(1);
    w.Int64Field(3, 1, Presence::kExplicit);
    w.EndMessage(v1);
    auto v2 = w.BeginMessage(1);
    w.StringField(1, "two", Presence::kExplicit);
    w.EndMessage(v2);
    w.EndMessage(a);
  });
  add("kvlist", [&] {
    auto l = w.BeginMessage(6);
    auto kv = w.BeginMessage(1);
    w.StringField(1, "inner");
    auto v = w.BeginMessage(2);
    w.BoolField(2, true, Presence::kExplicit);
    w.EndMessage(v);
    w.EndMessage(kv);
    w.EndMessage(l);
  });
  add("nan", [&] { w.DoubleField(4, std::numeric_limits<double>::quiet_NaN()); });
  add("inf", [&] { w.DoubleField(4, -std::numeric_limits<double>::infinity()); });
  add("utf8", [&] { w.StringField(1, "caf\xC3\xA9 \xFF", Presence::kExplicit); });
  w.VarintField(10, 3);
  w.VarintField(12, 4);
  w.VarintField(14, 5);
  w.EndMessage(span);
  w.EndMessage(ss);
  w.EndMessage(rs);

  const std::string text = TraceRequestToJson(w.view());
  ASSERT_FALSE(text.empty());
  const json s = json::parse(text)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_FALSE(text.find("ignored") != std::string::npos);
  EXPECT_EQ(s["attributes"][0]["value"], json::parse(R"({"bytesValue":"AP8QIA=="})"));
  EXPECT_EQ(s["attributes"][1]["value"], json::parse(R"({"bytesValue":"aGVsbG8="})"));
  EXPECT_EQ(s["attributes"][2]["value"],
            json::parse(R"({"arrayValue":{"values":[{"intValue":"1"},{"stringValue":"two"}]}})"));
  EXPECT_EQ(
      s["attributes"][3]["value"],
      json::parse(R"({"kvlistValue":{"values":[{"key":"inner","value":{"boolValue":true}}]}})"));
  EXPECT_EQ(s["attributes"][4]["value"], json::parse(R"({"doubleValue":"NaN"})"));
  EXPECT_EQ(s["attributes"][5]["value"], json::parse(R"({"doubleValue":"-Infinity"})"));
  EXPECT_EQ(s["attributes"][6]["value"]["stringValue"], "caf\xC3\xA9 \xEF\xBF\xBD");
  EXPECT_EQ(s["droppedAttributesCount"], 3);
  EXPECT_EQ(s["droppedEventsCount"], 4);
  EXPECT_EQ(s["droppedLinksCount"], 5);
}

// A request holding one span whose body is `span_body`.
std::string RequestWithSpan(std::string_view span_body) {
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  w.BytesField(2, span_body, Presence::kExplicit);
  w.EndMessage(ss);
  w.EndMessage(rs);
  return std::string(w.view());
}

TEST(OtlpJsonTest, StringsAreEscapedAndUtf8Checked) {
  ProtoWriter span;
  span.StringField(5, std::string_view("q\"b\\n\n\t\x01\x7f\0end", 13));
  span.StringField(
      3, "ok \xE2\x82\xAC \xF0\x9F\x98\x80 bad:\xC0\xAF|\xED\xA0\x80|\xF4\x90\x80\x80|\xE2\x82");
  const std::string text = TraceRequestToJson(RequestWithSpan(span.view()));
  ASSERT_FALSE(text.empty());
  EXPECT_NE(text.find(R"("name":"q\"b\\n\n\t\u0001)"
                      "\x7f"
                      R"(\u0000end")"),
            std::string::npos)
      << text;
  const json s = json::parse(text)["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(s["name"], std::string("q\"b\\n\n\t\x01\x7f\0end", 13));
  // Valid 3- and 4-byte sequences pass; overlong, surrogate, > U+10FFFF and
  // truncated sequences become U+FFFD per byte.
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(s["traceState"], "ok \xE2\x82\xAC \xF0\x9F\x98\x80 bad:" + r + r + "|" + r + r + r +
                                 "|" + r + r + r + r + "|" + r + r);
}

TEST(OtlpJsonTest, RepeatedFieldsAreGatheredAndLastSingularWins) {
  auto attribute = [](std::string_view key) {
    ProtoWriter kv;
    kv.StringField(1, key);
    auto v = kv.BeginMessage(2);
    kv.BoolField(2, true, Presence::kExplicit);
    kv.EndMessage(v);
    return std::string(kv.view());
  };
  ProtoWriter span;
  span.BytesField(9, attribute("a"));
  span.StringField(5, "first");
  span.BytesField(9, attribute("b"));
  span.VarintField(6, 2);
  span.StringField(5, "second");
  span.BytesField(9, attribute("c"));
  const std::string text = TraceRequestToJson(RequestWithSpan(span.view()));
  EXPECT_EQ(
      text,
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"second","kind":2,)"
      R"("attributes":[{"key":"a","value":{"boolValue":true}},)"
      R"({"key":"b","value":{"boolValue":true}},{"key":"c","value":{"boolValue":true}}]}]}]}]})");
}

TEST(OtlpJsonTest, NumbersUseShortestForms) {
  ProtoWriter span;
  span.Fixed64Field(7, std::numeric_limits<uint64_t>::max());
  auto kv = span.BeginMessage(9);
  span.StringField(1, "d");
  auto v = span.BeginMessage(2);
  span.DoubleField(4, 0.1);
  span.EndMessage(v);
  span.EndMessage(kv);
  auto kv2 = span.BeginMessage(9);
  span.StringField(1, "i");
  auto v2 = span.BeginMessage(2);
  span.Int64Field(3, std::numeric_limits<int64_t>::min());
  span.EndMessage(v2);
  span.EndMessage(kv2);
  const std::string text = TraceRequestToJson(RequestWithSpan(span.view()));
  EXPECT_NE(text.find(R"("startTimeUnixNano":"18446744073709551615")"), std::string::npos);
  EXPECT_NE(text.find(R"({"doubleValue":0.1})"), std::string::npos);
  EXPECT_NE(text.find(R"({"intValue":"-9223372036854775808"})"), std::string::npos);
}

TEST(OtlpJsonTest, DeepNestingIsRejectedNotOverflowed) {
  // AnyValue { array_value { values { array_value { ... } } } } 200 levels deep.
  std::string value;
  for (int i = 0; i < 200; ++i) {
    ProtoWriter level;
    auto a = level.BeginMessage(5);
    level.BytesField(1, value, Presence::kExplicit);
    level.EndMessage(a);
    value.assign(level.view());
  }
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  auto span = w.BeginMessage(2);
  auto kv = w.BeginMessage(9);
  w.BytesField(2, value, Presence::kExplicit);
  w.EndMessage(kv);
  w.EndMessage(span);
  w.EndMessage(ss);
  w.EndMessage(rs);
  EXPECT_EQ(TraceRequestToJson(w.view()), "");
}

}  // namespace
}  // namespace stampede::otel
