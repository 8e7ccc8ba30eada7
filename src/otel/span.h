// The span model: what stampede hands to the OTLP encoder. Plain views over
// caller-owned data, so that building a span allocates nothing; the encoder
// copies what it needs into protobuf bytes. Field meanings follow
// opentelemetry-proto trace.proto (see ../shared/reference/otel-spec.md §6).
// Any thread; no synchronisation inside.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace stampede::otel {

struct TraceId {
  std::array<uint8_t, 16> bytes{};
  bool valid() const {
    for (uint8_t b : bytes) if (b != 0) return true;
    return false;
  }
  friend bool operator==(const TraceId&, const TraceId&) = default;
};

struct SpanId {
  std::array<uint8_t, 8> bytes{};
  bool valid() const {
    for (uint8_t b : bytes) if (b != 0) return true;
    return false;
  }
  friend bool operator==(const SpanId&, const SpanId&) = default;
};

// OTLP Span.SpanKind values.
enum class SpanKind : uint8_t {
  kUnspecified = 0,
  kInternal = 1,
  kServer = 2,
  kClient = 3,
  kProducer = 4,
  kConsumer = 5,
};

// OTLP Status.StatusCode values.
enum class StatusCode : uint8_t { kUnset = 0, kOk = 1, kError = 2 };

// An attribute value (OTLP AnyValue, scalar kinds only). Views must outlive
// the encoding call.
struct AnyValue {
  enum class Type : uint8_t { kString, kBool, kInt, kDouble };
  Type type = Type::kString;
  std::string_view s;
  int64_t i = 0;
  double d = 0;
  bool b = false;

  static AnyValue String(std::string_view v) {
    AnyValue a;
    a.s = v;
    return a;
  }
  static AnyValue Int(int64_t v) {
    AnyValue a;
    a.type = Type::kInt;
    a.i = v;
    return a;
  }
  static AnyValue Double(double v) {
    AnyValue a;
    a.type = Type::kDouble;
    a.d = v;
    return a;
  }
  static AnyValue Bool(bool v) {
    AnyValue a;
    a.type = Type::kBool;
    a.b = v;
    return a;
  }
};

struct KeyValue {
  std::string_view key;
  AnyValue value;
};

struct SpanEvent {
  int64_t time_unix_ns = 0;
  std::string_view name;
  std::span<const KeyValue> attributes;
};

struct SpanLink {
  TraceId trace_id;
  SpanId span_id;
  std::string_view trace_state;
  uint32_t flags = 0;
  std::span<const KeyValue> attributes;
};

// One span, as views. Times are Unix epoch nanoseconds (core::WallAnchor).
struct SpanData {
  TraceId trace_id;
  SpanId span_id;
  SpanId parent_span_id;          // all zero: a root span
  std::string_view trace_state;
  uint32_t flags = 0;             // W3C trace flags (low 8 bits) in Span.flags
  std::string_view name;
  SpanKind kind = SpanKind::kInternal;
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  std::span<const KeyValue> attributes;
  std::span<const SpanEvent> events;
  std::span<const SpanLink> links;
  StatusCode status = StatusCode::kUnset;
  std::string_view status_message;
};

}  // namespace stampede::otel
