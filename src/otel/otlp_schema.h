// The OTLP messages stampede reads and writes, described once: the trace
// request (trace_service.proto, trace.proto, common.proto, resource.proto)
// and the metrics request (metrics_service.proto, metrics.proto), as
// opentelemetry-proto defines them (otel-spec.md §6). Private to
// stampede_otel; its readers are the protobuf -> OTLP/JSON transcoder
// (otlp_json.cc), the OTLP/JSON -> protobuf decoder (otlp_json_decode.cc) and
// the receiver's request check (otlp_receiver.cc), so what one of them
// accepts the others accept too.
//
// For each message, Fields() lists its fields in proto field order: number,
// names (lowerCamelCase for OTLP/JSON, snake_case as in the .proto), the
// field's type with its wire form and its OTLP/JSON form (Kind), whether it
// is repeated, and the child message of a message field. The tables are
// constant data: any thread may read them.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "otel/proto_writer.h"  // WireType

namespace stampede::otel::schema {

enum class Msg : uint8_t {
  // Traces.
  kRequest,  // ExportTraceServiceRequest
  kResourceSpans,
  kResource,
  kScopeSpans,
  kScope,  // InstrumentationScope
  kSpan,
  kEvent,  // Span.Event
  kLink,   // Span.Link
  kStatus,
  kKeyValue,
  kAnyValue,
  kArrayValue,
  kKeyValueList,
  // Metrics.
  kMetricsRequest,  // ExportMetricsServiceRequest
  kResourceMetrics,
  kScopeMetrics,
  kMetric,
  kGauge,
  kSum,
  kHistogram,
  kExponentialHistogram,
  kSummary,
  kNumberDataPoint,
  kHistogramDataPoint,
  kExponentialHistogramDataPoint,
  kBuckets,  // ExponentialHistogramDataPoint.Buckets
  kSummaryDataPoint,
  kValueAtQuantile,  // SummaryDataPoint.ValueAtQuantile
  kExemplar,
  kLast = kExemplar,
};

// A field's proto type: its wire type, and its form in OTLP/JSON, which
// departs from plain proto3 JSON for ids (hex) and enums (integers).
enum class Kind : uint8_t {
  kString,    // string: LEN; a JSON string
  kBytes,     // bytes: LEN; base64 (AnyValue.bytes_value)
  kTraceId,   // bytes, 16 of them: LEN; lowercase hex
  kSpanId,    // bytes, 8 of them: LEN; lowercase hex
  kBool,      // VARINT; true/false
  kEnum,      // VARINT (int32); an integer
  kInt32,     // VARINT (two's complement); a number
  kUint32,    // VARINT; a number
  kSint32,    // VARINT (zigzag); a number
  kInt64,     // VARINT (two's complement); a decimal string
  kUint64,    // VARINT; a decimal string
  kFixed32,   // I32; a number
  kFixed64,   // I64 (unsigned); a decimal string
  kSfixed64,  // I64 (signed); a decimal string
  kDouble,    // I64; a number, or "NaN" / "Infinity" / "-Infinity"
  kMessage,   // LEN; an object
};

// The enum type of a kEnum field.
enum class EnumType : uint8_t { kNone, kSpanKind, kStatusCode, kAggregationTemporality };

struct Field {
  uint32_t number;
  std::string_view json_name;   // lowerCamelCase: what OTLP/JSON writes
  std::string_view proto_name;  // snake_case: as in the .proto
  Kind kind;
  bool repeated = false;                 // repeated numeric scalars may come packed or not
  Msg message = Msg::kRequest;           // kMessage only: the child message
  EnumType enum_type = EnumType::kNone;  // kEnum only
  bool explicit_presence = false;        // oneof members, proto3 `optional`: written even when 0
  bool required = false;                 // ids a span or link must carry (trace_id, span_id)
  bool in_json = true;                   // false: Development fields only the receiver checks
};

// The fields of `m` in proto field order; at most kMaxFields of them.
std::span<const Field> Fields(Msg m);
inline constexpr size_t kMaxFields = 16;

// Messages allowed below the request (the request itself is depth 0). The
// transcoder, the JSON decoder and the receiver all stop at the same depth,
// since AnyValue nests through arrays and kvlists and hostile input must not
// overflow the stack.
inline constexpr int kMaxNesting = 64;

// The wire type of a field of kind `k` (of one element, for packed fields).
constexpr WireType WireTypeOf(Kind k) {
  switch (k) {
    case Kind::kBool:
    case Kind::kEnum:
    case Kind::kInt32:
    case Kind::kUint32:
    case Kind::kSint32:
    case Kind::kInt64:
    case Kind::kUint64:
      return WireType::kVarint;
    case Kind::kFixed32:
      return WireType::kFixed32;
    case Kind::kFixed64:
    case Kind::kSfixed64:
    case Kind::kDouble:
      return WireType::kFixed64;
    case Kind::kString:
    case Kind::kBytes:
    case Kind::kTraceId:
    case Kind::kSpanId:
    case Kind::kMessage:
      return WireType::kLengthDelimited;
  }
  return WireType::kLengthDelimited;
}

// Whether `f` is a repeated numeric field, which may come packed (one LEN)
// or one element per field.
constexpr bool IsPackable(const Field& f) {
  return f.repeated && WireTypeOf(f.kind) != WireType::kLengthDelimited;
}

// The exact length of an id field's bytes; 0 for other kinds.
constexpr size_t IdLength(Kind k) { return k == Kind::kTraceId ? 16 : k == Kind::kSpanId ? 8 : 0; }

}  // namespace stampede::otel::schema
