// Test-only fixtures: realistic spans for the encoder, JSON and decoder tests.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "otel/span.h"

namespace stampede::otel::testing {

inline TraceId MakeTraceId(uint8_t first) {
  TraceId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(first + i);
  return id;
}

inline SpanId MakeSpanId(uint8_t first) {
  SpanId id;
  for (size_t i = 0; i < id.bytes.size(); ++i) id.bytes[i] = static_cast<uint8_t>(first + i);
  return id;
}

// An HTTP CLIENT span as the engine builds it: 13 attributes of every scalar
// kind, one time-to-first-byte event with an attribute, one link, an error
// status. Views point into the object's own members, so it is neither
// copyable nor movable.
struct SampleHttpSpan {
  explicit SampleHttpSpan(uint8_t id_seed = 0x10, int64_t start_ns = 1'700'000'000'123'456'789) {
    attributes = {
        {"http.request.method", AnyValue::String("GET")},
        {"url.full", AnyValue::String("http://127.0.0.1:8080/api/items?id=42")},
        {"server.address", AnyValue::String("127.0.0.1")},
        {"server.port", AnyValue::Int(8080)},
        {"http.response.status_code", AnyValue::Int(503)},
        {"network.protocol.version", AnyValue::String("1.1")},
        {"network.peer.address", AnyValue::String("127.0.0.1")},
        {"network.peer.port", AnyValue::Int(8080)},
        {"user_agent.synthetic.type", AnyValue::String("test")},
        {"stampede.scenario", AnyValue::String("default")},
        {"stampede.vu", AnyValue::Int(17)},
        {"stampede.iteration", AnyValue::Int(0)},
        {"stampede.request.name", AnyValue::String("items")},
        {"stampede.ratio", AnyValue::Double(0.25)},
        {"stampede.expected", AnyValue::Bool(false)},
        {"stampede.offset", AnyValue::Int(-5)},
    };
    event_attributes = {{"stampede.ttfb_ns", AnyValue::Int(1'500'000)}};
    events = {{.time_unix_ns = start_ns + 1'500'000,
               .name = "http.response.first_byte",
               .attributes = event_attributes}};
    link_attributes = {{"stampede.link", AnyValue::Bool(true)}};
    links = {{.trace_id = MakeTraceId(0xA0),
              .span_id = MakeSpanId(0xB0),
              .trace_state = "vendor=x",
              .flags = 0x101,
              .attributes = link_attributes}};
    data.trace_id = MakeTraceId(id_seed);
    data.span_id = MakeSpanId(static_cast<uint8_t>(id_seed + 0x20));
    data.parent_span_id = MakeSpanId(static_cast<uint8_t>(id_seed + 0x40));
    data.trace_state = "ot=th:0";
    data.flags = 0x101;
    data.name = "GET";
    data.kind = SpanKind::kClient;
    data.start_unix_ns = start_ns;
    data.end_unix_ns = start_ns + 2'750'000;
    data.attributes = attributes;
    data.events = events;
    data.links = links;
    data.status = StatusCode::kError;
    data.status_message = "503 Service Unavailable";
  }
  SampleHttpSpan(const SampleHttpSpan&) = delete;
  SampleHttpSpan& operator=(const SampleHttpSpan&) = delete;

  std::vector<KeyValue> attributes;
  std::vector<KeyValue> event_attributes;
  std::vector<SpanEvent> events;
  std::vector<KeyValue> link_attributes;
  std::vector<SpanLink> links;
  SpanData data;
};

inline std::string HexOf(const auto& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

}  // namespace stampede::otel::testing
