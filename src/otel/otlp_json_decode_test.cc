#include "otel/otlp_json_decode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "otel/otlp_encoder.h"
#include "otel/otlp_json.h"
#include "otel/proto_reader.h"
#include "otel/proto_writer.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using nlohmann::json;
using testing::HexOf;
using testing::SampleHttpSpan;

// Decodes `text`; fails the test (with the decoder's error) when it does not.
std::string Decode(std::string_view text) {
  std::string out, error;
  EXPECT_TRUE(TraceRequestJsonToProtobuf(text, out, error)) << error << "\n" << text;
  return out;
}

// The decoder's error for `text`, which must be refused.
std::string DecodeError(std::string_view text) {
  std::string out = "kept", error;
  EXPECT_FALSE(TraceRequestJsonToProtobuf(text, out, error)) << text;
  EXPECT_EQ(out, "kept") << "output changed on failure";
  EXPECT_FALSE(error.empty());
  return error;
}

// A realistic request from the encoder: two spans (a full HTTP client span
// and a root span) under a resource and a scope with schema URLs.
std::string EncodedRequest() {
  SampleHttpSpan sample;
  SampleHttpSpan root(0x70);
  root.data.parent_span_id = SpanId{};
  root.data.status = StatusCode::kUnset;
  root.data.status_message = {};
  root.data.kind = SpanKind::kInternal;
  root.data.name = "scenario \xC3\xA9t\xC3\xA9 \"quoted\"\n";
  root.data.events = {};
  root.data.links = {};
  ProtoWriter spans;
  EncodeSpan(sample.data, spans);
  EncodeSpan(root.data, spans);
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")},
                               {"process.pid", AnyValue::Int(4242)}};
  const KeyValue scope_attributes[] = {{"scope.flag", AnyValue::Bool(true)}};
  const ExportRequestHeader header{.resource_attributes = resource,
                                   .resource_schema_url = "https://opentelemetry.io/schemas/1.26.0",
                                   .scope_name = "stampede",
                                   .scope_version = "0.1.0",
                                   .scope_attributes = scope_attributes,
                                   .scope_schema_url = "https://example.com/scope"};
  const std::string_view chunks[] = {spans.view()};
  ProtoWriter request;
  EncodeExportTraceRequest(header, chunks, request);
  return std::string(request.view());
}

// Replaces every occurrence of `from` in `s` by `to`.
std::string ReplaceAll(std::string s, std::string_view from, std::string_view to) {
  for (size_t pos = 0; (pos = s.find(from, pos)) != std::string::npos; pos += to.size()) {
    s.replace(pos, from.size(), to);
  }
  return s;
}

TEST(OtlpJsonDecodeTest, RoundTripsTheTranscoderByteForByte) {
  const std::string protobuf = EncodedRequest();
  const std::string text = TraceRequestToJson(protobuf);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(Decode(text), protobuf);
}

TEST(OtlpJsonDecodeTest, EveryAnyValueKindRoundTrips) {
  // What our encoder never writes: bytes, arrays, kvlists, non-finite and
  // negative-zero doubles, negative ints, an empty string (oneof presence).
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  auto span = w.BeginMessage(2);
  const std::string trace_id(16, '\x11'), span_id(8, '\x22');
  // In field order, as the transcoder writes JSON and so the decoder bytes.
  w.BytesField(1, trace_id);
  w.BytesField(2, span_id);
  w.VarintField(6, 2);                                      // kind SERVER
  w.Fixed64Field(7, std::numeric_limits<uint64_t>::max());  // beyond int64
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
  add("empty", [&] { w.StringField(1, "", Presence::kExplicit); });
  add("false", [&] { w.BoolField(2, false, Presence::kExplicit); });
  add("zero", [&] { w.Int64Field(3, 0, Presence::kExplicit); });
  add("negative",
      [&] { w.Int64Field(3, std::numeric_limits<int64_t>::min(), Presence::kExplicit); });
  add("nan", [&] { w.DoubleField(4, std::numeric_limits<double>::quiet_NaN()); });
  add("inf", [&] { w.DoubleField(4, -std::numeric_limits<double>::infinity()); });
  add("tiny", [&] { w.DoubleField(4, 5e-324); });
  add("array", [&] {
    auto a = w.BeginMessage(5);
    auto v1 = w.BeginMessage(1);
    w.Int64Field(3, 1, Presence::kExplicit);
    w.EndMessage(v1);
    auto v2 = w.BeginMessage(1);
    auto inner = w.BeginMessage(5);  // an empty nested array
    w.EndMessage(inner);
    w.EndMessage(v2);
    w.EndMessage(a);
  });
  add("kvlist", [&] {
    auto l = w.BeginMessage(6);
    auto kv = w.BeginMessage(1);
    w.StringField(1, "inner");
    auto v = w.BeginMessage(2);
    w.DoubleField(4, 1.5, Presence::kExplicit);
    w.EndMessage(v);
    w.EndMessage(kv);
    w.EndMessage(l);
  });
  w.VarintField(10, 3);
  auto status = w.BeginMessage(15);  // present but empty
  w.EndMessage(status);
  w.Fixed32Field(16, 0xFFFFFFFFu);
  w.EndMessage(span);
  w.EndMessage(ss);
  w.EndMessage(rs);

  const std::string text = TraceRequestToJson(w.view());
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(Decode(text), w.view()) << text;
}

TEST(OtlpJsonDecodeTest, EmptyRequests) {
  EXPECT_EQ(Decode("{}"), "");
  EXPECT_EQ(Decode(R"({"resourceSpans":[]})"), "");
  EXPECT_EQ(Decode(" { \"resourceSpans\" : null } "), "");
  // An empty ResourceSpans is a present, empty message.
  EXPECT_EQ(Decode(R"({"resourceSpans":[{}]})"), std::string("\x0a\x00", 2));
}

TEST(OtlpJsonDecodeTest, AcceptsSnakeCaseKeysAsTheCollectorDoes) {
  const std::string protobuf = EncodedRequest();
  std::string text = TraceRequestToJson(protobuf);
  for (auto [camel, snake] : std::vector<std::pair<std::string_view, std::string_view>>{
           {"resourceSpans", "resource_spans"},
           {"scopeSpans", "scope_spans"},
           {"traceId", "trace_id"},
           {"spanId", "span_id"},
           {"parentSpanId", "parent_span_id"},
           {"startTimeUnixNano", "start_time_unix_nano"},
           {"endTimeUnixNano", "end_time_unix_nano"},
           {"timeUnixNano", "time_unix_nano"},
           {"stringValue", "string_value"},
           {"intValue", "int_value"},
           {"traceState", "trace_state"},
           {"schemaUrl", "schema_url"}}) {
    text = ReplaceAll(text, "\"" + std::string(camel) + "\"", "\"" + std::string(snake) + "\"");
  }
  ASSERT_NE(text.find("resource_spans"), std::string::npos);
  EXPECT_EQ(Decode(text), protobuf);
}

TEST(OtlpJsonDecodeTest, UnknownKeysAreIgnoredWhateverTheirValue) {
  const std::string protobuf = EncodedRequest();
  std::string text = TraceRequestToJson(protobuf);
  // Unknown keys at the top, in a span (before and after known ones) and in
  // an attribute value, holding scalars, nested objects and arrays.
  text = ReplaceAll(text, "{\"resourceSpans\":",
                    R"({"future":{"a":[1,{"b":[[],{}]}],"c":null},"resourceSpans":)");
  text =
      ReplaceAll(text, "{\"traceId\":", R"({"newField":[{"traceId":"zz"}],"kind2":"x","traceId":)");
  text = ReplaceAll(text, "\"name\":\"GET\"", R"("name":"GET","extra":{"deep":[[[[1]]]]},"n":1.5)");
  text = ReplaceAll(text, "{\"stringValue\":\"GET\"}", R"({"stringValue":"GET","x":true})");
  EXPECT_EQ(Decode(text), protobuf);
}

TEST(OtlpJsonDecodeTest, LenientFormsOfNumbersEnumsAndIds) {
  const std::string text = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{
      "traceId":"5B8EFFF798038103D269B633813FC60C",
      "spanId":"EEE19B7EC3C1B174",
      "parentSpanId":"",
      "kind":"SPAN_KIND_CLIENT",
      "startTimeUnixNano":1700000000000000000,
      "endTimeUnixNano":"1700000000000000001",
      "droppedAttributesCount":"7",
      "flags":"257",
      "attributes":[
        {"key":"i","value":{"intValue":-5}},
        {"key":"j","value":{"intValue":"-6"}},
        {"key":"k","value":{"intValue":1e3}},
        {"key":"d","value":{"doubleValue":"2.5"}},
        {"key":"e","value":{"doubleValue":3}},
        {"key":"b","value":{"bytesValue":"-_8"}}],
      "status":{"code":"STATUS_CODE_ERROR","message":null}}]}]}]})";
  const std::string expected_json =
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"5b8efff798038103d269b633813fc60c",)"
      R"("spanId":"eee19b7ec3c1b174","kind":3,"startTimeUnixNano":"1700000000000000000",)"
      R"("endTimeUnixNano":"1700000000000000001","attributes":[)"
      R"({"key":"i","value":{"intValue":"-5"}},{"key":"j","value":{"intValue":"-6"}},)"
      R"({"key":"k","value":{"intValue":"1000"}},{"key":"d","value":{"doubleValue":2.5}},)"
      R"({"key":"e","value":{"doubleValue":3}},{"key":"b","value":{"bytesValue":"+/8="}}],)"
      R"("droppedAttributesCount":7,"status":{"code":2},"flags":257}]}]}]})";
  EXPECT_EQ(TraceRequestToJson(Decode(text)), expected_json);
}

TEST(OtlpJsonDecodeTest, DefaultsAreOmittedExceptInsideAnyValue) {
  // As an encoder omits proto3 defaults: kind 0, empty strings, zero counts.
  const std::string text = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{
      "traceId":"00000000000000000000000000000001","spanId":"0000000000000001",
      "name":"","kind":0,"droppedAttributesCount":0,"flags":0,"startTimeUnixNano":"0",
      "attributes":[{"key":"z","value":{"intValue":"0"}}]}]}]}]})";
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  auto span = w.BeginMessage(2);
  w.BytesField(1, std::string(15, '\0') + '\x01');
  w.BytesField(2, std::string(7, '\0') + '\x01');
  auto kv = w.BeginMessage(9);
  w.StringField(1, "z");
  auto v = w.BeginMessage(2);
  w.Int64Field(3, 0, Presence::kExplicit);
  w.EndMessage(v);
  w.EndMessage(kv);
  w.EndMessage(span);
  w.EndMessage(ss);
  w.EndMessage(rs);
  EXPECT_EQ(Decode(text), w.view());
}

TEST(OtlpJsonDecodeTest, TheOpenTelemetryJsSdkShape) {
  // As @opentelemetry/otlp-transformer 0.212's JsonTraceSerializer writes it:
  // explicit zero counts, an empty links array, intValue as a JSON number,
  // event fields out of proto order.
  const std::string text =
      R"({"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":)"
      R"({"stringValue":"shop"}}],"droppedAttributesCount":0},"scopeSpans":[{"scope":)"
      R"({"name":"demo","version":"1.2.3"},"spans":[{"traceId":"21331516be9c97130d5ec92592d65642",)"
      R"("spanId":"bc06b0e3165b20c4","name":"GET /items","kind":2,"startTimeUnixNano":)"
      R"("1796580172247000000","endTimeUnixNano":"1796580172247326014","attributes":[{"key":)"
      R"("http.method","value":{"stringValue":"GET"}},{"key":"n","value":{"intValue":3}},)"
      R"({"key":"arr","value":{"arrayValue":{"values":[{"stringValue":"a"},{"stringValue":"b"}]}}}],)"
      R"("droppedAttributesCount":0,"events":[{"attributes":[{"key":"x","value":{"intValue":1}}],)"
      R"("name":"ev","timeUnixNano":"1796580172247257573","droppedAttributesCount":0}],)"
      R"("droppedEventsCount":0,"status":{"code":2,"message":"boom"},"links":[],)"
      R"("droppedLinksCount":0,"flags":257}]}]}]})";
  const json back = json::parse(TraceRequestToJson(Decode(text)));
  const json& span = back["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(back["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "shop");
  EXPECT_EQ(back["resourceSpans"][0]["scopeSpans"][0]["scope"]["version"], "1.2.3");
  EXPECT_EQ(span["traceId"], "21331516be9c97130d5ec92592d65642");
  EXPECT_EQ(span["spanId"], "bc06b0e3165b20c4");
  EXPECT_EQ(span["kind"], 2);
  EXPECT_EQ(span["endTimeUnixNano"], "1796580172247326014");
  EXPECT_EQ(span["attributes"][1]["value"]["intValue"], "3");
  EXPECT_EQ(span["attributes"][2]["value"]["arrayValue"]["values"][1]["stringValue"], "b");
  EXPECT_EQ(span["events"][0]["timeUnixNano"], "1796580172247257573");
  EXPECT_EQ(span["events"][0]["attributes"][0]["key"], "x");
  EXPECT_EQ(span["status"], json::parse(R"({"message":"boom","code":2})"));
  EXPECT_EQ(span["flags"], 257);
  EXPECT_FALSE(span.contains("links"));  // an empty array writes nothing
  EXPECT_FALSE(span.contains("droppedAttributesCount"));
}

TEST(OtlpJsonDecodeTest, MalformedInputSaysWhatAndWhere) {
  const std::string span_prefix = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"name":"a"},{)";
  const std::string span_suffix = "}]}]}]}";
  auto in_span = [&](std::string_view fields) {
    return span_prefix + std::string(fields) + span_suffix;
  };
  struct Case {
    std::string text;
    std::string expected;  // a substring of the error
  };
  const Case cases[] = {
      {"", "invalid JSON"},
      {"{", "invalid JSON"},
      {"{\"resourceSpans\":[]} x", "invalid JSON"},
      {"{\"a\":\"\xFF\"}", "invalid JSON"},  // not UTF-8
      {"[]", "must be a JSON object"},
      {"42", "must be a JSON object"},
      {"null", "must be a JSON object"},
      {R"({"resourceSpans":{}})", "resourceSpans: expected an array, got an object"},
      {R"({"resourceSpans":[1]})", "resourceSpans[0]: expected an object, got 1"},
      {R"({"resourceSpans":[[]]})", "resourceSpans[0]: expected an object, got an array"},
      {R"({"resourceSpans":[null]})", "resourceSpans[0]: null inside an array"},
      {R"({"resourceSpans":[{"scopeSpans":[{"spans":"x"}]}]})",
       "resourceSpans[0].scopeSpans[0].spans: expected an array, got \"x\""},
      {in_span(R"("traceId":"xyz0")"),
       "resourceSpans[0].scopeSpans[0].spans[1].traceId: expected a hex string, got \"xyz0\""},
      {in_span(R"("spanId":"abc")"), "spans[1].spanId: expected a hex string"},
      {in_span(R"("traceId":5)"), "traceId: expected a hex string, got 5"},
      {in_span(R"("kind":"SPAN_KIND_BOGUS")"), "kind: expected an enum integer"},
      {in_span(R"("kind":2147483648)"), "kind: expected an enum integer, got 2147483648"},
      {in_span(R"("kind":true)"), "kind: expected an enum integer, got true"},
      {in_span(R"("startTimeUnixNano":-1)"), "startTimeUnixNano: expected an unsigned 64-bit"},
      {in_span(R"("startTimeUnixNano":"12x")"), "startTimeUnixNano: expected an unsigned 64-bit"},
      {in_span(R"("startTimeUnixNano":"18446744073709551616")"), "startTimeUnixNano"},
      {in_span(R"("startTimeUnixNano":1.5)"), "startTimeUnixNano: expected an unsigned 64-bit"},
      {in_span(R"("flags":4294967296)"), "flags: expected an unsigned 32-bit integer"},
      {in_span(R"("droppedAttributesCount":-1)"), "droppedAttributesCount"},
      {in_span(R"("name":1)"), "spans[1].name: expected a string, got 1"},
      {in_span(R"("name":{})"), "spans[1].name: expected a string, got an object"},
      {in_span(R"("status":"ok")"), "spans[1].status: expected an object, got \"ok\""},
      {in_span(R"("status":{"code":"OK"})"), "spans[1].status.code: expected an enum integer"},
      {in_span(R"("attributes":[{"key":"k","value":{"intValue":"9223372036854775808"}}])"),
       "spans[1].attributes[0].value.intValue: expected a 64-bit integer"},
      {in_span(R"("attributes":[{"key":"k","value":{"intValue":1e19}}])"), "intValue"},
      {in_span(R"("attributes":[{"key":"k","value":{"boolValue":"true"}}])"),
       "boolValue: expected true or false"},
      {in_span(R"("attributes":[{"key":"k","value":{"doubleValue":"abc"}}])"),
       "doubleValue: expected a number, got \"abc\""},
      {in_span(R"("attributes":[{"key":"k","value":{"doubleValue":"nan"}}])"), "doubleValue"},
      {in_span(R"("attributes":[{"key":"k","value":{"bytesValue":"a"}}])"),
       "bytesValue: expected a base64 string"},
      {in_span(R"("attributes":[{"key":"k","value":{"bytesValue":"ab=c"}}])"), "bytesValue"},
      {in_span(R"("attributes":[{"key":"k","value":{"arrayValue":{"values":[1]}}}])"),
       "attributes[0].value.arrayValue.values[0]: expected an object, got 1"},
      {in_span(R"("events":[{"name":"e"},{"timeUnixNano":"x"}])"),
       "spans[1].events[1].timeUnixNano: expected an unsigned 64-bit integer, got \"x\""},
      {in_span(R"("links":[{"traceId":"0g"}])"), "spans[1].links[0].traceId: expected a hex"},
  };
  for (const Case& c : cases) {
    const std::string error = DecodeError(c.text);
    EXPECT_NE(error.find(c.expected), std::string::npos)
        << "input: " << c.text << "\nerror: " << error << "\nexpected: " << c.expected;
  }
}

TEST(OtlpJsonDecodeTest, LongValuesAreCutInErrors) {
  const std::string text = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" +
                           std::string(10000, 'x') + "\"}]}]}]}";
  const std::string error = DecodeError(text);
  EXPECT_LT(error.size(), 200u) << error;
}

// `levels` nested AnyValue arrays inside one attribute of one span.
std::string NestedArrays(int levels) {
  std::string open, close;
  for (int i = 0; i < levels; ++i) {
    open += R"({"arrayValue":{"values":[)";
    close += "]}}";
  }
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":)" + open +
         R"({"intValue":"1"})" + close + "}]}]}]}]}";
}

TEST(OtlpJsonDecodeTest, NestingIsCappedAtTheTranscodersDepth) {
  // ResourceSpans(1) ScopeSpans(2) Span(3) KeyValue(4) AnyValue(5), then two
  // messages per level (ArrayValue, AnyValue): 5 + 2*29 = 63 fits, 31 levels
  // (67) do not.
  const std::string ok = Decode(NestedArrays(29));
  EXPECT_FALSE(TraceRequestToJson(ok).empty()) << "the transcoder takes what we accept";
  EXPECT_NE(DecodeError(NestedArrays(31)).find("nested too deeply"), std::string::npos);
  // Far deeper input is refused without exhausting the stack.
  EXPECT_NE(DecodeError(NestedArrays(100000)).find("nested too deeply"), std::string::npos);
  // Deep junk under an unknown key costs nothing and is skipped.
  EXPECT_EQ(Decode(R"({"junk":)" + std::string(100000, '[') + std::string(100000, ']') + "}"), "");
}

TEST(OtlpJsonDecodeTest, AppendsToTheOutput) {
  std::string out = "prefix", error;
  ASSERT_TRUE(TraceRequestJsonToProtobuf(R"({"resourceSpans":[{}]})", out, error)) << error;
  EXPECT_EQ(out, std::string("prefix\x0a\x00", 8));
}

}  // namespace
}  // namespace stampede::otel
