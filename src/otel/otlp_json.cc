#include "otel/otlp_json.h"

#include <cmath>
#include <cstdint>
#include <span>
#include <nlohmann/json.hpp>

#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

using Json = nlohmann::ordered_json;  // keeps the proto field order

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
};

enum class Msg : uint8_t {
  kRequest, kResourceSpans, kResource, kScopeSpans, kScope, kSpan, kEvent, kLink, kStatus,
  kKeyValue, kAnyValue, kArrayValue, kKeyValueList,
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
constexpr FieldSpec kResourceFields[] = {
    {1, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {2, "droppedAttributesCount", Kind::kUint32}};
constexpr FieldSpec kScopeSpansFields[] = {
    {1, "scope", Kind::kMessage, false, Msg::kScope},
    {2, "spans", Kind::kMessage, true, Msg::kSpan},
    {3, "schemaUrl", Kind::kString}};
constexpr FieldSpec kScopeFields[] = {
    {1, "name", Kind::kString},
    {2, "version", Kind::kString},
    {3, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {4, "droppedAttributesCount", Kind::kUint32}};
constexpr FieldSpec kSpanFields[] = {
    {1, "traceId", Kind::kHexId},
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
constexpr FieldSpec kEventFields[] = {
    {1, "timeUnixNano", Kind::kFixed64String},
    {2, "name", Kind::kString},
    {3, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {4, "droppedAttributesCount", Kind::kUint32}};
constexpr FieldSpec kLinkFields[] = {
    {1, "traceId", Kind::kHexId},
    {2, "spanId", Kind::kHexId},
    {3, "traceState", Kind::kString},
    {4, "attributes", Kind::kMessage, true, Msg::kKeyValue},
    {5, "droppedAttributesCount", Kind::kUint32},
    {6, "flags", Kind::kFixed32}};
constexpr FieldSpec kStatusFields[] = {
    {2, "message", Kind::kString},
    {3, "code", Kind::kEnum}};
constexpr FieldSpec kKeyValueFields[] = {
    {1, "key", Kind::kString},
    {2, "value", Kind::kMessage, false, Msg::kAnyValue}};
constexpr FieldSpec kAnyValueFields[] = {
    {1, "stringValue", Kind::kString},
    {2, "boolValue", Kind::kBool},
    {3, "intValue", Kind::kInt64String},
    {4, "doubleValue", Kind::kDouble},
    {5, "arrayValue", Kind::kMessage, false, Msg::kArrayValue},
    {6, "kvlistValue", Kind::kMessage, false, Msg::kKeyValueList},
    {7, "bytesValue", Kind::kBase64}};
constexpr FieldSpec kArrayValueFields[] = {
    {1, "values", Kind::kMessage, true, Msg::kAnyValue}};
constexpr FieldSpec kKeyValueListFields[] = {
    {1, "values", Kind::kMessage, true, Msg::kKeyValue}};

std::span<const FieldSpec> Fields(Msg m) {
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
  }
  return {};
}

WireType WireTypeOf(Kind k) {
  switch (k) {
    case Kind::kUint32:
    case Kind::kInt64String:
    case Kind::kEnum:
    case Kind::kBool:
      return WireType::kVarint;
    case Kind::kFixed64String:
    case Kind::kDouble:
      return WireType::kFixed64;
    case Kind::kFixed32:
      return WireType::kFixed32;
    default:
      return WireType::kLengthDelimited;
  }
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<uint8_t>(bytes[i]);
    out[2 * i] = kDigits[b >> 4];
    out[2 * i + 1] = kDigits[b & 0xF];
  }
  return out;
}

std::string Base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
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
  return out;
}

Json DoubleToJson(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  return d;
}

// Depth guard: AnyValue nests through arrays and kvlists; hostile input
// must not overflow the stack.
constexpr int kMaxDepth = 64;

bool Transcode(std::string_view bytes, Msg msg, int depth, Json& out) {
  if (depth > kMaxDepth) return false;
  out = Json::object();
  const std::span<const FieldSpec> specs = Fields(msg);
  ProtoReader reader(bytes);
  ProtoField f;
  while (reader.Next(f)) {
    const FieldSpec* spec = nullptr;
    for (const FieldSpec& s : specs) {
      if (s.number == f.number) spec = &s;
    }
    if (spec == nullptr) continue;  // unknown field: ignored, as OTLP requires
    if (f.wire_type != WireTypeOf(spec->kind)) return false;
    Json value;
    switch (spec->kind) {
      case Kind::kString:
        value = std::string(f.bytes);
        break;
      case Kind::kHexId:
        value = Hex(f.bytes);
        break;
      case Kind::kBase64:
        value = Base64(f.bytes);
        break;
      case Kind::kUint32:
        value = static_cast<uint32_t>(f.value);
        break;
      case Kind::kInt64String:
        value = std::to_string(f.AsInt64());
        break;
      case Kind::kFixed64String:
        value = std::to_string(f.value);
        break;
      case Kind::kFixed32:
        value = static_cast<uint32_t>(f.value);
        break;
      case Kind::kEnum:
        value = f.AsInt32();
        break;
      case Kind::kBool:
        value = f.AsBool();
        break;
      case Kind::kDouble:
        value = DoubleToJson(f.AsDouble());
        break;
      case Kind::kMessage:
        if (!Transcode(f.bytes, spec->message, depth + 1, value)) return false;
        break;
    }
    if (spec->repeated) {
      Json& array = out[spec->json_name];
      if (array.is_null()) array = Json::array();
      array.push_back(std::move(value));
    } else {
      out[spec->json_name] = std::move(value);  // proto: the last one wins
    }
  }
  return !reader.error();
}

}  // namespace

std::string TraceRequestToJson(std::string_view protobuf_request) {
  Json json;
  if (!Transcode(protobuf_request, Msg::kRequest, 0, json)) return {};
  return json.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace stampede::otel
