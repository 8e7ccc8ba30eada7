#include "otel/otlp_json.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <span>

#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

// How a field's wire value becomes JSON.
enum class Kind : uint8_t {
  kString,          // LEN -> string
  kHexId,           // LEN -> lowercase hex (trace/span ids)
  kBase64,          // LEN -> base64 (AnyValue.bytes_value)
  kUint32,          // VARINT -> number
  kInt64String,     // VARINT -> decimal string
  kFixed64String,   // I64 -> decimal string (unsigned)
  kFixed32,         // I32 -> number
  kEnum,            // VARINT -> integer
  kBool,            // VARINT -> bool
  kDouble,          // I64 -> number, or "NaN"/"Infinity"/"-Infinity"
  kMessage,         // LEN -> object
  kSint32,          // VARINT (zigzag) -> number
  kSfixed64String,  // I64 -> decimal string (signed)
  // Repeated scalars: packed (one LEN) or not (one element per field).
  kPackedFixed64String,  // fixed64 -> decimal strings
  kPackedUint64String,   // uint64 varints -> decimal strings
  kPackedDouble,         // doubles -> numbers
};

enum class Msg : uint8_t {
  kRequest,
  kResourceSpans,
  kResource,
  kScopeSpans,
  kScope,
  kSpan,
  kEvent,
  kLink,
  kStatus,
  kKeyValue,
  kAnyValue,
  kArrayValue,
  kKeyValueList,
  // Metrics (metrics.proto, metrics_service.proto).
  kMetricsRequest,
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
  kBuckets,
  kSummaryDataPoint,
  kValueAtQuantile,
  kExemplar,
  kLast = kExemplar,
};

struct FieldSpec {
  uint32_t number;
  const char* json_name;
  Kind kind;
  bool repeated = false;
  Msg message = Msg::kRequest;  // for kMessage
};

// Field numbers and names: opentelemetry-proto (otel-spec.md §6); JSON names
// are the proto3 lowerCamelCase forms.
constexpr FieldSpec kRequestFields[] = {
    {1, "resourceSpans", Kind::kMessage, true, Msg::kResourceSpans}};
constexpr FieldSpec kResourceSpansFields[] = {
    {1, "resource", Kind::kMessage, false, Msg::kResource},
    {2, "scopeSpans", Kind::kMessage, true, Msg::kScopeSpans},
    {3, "schemaUrl", Kind::kString}};
constexpr FieldSpec kResourceFields[] = {{1, "attributes", Kind::kMessage, true, Msg::kKeyValue},
                                         {2, "droppedAttributesCount", Kind::kUint32}};
constexpr FieldSpec kScopeSpansFields[] = {{1, "scope", Kind::kMessage, false, Msg::kScope},
                                           {2, "spans", Kind::kMessage, true, Msg::kSpan},
                                           {3, "schemaUrl", Kind::kString}};
constexpr FieldSpec kScopeFields[] = {{1, "name", Kind::kString},
                                      {2, "version", Kind::kString},
                                      {3, "attributes", Kind::kMessage, true, Msg::kKeyValue},
                                      {4, "droppedAttributesCount", Kind::kUint32}};
constexpr FieldSpec kSpanFields[] = {{1, "traceId", Kind::kHexId},
                                     {2, "spanId", Kind::kHexId},
                                     {3, "traceState", Kind::kString},
                                     {4, "parentSpanId", Kind::kHexId},
                                     {5, "name", Kind::kString},
                                     {6, "kind", Kind::kEnum},
                                     {7, "startTimeUnixNano", Kind::kFixed64String},
                                     {8, "endTimeUnixNano", Kind::kFixed64String},
                                     {9, "attributes", Kind::kMessage, true, Msg::kKeyValue},
                                     {10, "droppedAttributesCount", Kind::kUint32},
                                     {11, "events", Kind::kMessage, true, Msg::kEvent},
                                     {12, "droppedEventsCount", Kind::kUint32},
                                     {13, "links", Kind::kMessage, true, Msg::kLink},
                                     {14, "droppedLinksCount", Kind::kUint32},
                                     {15, "status", Kind::kMessage, false, Msg::kStatus},
                                     {16, "flags", Kind::kFixed32}};
constexpr FieldSpec kEventFields[] = {{1, "timeUnixNano", Kind::kFixed64String},
                                      {2, "name", Kind::kString},
                                      {3, "attributes", Kind::kMessage, true, Msg::kKeyValue},
                                      {4, "droppedAttributesCount", Kind::kUint32}};
constexpr FieldSpec kLinkFields[] = {{1, "traceId", Kind::kHexId},
                                     {2, "spanId", Kind::kHexId},
                                     {3, "traceState", Kind::kString},
                                     {4, "attributes", Kind::kMessage, true, Msg::kKeyValue},
                                     {5, "droppedAttributesCount", Kind::kUint32},
                                     {6, "flags", Kind::kFixed32}};
constexpr FieldSpec kStatusFields[] = {{2, "message", Kind::kString}, {3, "code", Kind::kEnum}};
constexpr FieldSpec kKeyValueFields[] = {{1, "key", Kind::kString},
                                         {2, "value", Kind::kMessage, false, Msg::kAnyValue}};
constexpr FieldSpec kAnyValueFields[] = {
    {1, "stringValue", Kind::kString},
    {2, "boolValue", Kind::kBool},
    {3, "intValue", Kind::kInt64String},
    {4, "doubleValue", Kind::kDouble},
    {5, "arrayValue", Kind::kMessage, false, Msg::kArrayValue},
    {6, "kvlistValue", Kind::kMessage, false, Msg::kKeyValueList},
    {7, "bytesValue", Kind::kBase64}};
constexpr FieldSpec kArrayValueFields[] = {{1, "values", Kind::kMessage, true, Msg::kAnyValue}};
constexpr FieldSpec kKeyValueListFields[] = {{1, "values", Kind::kMessage, true, Msg::kKeyValue}};

constexpr FieldSpec kMetricsRequestFields[] = {
    {1, "resourceMetrics", Kind::kMessage, true, Msg::kResourceMetrics}};
constexpr FieldSpec kResourceMetricsFields[] = {
    {1, "resource", Kind::kMessage, false, Msg::kResource},
    {2, "scopeMetrics", Kind::kMessage, true, Msg::kScopeMetrics},
    {3, "schemaUrl", Kind::kString}};
constexpr FieldSpec kScopeMetricsFields[] = {{1, "scope", Kind::kMessage, false, Msg::kScope},
                                             {2, "metrics", Kind::kMessage, true, Msg::kMetric},
                                             {3, "schemaUrl", Kind::kString}};
constexpr FieldSpec kMetricFields[] = {
    {1, "name", Kind::kString},
    {2, "description", Kind::kString},
    {3, "unit", Kind::kString},
    {5, "gauge", Kind::kMessage, false, Msg::kGauge},
    {7, "sum", Kind::kMessage, false, Msg::kSum},
    {9, "histogram", Kind::kMessage, false, Msg::kHistogram},
    {10, "exponentialHistogram", Kind::kMessage, false, Msg::kExponentialHistogram},
    {11, "summary", Kind::kMessage, false, Msg::kSummary},
    {12, "metadata", Kind::kMessage, true, Msg::kKeyValue}};
constexpr FieldSpec kGaugeFields[] = {
    {1, "dataPoints", Kind::kMessage, true, Msg::kNumberDataPoint}};
constexpr FieldSpec kSumFields[] = {{1, "dataPoints", Kind::kMessage, true, Msg::kNumberDataPoint},
                                    {2, "aggregationTemporality", Kind::kEnum},
                                    {3, "isMonotonic", Kind::kBool}};
constexpr FieldSpec kHistogramFields[] = {
    {1, "dataPoints", Kind::kMessage, true, Msg::kHistogramDataPoint},
    {2, "aggregationTemporality", Kind::kEnum}};
constexpr FieldSpec kExponentialHistogramFields[] = {
    {1, "dataPoints", Kind::kMessage, true, Msg::kExponentialHistogramDataPoint},
    {2, "aggregationTemporality", Kind::kEnum}};
constexpr FieldSpec kSummaryFields[] = {
    {1, "dataPoints", Kind::kMessage, true, Msg::kSummaryDataPoint}};
constexpr FieldSpec kNumberDataPointFields[] = {
    {2, "startTimeUnixNano", Kind::kFixed64String},
    {3, "timeUnixNano", Kind::kFixed64String},
    {4, "asDouble", Kind::kDouble},
    {5, "exemplars", Kind::kMessage, true, Msg::kExemplar},
    {6, "asInt", Kind::kSfixed64String},
    {7, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {8, "flags", Kind::kUint32}};
constexpr FieldSpec kHistogramDataPointFields[] = {
    {2, "startTimeUnixNano", Kind::kFixed64String},
    {3, "timeUnixNano", Kind::kFixed64String},
    {4, "count", Kind::kFixed64String},
    {5, "sum", Kind::kDouble},
    {6, "bucketCounts", Kind::kPackedFixed64String, true},
    {7, "explicitBounds", Kind::kPackedDouble, true},
    {8, "exemplars", Kind::kMessage, true, Msg::kExemplar},
    {9, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {10, "flags", Kind::kUint32},
    {11, "min", Kind::kDouble},
    {12, "max", Kind::kDouble}};
constexpr FieldSpec kExponentialHistogramDataPointFields[] = {
    {1, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {2, "startTimeUnixNano", Kind::kFixed64String},
    {3, "timeUnixNano", Kind::kFixed64String},
    {4, "count", Kind::kFixed64String},
    {5, "sum", Kind::kDouble},
    {6, "scale", Kind::kSint32},
    {7, "zeroCount", Kind::kFixed64String},
    {8, "positive", Kind::kMessage, false, Msg::kBuckets},
    {9, "negative", Kind::kMessage, false, Msg::kBuckets},
    {10, "flags", Kind::kUint32},
    {11, "exemplars", Kind::kMessage, true, Msg::kExemplar},
    {12, "min", Kind::kDouble},
    {13, "max", Kind::kDouble},
    {14, "zeroThreshold", Kind::kDouble}};
constexpr FieldSpec kBucketsFields[] = {{1, "offset", Kind::kSint32},
                                        {2, "bucketCounts", Kind::kPackedUint64String, true}};
constexpr FieldSpec kSummaryDataPointFields[] = {
    {2, "startTimeUnixNano", Kind::kFixed64String},
    {3, "timeUnixNano", Kind::kFixed64String},
    {4, "count", Kind::kFixed64String},
    {5, "sum", Kind::kDouble},
    {6, "quantileValues", Kind::kMessage, true, Msg::kValueAtQuantile},
    {7, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {8, "flags", Kind::kUint32}};
constexpr FieldSpec kValueAtQuantileFields[] = {{1, "quantile", Kind::kDouble},
                                                {2, "value", Kind::kDouble}};
constexpr FieldSpec kExemplarFields[] = {
    {2, "timeUnixNano", Kind::kFixed64String},
    {3, "asDouble", Kind::kDouble},
    {4, "spanId", Kind::kHexId},
    {5, "traceId", Kind::kHexId},
    {6, "asInt", Kind::kSfixed64String},
    {7, "filteredAttributes", Kind::kMessage, true, Msg::kKeyValue}};

constexpr std::span<const FieldSpec> Fields(Msg m) {
  switch (m) {
    case Msg::kRequest:
      return kRequestFields;
    case Msg::kResourceSpans:
      return kResourceSpansFields;
    case Msg::kResource:
      return kResourceFields;
    case Msg::kScopeSpans:
      return kScopeSpansFields;
    case Msg::kScope:
      return kScopeFields;
    case Msg::kSpan:
      return kSpanFields;
    case Msg::kEvent:
      return kEventFields;
    case Msg::kLink:
      return kLinkFields;
    case Msg::kStatus:
      return kStatusFields;
    case Msg::kKeyValue:
      return kKeyValueFields;
    case Msg::kAnyValue:
      return kAnyValueFields;
    case Msg::kArrayValue:
      return kArrayValueFields;
    case Msg::kKeyValueList:
      return kKeyValueListFields;
    case Msg::kMetricsRequest:
      return kMetricsRequestFields;
    case Msg::kResourceMetrics:
      return kResourceMetricsFields;
    case Msg::kScopeMetrics:
      return kScopeMetricsFields;
    case Msg::kMetric:
      return kMetricFields;
    case Msg::kGauge:
      return kGaugeFields;
    case Msg::kSum:
      return kSumFields;
    case Msg::kHistogram:
      return kHistogramFields;
    case Msg::kExponentialHistogram:
      return kExponentialHistogramFields;
    case Msg::kSummary:
      return kSummaryFields;
    case Msg::kNumberDataPoint:
      return kNumberDataPointFields;
    case Msg::kHistogramDataPoint:
      return kHistogramDataPointFields;
    case Msg::kExponentialHistogramDataPoint:
      return kExponentialHistogramDataPointFields;
    case Msg::kBuckets:
      return kBucketsFields;
    case Msg::kSummaryDataPoint:
      return kSummaryDataPointFields;
    case Msg::kValueAtQuantile:
      return kValueAtQuantileFields;
    case Msg::kExemplar:
      return kExemplarFields;
  }
  return {};
}

// The wire type of one element (for packed kinds: when not packed).
WireType WireTypeOf(Kind k) {
  switch (k) {
    case Kind::kUint32:
    case Kind::kInt64String:
    case Kind::kEnum:
    case Kind::kBool:
    case Kind::kSint32:
    case Kind::kPackedUint64String:
      return WireType::kVarint;
    case Kind::kFixed64String:
    case Kind::kDouble:
    case Kind::kSfixed64String:
    case Kind::kPackedFixed64String:
    case Kind::kPackedDouble:
      return WireType::kFixed64;
    case Kind::kFixed32:
      return WireType::kFixed32;
    default:
      return WireType::kLengthDelimited;
  }
}

bool IsPacked(Kind k) {
  return k == Kind::kPackedFixed64String || k == Kind::kPackedUint64String ||
         k == Kind::kPackedDouble;
}

// Repeated scalar fields may come packed (LEN) or one per field.
bool WireTypeFits(Kind k, WireType w) {
  return w == WireTypeOf(k) || (IsPacked(k) && w == WireType::kLengthDelimited);
}

// Length of the valid UTF-8 sequence at the start of `s` (RFC 3629: no
// overlongs, no surrogates, nothing above U+10FFFF), or 0 if it is invalid.
size_t Utf8SequenceLength(std::string_view s) {
  const auto byte = [&s](size_t i) { return static_cast<uint8_t>(s[i]); };
  const auto cont = [&](size_t i) { return i < s.size() && (byte(i) & 0xC0) == 0x80; };
  const uint8_t b0 = byte(0);
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(1) ? 2 : 0;
  if (b0 >= 0xE0 && b0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (b0 == 0xE0 && byte(1) < 0xA0) return 0;  // overlong
    if (b0 == 0xED && byte(1) > 0x9F) return 0;  // surrogate
    return 3;
  }
  if (b0 >= 0xF0 && b0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (b0 == 0xF0 && byte(1) < 0x90) return 0;  // overlong
    if (b0 == 0xF4 && byte(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;
}

// Appends `s` as a JSON string literal; invalid UTF-8 bytes become U+FFFD.
void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t i = 0;
  while (i < s.size()) {
    // Copy runs of plain ASCII in one go.
    size_t run = i;
    while (run < s.size()) {
      const auto c = static_cast<uint8_t>(s[run]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++run;
    }
    out.append(s.data() + i, run - i);
    i = run;
    if (i == s.size()) break;
    const auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8SequenceLength(s.substr(i));
      if (n == 0) {
        out += "\xEF\xBF\xBD";
        i += 1;
      } else {
        out.append(s.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
    ++i;
  }
  out += '"';
}

void AppendHex(std::string& out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += '"';
  for (char ch : bytes) {
    const auto b = static_cast<uint8_t>(ch);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  out += '"';
}

void AppendBase64(std::string& out, std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out += '"';
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16 |
                       uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8 |
                       static_cast<uint8_t>(bytes[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (const size_t rest = bytes.size() - i; rest != 0) {
    uint32_t v = uint32_t{static_cast<uint8_t>(bytes[i])} << 16;
    if (rest == 2) v |= uint32_t{static_cast<uint8_t>(bytes[i + 1])} << 8;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  out += '"';
}

template <typename T>
void AppendNumber(std::string& out, T v, bool quoted) {
  char buf[32];
  const auto result = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  if (quoted) out += '"';
  out.append(buf, result.ptr);
  if (quoted) out += '"';
}

void AppendDouble(std::string& out, double d) {
  if (std::isnan(d)) {
    out += "\"NaN\"";
  } else if (std::isinf(d)) {
    out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    AppendNumber(out, d, false);
  }
}

// Depth guard: AnyValue nests through arrays and kvlists; hostile input
// must not overflow the stack.
constexpr int kMaxDepth = 64;
constexpr size_t kMaxFieldsPerMessage = 16;

constexpr bool SpecTablesFit() {
  for (int m = 0; m <= static_cast<int>(Msg::kLast); ++m) {
    if (Fields(static_cast<Msg>(m)).size() > kMaxFieldsPerMessage) return false;
  }
  return true;
}
static_assert(SpecTablesFit(), "raise kMaxFieldsPerMessage");

// Streams one message as a JSON object. Fields come out in the order of the
// spec table (proto field order), repeated fields gathered into one array
// even when their occurrences are not adjacent on the wire; for a singular
// field the last occurrence wins, as in protobuf.
class Transcoder {
 public:
  explicit Transcoder(std::string& out) : out_(out) {}

  bool Message(std::string_view bytes, Msg msg, int depth) {
    if (depth > kMaxDepth) return false;
    const std::span<const FieldSpec> specs = Fields(msg);
    // Pass 1: validate, and note where each known field first starts and last
    // ends, so that gathering a field later scans only that range.
    struct Range {
      size_t begin = 0, end = 0;
      bool seen = false;
    };
    Range ranges[kMaxFieldsPerMessage];
    ProtoReader reader(bytes);
    ProtoField f;
    size_t before = 0;
    while (reader.Next(f)) {
      const size_t after = bytes.size() - reader.remaining();
      for (size_t i = 0; i < specs.size(); ++i) {
        if (specs[i].number != f.number) continue;
        if (!WireTypeFits(specs[i].kind, f.wire_type)) return false;
        if (!ranges[i].seen) ranges[i] = {before, after, true};
        ranges[i].end = after;
        break;
      }
      before = after;
    }
    if (reader.error()) return false;

    out_ += '{';
    bool first = true;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!ranges[i].seen) continue;
      const FieldSpec& spec = specs[i];
      if (!first) out_ += ',';
      first = false;
      out_ += '"';
      out_ += spec.json_name;
      out_ += "\":";
      ProtoReader range(bytes.substr(ranges[i].begin, ranges[i].end - ranges[i].begin));
      if (spec.repeated) {
        out_ += '[';
        bool first_element = true;
        while (range.Next(f)) {
          if (f.number != spec.number) continue;
          if (IsPacked(spec.kind) && f.wire_type == WireType::kLengthDelimited) {
            if (!PackedValues(spec.kind, f.bytes, first_element)) return false;
            continue;
          }
          if (!first_element) out_ += ',';
          first_element = false;
          if (!Value(spec, f, depth)) return false;
        }
        out_ += ']';
      } else {
        ProtoField last;
        while (range.Next(f)) {
          if (f.number == spec.number) last = f;
        }
        if (!Value(spec, last, depth)) return false;
      }
    }
    out_ += '}';
    return true;
  }

 private:
  bool Value(const FieldSpec& spec, const ProtoField& f, int depth) {
    switch (spec.kind) {
      case Kind::kString:
        AppendJsonString(out_, f.bytes);
        return true;
      case Kind::kHexId:
        AppendHex(out_, f.bytes);
        return true;
      case Kind::kBase64:
        AppendBase64(out_, f.bytes);
        return true;
      case Kind::kUint32:
      case Kind::kFixed32:
        AppendNumber(out_, static_cast<uint32_t>(f.value), false);
        return true;
      case Kind::kInt64String:
        AppendNumber(out_, f.AsInt64(), true);
        return true;
      case Kind::kFixed64String:
        AppendNumber(out_, f.value, true);
        return true;
      case Kind::kEnum:
        AppendNumber(out_, f.AsInt32(), false);
        return true;
      case Kind::kBool:
        out_ += f.AsBool() ? "true" : "false";
        return true;
      case Kind::kDouble:
        AppendDouble(out_, f.AsDouble());
        return true;
      case Kind::kMessage:
        return Message(f.bytes, spec.message, depth + 1);
      case Kind::kSint32: {
        const auto n = static_cast<uint32_t>(f.value);
        AppendNumber(out_, static_cast<int32_t>((n >> 1) ^ (~(n & 1) + 1)), false);
        return true;
      }
      case Kind::kSfixed64String:
        AppendNumber(out_, f.AsInt64(), true);
        return true;
      case Kind::kPackedFixed64String:
        AppendNumber(out_, f.value, true);
        return true;
      case Kind::kPackedUint64String:
        AppendNumber(out_, f.value, true);
        return true;
      case Kind::kPackedDouble:
        AppendDouble(out_, f.AsDouble());
        return true;
    }
    return false;
  }

  // Appends the elements of a packed field as array elements. Fails on a
  // truncated element.
  bool PackedValues(Kind kind, std::string_view bytes, bool& first_element) {
    ProtoField element;
    element.wire_type = WireTypeOf(kind);
    size_t pos = 0;
    while (pos < bytes.size()) {
      if (element.wire_type == WireType::kFixed64) {
        if (bytes.size() - pos < 8) return false;
        uint64_t v = 0;
        for (int b = 7; b >= 0; --b) v = v << 8 | static_cast<uint8_t>(bytes[pos + b]);
        element.value = v;
        pos += 8;
      } else {
        uint64_t v = 0;
        int shift = 0;
        for (;;) {
          if (pos == bytes.size() || shift > 63) return false;
          const auto byte = static_cast<uint8_t>(bytes[pos++]);
          v |= uint64_t{byte & 0x7Fu} << shift;
          shift += 7;
          if ((byte & 0x80) == 0) break;
        }
        element.value = v;
      }
      if (!first_element) out_ += ',';
      first_element = false;
      const FieldSpec spec{0, "", kind};
      if (!Value(spec, element, 0)) return false;
    }
    return true;
  }

  std::string& out_;
};

}  // namespace

std::string TraceRequestToJson(std::string_view protobuf_request) {
  std::string out;
  // JSON is roughly twice the protobuf size (hex ids, quoted keys).
  out.reserve(protobuf_request.size() * 2 + 16);
  if (!AppendTraceRequestJson(protobuf_request, out)) return {};
  return out;
}

bool AppendTraceRequestJson(std::string_view protobuf_request, std::string& out) {
  const size_t before = out.size();
  if (!Transcoder(out).Message(protobuf_request, Msg::kRequest, 0)) {
    out.resize(before);
    return false;
  }
  return true;
}

std::string MetricsRequestToJson(std::string_view protobuf_request) {
  std::string out;
  // Bucket counts grow most (1-byte varints become quoted decimals).
  out.reserve(protobuf_request.size() * 3 + 16);
  if (!AppendMetricsRequestJson(protobuf_request, out)) return {};
  return out;
}

bool AppendMetricsRequestJson(std::string_view protobuf_request, std::string& out) {
  const size_t before = out.size();
  if (!Transcoder(out).Message(protobuf_request, Msg::kMetricsRequest, 0)) {
    out.resize(before);
    return false;
  }
  return true;
}

}  // namespace stampede::otel
