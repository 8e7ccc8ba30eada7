#include "otel/otlp_encoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "otel/proto_reader.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using testing::MakeSpanId;
using testing::MakeTraceId;
using testing::SampleHttpSpan;

std::string Bytes(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s += static_cast<char>(b);
  return s;
}

std::string Raw(const auto& array) {
  return std::string(reinterpret_cast<const char*>(array.data()), array.size());
}

std::string Fixed64(uint64_t v) {
  std::string s;
  for (int i = 0; i < 8; ++i) s += static_cast<char>(v >> (8 * i));
  return s;
}

// --- A test-side decoder built on ProtoReader: recovers every field. --------

struct DecodedValue {
  int which = 0;  // AnyValue field number
  std::string s;
  int64_t i = 0;
  double d = 0;
  bool b = false;
};
struct DecodedKeyValue {
  std::string key;
  DecodedValue value;
};
struct DecodedEvent {
  uint64_t time = 0;
  std::string name;
  std::vector<DecodedKeyValue> attributes;
};
struct DecodedLink {
  std::string trace_id, span_id, trace_state;
  uint32_t flags = 0;
  std::vector<DecodedKeyValue> attributes;
};
struct DecodedSpan {
  std::string trace_id, span_id, trace_state, parent_span_id, name;
  bool has_parent = false;
  uint64_t kind = 0, start = 0, end = 0;
  uint32_t flags = 0;
  std::vector<DecodedKeyValue> attributes;
  std::vector<DecodedEvent> events;
  std::vector<DecodedLink> links;
  bool has_status = false;
  std::string status_message;
  uint64_t status_code = 0;
  std::vector<uint32_t> field_order;
};

DecodedValue DecodeAnyValue(std::string_view bytes) {
  DecodedValue v;
  ProtoReader r(bytes);
  ProtoField f;
  int fields = 0;
  while (r.Next(f)) {
    ++fields;
    v.which = static_cast<int>(f.number);
    switch (f.number) {
      case 1:
        EXPECT_EQ(f.wire_type, WireType::kLengthDelimited);
        v.s = f.bytes;
        break;
      case 2:
        EXPECT_EQ(f.wire_type, WireType::kVarint);
        v.b = f.AsBool();
        break;
      case 3:
        EXPECT_EQ(f.wire_type, WireType::kVarint);
        v.i = f.AsInt64();
        break;
      case 4:
        EXPECT_EQ(f.wire_type, WireType::kFixed64);
        v.d = f.AsDouble();
        break;
      default:
        ADD_FAILURE() << "AnyValue field " << f.number;
    }
  }
  EXPECT_TRUE(r.done());
  EXPECT_EQ(fields, 1) << "exactly one oneof member";
  return v;
}

DecodedKeyValue DecodeKeyValue(std::string_view bytes) {
  DecodedKeyValue kv;
  ProtoReader r(bytes);
  ProtoField f;
  while (r.Next(f)) {
    EXPECT_EQ(f.wire_type, WireType::kLengthDelimited);
    if (f.number == 1)
      kv.key = f.bytes;
    else if (f.number == 2)
      kv.value = DecodeAnyValue(f.bytes);
    else
      ADD_FAILURE() << "KeyValue field " << f.number;
  }
  EXPECT_TRUE(r.done());
  return kv;
}

DecodedSpan DecodeSpan(std::string_view bytes) {
  DecodedSpan s;
  ProtoReader r(bytes);
  ProtoField f;
  while (r.Next(f)) {
    s.field_order.push_back(f.number);
    switch (f.number) {
      case 1:
        s.trace_id = f.bytes;
        break;
      case 2:
        s.span_id = f.bytes;
        break;
      case 3:
        s.trace_state = f.bytes;
        break;
      case 4:
        s.parent_span_id = f.bytes;
        s.has_parent = true;
        break;
      case 5:
        s.name = f.bytes;
        break;
      case 6:
        EXPECT_EQ(f.wire_type, WireType::kVarint);
        s.kind = f.value;
        break;
      case 7:
        EXPECT_EQ(f.wire_type, WireType::kFixed64);
        s.start = f.value;
        break;
      case 8:
        EXPECT_EQ(f.wire_type, WireType::kFixed64);
        s.end = f.value;
        break;
      case 9:
        s.attributes.push_back(DecodeKeyValue(f.bytes));
        break;
      case 11: {
        DecodedEvent e;
        ProtoReader er(f.bytes);
        ProtoField g;
        while (er.Next(g)) {
          if (g.number == 1) {
            EXPECT_EQ(g.wire_type, WireType::kFixed64);
            e.time = g.value;
          } else if (g.number == 2)
            e.name = g.bytes;
          else if (g.number == 3)
            e.attributes.push_back(DecodeKeyValue(g.bytes));
          else
            ADD_FAILURE() << "Event field " << g.number;
        }
        EXPECT_TRUE(er.done());
        s.events.push_back(e);
        break;
      }
      case 13: {
        DecodedLink l;
        ProtoReader lr(f.bytes);
        ProtoField g;
        while (lr.Next(g)) {
          if (g.number == 1)
            l.trace_id = g.bytes;
          else if (g.number == 2)
            l.span_id = g.bytes;
          else if (g.number == 3)
            l.trace_state = g.bytes;
          else if (g.number == 4)
            l.attributes.push_back(DecodeKeyValue(g.bytes));
          else if (g.number == 6) {
            EXPECT_EQ(g.wire_type, WireType::kFixed32);
            l.flags = static_cast<uint32_t>(g.value);
          } else
            ADD_FAILURE() << "Link field " << g.number;
        }
        EXPECT_TRUE(lr.done());
        s.links.push_back(l);
        break;
      }
      case 15: {
        s.has_status = true;
        ProtoReader sr(f.bytes);
        ProtoField g;
        while (sr.Next(g)) {
          if (g.number == 2)
            s.status_message = g.bytes;
          else if (g.number == 3)
            s.status_code = g.value;
          else
            ADD_FAILURE() << "Status field " << g.number;
        }
        EXPECT_TRUE(sr.done());
        break;
      }
      case 16:
        EXPECT_EQ(f.wire_type, WireType::kFixed32);
        s.flags = static_cast<uint32_t>(f.value);
        break;
      default:
        ADD_FAILURE() << "Span field " << f.number;
    }
  }
  EXPECT_TRUE(r.done());
  return s;
}

// Splits concatenated `ScopeSpans.spans` fields into Span bodies.
std::vector<std::string_view> SpanBodies(std::string_view chunk) {
  std::vector<std::string_view> bodies;
  ProtoReader r(chunk);
  ProtoField f;
  while (r.Next(f)) {
    EXPECT_EQ(f.number, kScopeSpansSpansField);
    EXPECT_EQ(f.wire_type, WireType::kLengthDelimited);
    bodies.push_back(f.bytes);
  }
  EXPECT_TRUE(r.done());
  return bodies;
}

void ExpectAttributesEqual(const std::vector<DecodedKeyValue>& got,
                           std::span<const KeyValue> want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE(std::string(want[i].key));
    EXPECT_EQ(got[i].key, want[i].key);
    const AnyValue& v = want[i].value;
    switch (v.type) {
      case AnyValue::Type::kString:
        EXPECT_EQ(got[i].value.which, 1);
        EXPECT_EQ(got[i].value.s, v.s);
        break;
      case AnyValue::Type::kBool:
        EXPECT_EQ(got[i].value.which, 2);
        EXPECT_EQ(got[i].value.b, v.b);
        break;
      case AnyValue::Type::kInt:
        EXPECT_EQ(got[i].value.which, 3);
        EXPECT_EQ(got[i].value.i, v.i);
        break;
      case AnyValue::Type::kDouble:
        EXPECT_EQ(got[i].value.which, 4);
        EXPECT_EQ(got[i].value.d, v.d);
        break;
    }
  }
}

// --- Golden bytes ------------------------------------------------------------

TEST(OtlpEncoderTest, MinimalSpanGolden) {
  SpanData s;
  s.trace_id = MakeTraceId(0x01);  // 01..10
  s.span_id = MakeSpanId(0x11);    // 11..18
  s.name = "a";
  s.kind = SpanKind::kClient;
  s.start_unix_ns = 1;
  s.end_unix_ns = 2;
  ProtoWriter w;
  const size_t n = EncodeSpan(s, w);

  const std::string body = Bytes({0x0A, 0x10}) + Raw(s.trace_id.bytes) +  // trace_id
                           Bytes({0x12, 0x08}) + Raw(s.span_id.bytes) +   // span_id
                           Bytes({0x2A, 0x01, 'a'}) +                     // name
                           Bytes({0x30, 0x03}) +                          // kind CLIENT
                           Bytes({0x39}) + Fixed64(1) +                   // start
                           Bytes({0x41}) + Fixed64(2);                    // end
  ASSERT_EQ(body.size(), 0x33u);
  EXPECT_EQ(w.view(), Bytes({0x12, 0x33}) + body);
  EXPECT_EQ(n, w.size());
}

TEST(OtlpEncoderTest, ParentFlagsStatusAndAttributesGolden) {
  const KeyValue attributes[] = {
      {"k", AnyValue::String("v")}, {"b", AnyValue::Bool(true)},
      {"i", AnyValue::Int(0)},  // oneof: written although 0
      {"n", AnyValue::Int(-1)},     {"d", AnyValue::Double(1.5)},
      {"e", AnyValue::String("")},  // oneof: written although empty
  };
  SpanData s;
  s.trace_id = MakeTraceId(0x01);
  s.span_id = MakeSpanId(0x11);
  s.parent_span_id = MakeSpanId(0x21);
  s.trace_state = "x=1";
  s.kind = SpanKind::kInternal;
  s.attributes = attributes;
  s.status = StatusCode::kError;
  s.status_message = "boom";
  s.flags = 0x101;
  ProtoWriter w;
  EncodeSpan(s, w);

  const std::string body =
      Bytes({0x0A, 0x10}) + Raw(s.trace_id.bytes) + Bytes({0x12, 0x08}) + Raw(s.span_id.bytes) +
      Bytes({0x1A, 0x03}) + "x=1" +                        // trace_state
      Bytes({0x22, 0x08}) + Raw(s.parent_span_id.bytes) +  // parent_span_id
      Bytes({0x30, 0x01}) +                                // kind INTERNAL
      Bytes({0x4A, 0x08, 0x0A, 0x01, 'k', 0x12, 0x03, 0x0A, 0x01, 'v'}) +
      Bytes({0x4A, 0x07, 0x0A, 0x01, 'b', 0x12, 0x02, 0x10, 0x01}) +
      Bytes({0x4A, 0x07, 0x0A, 0x01, 'i', 0x12, 0x02, 0x18, 0x00}) +
      Bytes({0x4A, 0x10, 0x0A, 0x01, 'n', 0x12, 0x0B, 0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
             0xFF, 0xFF, 0xFF, 0x01}) +
      Bytes({0x4A, 0x0E, 0x0A, 0x01, 'd', 0x12, 0x09, 0x21, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F}) +
      Bytes({0x4A, 0x07, 0x0A, 0x01, 'e', 0x12, 0x02, 0x0A, 0x00}) +
      Bytes({0x7A, 0x08, 0x12, 0x04, 'b', 'o', 'o', 'm', 0x18, 0x02}) +  // status
      Bytes({0x85, 0x01, 0x01, 0x01, 0x00, 0x00});                       // flags
  ASSERT_EQ(body.size(), 132u);  // > 127: a two-byte length, 0x84 0x01
  EXPECT_EQ(w.view(), Bytes({0x12, 0x84, 0x01}) + body);
}

TEST(OtlpEncoderTest, EventAndLinkGolden) {
  const KeyValue attr[] = {{"a", AnyValue::Int(1)}};
  const SpanEvent events[] = {{.time_unix_ns = 3, .name = "e", .attributes = attr}};
  const SpanLink links[] = {{.trace_id = MakeTraceId(0x31),
                             .span_id = MakeSpanId(0x41),
                             .trace_state = {},
                             .flags = 1,
                             .attributes = attr}};
  SpanData s;
  s.trace_id = MakeTraceId(0x01);
  s.span_id = MakeSpanId(0x11);
  s.kind = SpanKind::kUnspecified;  // default: omitted
  s.events = events;
  s.links = links;
  ProtoWriter w;
  EncodeSpan(s, w);

  const std::string kv = Bytes({0x0A, 0x01, 'a', 0x12, 0x02, 0x18, 0x01});
  const std::string event = Bytes({0x09}) + Fixed64(3) + Bytes({0x12, 0x01, 'e', 0x1A, 0x07}) + kv;
  const std::string link = Bytes({0x0A, 0x10}) + Raw(links[0].trace_id.bytes) +
                           Bytes({0x12, 0x08}) + Raw(links[0].span_id.bytes) + Bytes({0x22, 0x07}) +
                           kv + Bytes({0x35, 0x01, 0x00, 0x00, 0x00});
  const std::string body = Bytes({0x0A, 0x10}) + Raw(s.trace_id.bytes) + Bytes({0x12, 0x08}) +
                           Raw(s.span_id.bytes) + Bytes({0x5A, static_cast<int>(event.size())}) +
                           event + Bytes({0x6A, static_cast<int>(link.size())}) + link;
  EXPECT_EQ(w.view(), Bytes({0x12, static_cast<int>(body.size())}) + body);
}

TEST(OtlpEncoderTest, ExportRequestGolden) {
  const KeyValue resource[] = {{"service.name", AnyValue::String("s")}};
  const ExportRequestHeader header{
      .resource_attributes = resource, .scope_name = "x", .scope_version = "1"};
  const std::string empty_span = Bytes({0x12, 0x00});
  const std::string_view chunks[] = {empty_span};
  ProtoWriter w;
  const size_t n = EncodeExportTraceRequest(header, chunks, w);
  const std::string want =
      Bytes({0x0A, 0x23,  // resource_spans, 35 bytes
             0x0A, 0x15,  //   resource, 21 bytes
             0x0A, 0x13,  //     attributes, 19 bytes
             0x0A, 0x0C}) +
      "service.name" +                                      //       key
      Bytes({0x12, 0x03, 0x0A, 0x01, 's',                   //       value
             0x12, 0x0A,                                    //   scope_spans, 10 bytes
             0x0A, 0x06, 0x0A, 0x01, 'x', 0x12, 0x01, '1',  // scope {name, version}
             0x12, 0x00});                                  //     spans
  EXPECT_EQ(w.view(), want);
  EXPECT_EQ(n, want.size());
  EXPECT_EQ(ExportTraceRequestSize(header, 2), want.size());
}

TEST(OtlpEncoderTest, EmptyRequestHasNoBytes) {
  const ExportRequestHeader header{.scope_name = "x"};
  ProtoWriter w;
  EXPECT_EQ(EncodeExportTraceRequest(header, {}, w), 0u);
  const std::string_view empty_chunks[] = {"", ""};
  EXPECT_EQ(EncodeExportTraceRequest(header, empty_chunks, w), 0u);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(ExportTraceRequestSize(header, 0), 0u);
}

// --- Round trip ----------------------------------------------------------------

TEST(OtlpEncoderTest, RoundTripRecoversEveryField) {
  SampleHttpSpan sample;
  const SpanData& want = sample.data;
  ProtoWriter w;
  w.AppendRaw("prefix");  // EncodeSpan appends; it does not own the buffer
  const size_t n = EncodeSpan(want, w);
  EXPECT_EQ(n, w.size() - 6);
  const auto bodies = SpanBodies(w.view().substr(6));
  ASSERT_EQ(bodies.size(), 1u);
  const DecodedSpan got = DecodeSpan(bodies[0]);

  EXPECT_EQ(got.trace_id, Raw(want.trace_id.bytes));
  EXPECT_EQ(got.span_id, Raw(want.span_id.bytes));
  EXPECT_TRUE(got.has_parent);
  EXPECT_EQ(got.parent_span_id, Raw(want.parent_span_id.bytes));
  EXPECT_EQ(got.trace_state, want.trace_state);
  EXPECT_EQ(got.name, want.name);
  EXPECT_EQ(got.kind, 3u);
  EXPECT_EQ(got.start, static_cast<uint64_t>(want.start_unix_ns));
  EXPECT_EQ(got.end, static_cast<uint64_t>(want.end_unix_ns));
  EXPECT_EQ(got.flags, 0x101u);
  ExpectAttributesEqual(got.attributes, want.attributes);
  ASSERT_EQ(got.events.size(), 1u);
  EXPECT_EQ(got.events[0].time, static_cast<uint64_t>(want.events[0].time_unix_ns));
  EXPECT_EQ(got.events[0].name, want.events[0].name);
  ExpectAttributesEqual(got.events[0].attributes, want.events[0].attributes);
  ASSERT_EQ(got.links.size(), 1u);
  EXPECT_EQ(got.links[0].trace_id, Raw(want.links[0].trace_id.bytes));
  EXPECT_EQ(got.links[0].span_id, Raw(want.links[0].span_id.bytes));
  EXPECT_EQ(got.links[0].trace_state, want.links[0].trace_state);
  EXPECT_EQ(got.links[0].flags, want.links[0].flags);
  ExpectAttributesEqual(got.links[0].attributes, want.links[0].attributes);
  EXPECT_TRUE(got.has_status);
  EXPECT_EQ(got.status_code, 2u);
  EXPECT_EQ(got.status_message, want.status_message);
  // Fields come in field-number order, as protobuf serializers write them.
  EXPECT_TRUE(std::is_sorted(got.field_order.begin(), got.field_order.end()));
}

TEST(OtlpEncoderTest, RootSpanOmitsParentAndUnsetStatus) {
  SampleHttpSpan sample;
  sample.data.parent_span_id = SpanId{};
  sample.data.status = StatusCode::kUnset;
  sample.data.status_message = {};
  sample.data.flags = 0;
  sample.data.trace_state = {};
  ProtoWriter w;
  EncodeSpan(sample.data, w);
  const DecodedSpan got = DecodeSpan(SpanBodies(w.view())[0]);
  EXPECT_FALSE(got.has_parent);
  EXPECT_FALSE(got.has_status);
  EXPECT_EQ(got.flags, 0u);
  for (uint32_t field : got.field_order) {
    EXPECT_NE(field, 3u);
    EXPECT_NE(field, 4u);
    EXPECT_NE(field, 15u);
    EXPECT_NE(field, 16u);
  }
}

class BigAttributeTest : public ::testing::TestWithParam<size_t> {};

TEST_P(BigAttributeTest, LengthsAreBackPatchedAtEveryLevel) {
  const std::string big(GetParam(), 'q');
  SampleHttpSpan sample;
  sample.attributes[1].value = AnyValue::String(big);  // url.full
  sample.event_attributes[0] = {"big", AnyValue::String(big)};
  sample.data.attributes = sample.attributes;
  sample.events[0].attributes = sample.event_attributes;
  ProtoWriter w;
  const size_t n = EncodeSpan(sample.data, w);
  ASSERT_EQ(n, w.size());

  const auto bodies = SpanBodies(w.view());
  ASSERT_EQ(bodies.size(), 1u);
  // tag + minimal length varint + body == everything.
  EXPECT_EQ(1 + VarintSize(bodies[0].size()) + bodies[0].size(), n);
  const DecodedSpan got = DecodeSpan(bodies[0]);
  ExpectAttributesEqual(got.attributes, sample.data.attributes);
  ASSERT_EQ(got.events.size(), 1u);
  ASSERT_EQ(got.events[0].attributes.size(), 1u);
  EXPECT_EQ(got.events[0].attributes[0].value.s, big);
  EXPECT_EQ(got.links.size(), 1u);
  EXPECT_EQ(got.status_message, sample.data.status_message);

  // And inside a request.
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")},
                               {"big", AnyValue::String(big)}};
  const ExportRequestHeader header{.resource_attributes = resource, .scope_name = "stampede"};
  const std::string_view chunks[] = {w.view(), w.view()};
  ProtoWriter out;
  const size_t req = EncodeExportTraceRequest(header, chunks, out);
  EXPECT_EQ(req, out.size());
  EXPECT_EQ(req, ExportTraceRequestSize(header, 2 * n));
}

INSTANTIATE_TEST_SUITE_P(Sizes, BigAttributeTest,
                         ::testing::Values(100, 127, 128, 200, 16383, 16384, 20000, 3'000'000));

TEST(OtlpEncoderTest, RequestWrapsChunksFromSeveralWriters) {
  SampleHttpSpan a(0x10), b(0x50), c(0x90);
  ProtoWriter worker1, worker2;
  EncodeSpan(a.data, worker1);
  EncodeSpan(b.data, worker1);
  EncodeSpan(c.data, worker2);

  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")},
                               {"service.version", AnyValue::String("0.1.0")}};
  const ExportRequestHeader header{.resource_attributes = resource,
                                   .resource_schema_url = "https://opentelemetry.io/schemas/1.26.0",
                                   .scope_name = "stampede",
                                   .scope_version = "0.1.0",
                                   .scope_schema_url = "https://example/scope"};
  const std::string_view chunks[] = {worker1.view(), worker2.view()};
  ProtoWriter out;
  out.AppendRaw("xyz");
  const size_t n = EncodeExportTraceRequest(header, chunks, out);
  EXPECT_EQ(n, out.size() - 3);
  EXPECT_EQ(n, ExportTraceRequestSize(header, worker1.size() + worker2.size()));

  ProtoReader request(out.view().substr(3));
  ProtoField f;
  ASSERT_TRUE(request.Next(f));
  EXPECT_EQ(f.number, 1u);
  EXPECT_FALSE(request.Next(f));
  EXPECT_TRUE(request.done());

  ProtoReader rs(f.bytes);
  std::vector<uint32_t> rs_fields;
  std::vector<std::string> span_names;
  std::vector<std::string> trace_ids;
  ProtoField g;
  while (rs.Next(g)) {
    rs_fields.push_back(g.number);
    if (g.number == 1) {  // Resource
      ProtoReader rr(g.bytes);
      ProtoField h;
      std::vector<std::string> keys;
      while (rr.Next(h)) {
        EXPECT_EQ(h.number, 1u);
        keys.push_back(DecodeKeyValue(h.bytes).key);
      }
      EXPECT_EQ(keys, (std::vector<std::string>{"service.name", "service.version"}));
    } else if (g.number == 2) {  // ScopeSpans
      ProtoReader ss(g.bytes);
      ProtoField h;
      while (ss.Next(h)) {
        if (h.number == 1) {
          ProtoReader scope(h.bytes);
          ProtoField k;
          ASSERT_TRUE(scope.Next(k));
          EXPECT_EQ(k.number, 1u);
          EXPECT_EQ(k.bytes, "stampede");
          ASSERT_TRUE(scope.Next(k));
          EXPECT_EQ(k.number, 2u);
          EXPECT_EQ(k.bytes, "0.1.0");
          EXPECT_FALSE(scope.Next(k));
        } else if (h.number == 2) {
          const DecodedSpan s = DecodeSpan(h.bytes);
          span_names.push_back(s.name);
          trace_ids.push_back(testing::HexOf(s.trace_id));
        } else if (h.number == 3) {
          EXPECT_EQ(h.bytes, "https://example/scope");
        } else {
          ADD_FAILURE() << "ScopeSpans field " << h.number;
        }
      }
      EXPECT_TRUE(ss.done());
    } else if (g.number == 3) {
      EXPECT_EQ(g.bytes, "https://opentelemetry.io/schemas/1.26.0");
    }
  }
  EXPECT_TRUE(rs.done());
  EXPECT_EQ(rs_fields, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(span_names, (std::vector<std::string>{"GET", "GET", "GET"}));
  EXPECT_EQ(trace_ids, (std::vector<std::string>{testing::HexOf(a.data.trace_id.bytes),
                                                 testing::HexOf(b.data.trace_id.bytes),
                                                 testing::HexOf(c.data.trace_id.bytes)}));
}

TEST(OtlpEncoderTest, RequestSizeMatchesForManyHeaderShapes) {
  const std::string long_value(300, 'v');
  const KeyValue one[] = {{"k", AnyValue::Int(-3)}};
  const KeyValue big[] = {{"k", AnyValue::String(long_value)}, {"d", AnyValue::Double(2)}};
  const ExportRequestHeader headers[] = {
      {},
      {.resource_attributes = one},
      {.resource_attributes = big, .scope_name = "s", .scope_attributes = one},
      {.resource_schema_url = "u", .scope_version = "v", .scope_schema_url = "w"},
  };
  for (const ExportRequestHeader& h : headers) {
    for (size_t span_bytes : {size_t{2}, size_t{100}, size_t{20000}, size_t{1} << 22}) {
      const std::string chunk_storage(span_bytes, '\0');  // sizes only; content is opaque
      const std::string_view chunks[] = {chunk_storage};
      ProtoWriter w;
      EXPECT_EQ(EncodeExportTraceRequest(h, chunks, w), ExportTraceRequestSize(h, span_bytes));
      EXPECT_EQ(w.size(), ExportTraceRequestSize(h, span_bytes));
    }
  }
}

TEST(OtlpEncoderTest, AttributesSizeIsExact) {
  SampleHttpSpan sample;
  ProtoWriter w;
  EncodeAttributes(9, sample.attributes, w);
  EXPECT_EQ(w.size(), AttributesSize(9, sample.attributes));
  w.Clear();
  EncodeAttributes(1000, sample.attributes, w);  // two-byte tags
  EXPECT_EQ(w.size(), AttributesSize(1000, sample.attributes));
}

TEST(OtlpEncoderTest, SteadyStateEncodingDoesNotReallocate) {
  SampleHttpSpan sample;
  ProtoWriter w;
  for (int i = 0; i < 64; ++i) EncodeSpan(sample.data, w);
  const char* data = w.data();
  const size_t capacity = w.capacity();
  for (int round = 0; round < 10; ++round) {
    w.Clear();
    for (int i = 0; i < 64; ++i) EncodeSpan(sample.data, w);
  }
  EXPECT_EQ(w.data(), data);
  EXPECT_EQ(w.capacity(), capacity);
}

}  // namespace
}  // namespace stampede::otel
