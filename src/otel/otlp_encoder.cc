#include "otel/otlp_encoder.h"

namespace stampede::otel {
namespace {

// Field numbers (opentelemetry-proto; otel-spec.md §6).
namespace any_value {
constexpr uint32_t kStringValue = 1;
constexpr uint32_t kBoolValue = 2;
constexpr uint32_t kIntValue = 3;
constexpr uint32_t kDoubleValue = 4;
}  // namespace any_value
namespace key_value {
constexpr uint32_t kKey = 1;
constexpr uint32_t kValue = 2;
}  // namespace key_value
namespace scope {
constexpr uint32_t kName = 1;
constexpr uint32_t kVersion = 2;
constexpr uint32_t kAttributes = 3;
}  // namespace scope
namespace resource {
constexpr uint32_t kAttributes = 1;
}  // namespace resource
// ExportTraceServiceRequest / ResourceSpans / ScopeSpans; the metrics
// envelope uses the same numbers.
namespace envelope {
constexpr uint32_t kRequestResourceItems = 1;  // resource_spans / resource_metrics
constexpr uint32_t kResource = 1;
constexpr uint32_t kScopeItems = 2;  // scope_spans / scope_metrics
constexpr uint32_t kResourceSchemaUrl = 3;
constexpr uint32_t kScope = 1;
constexpr uint32_t kScopeSchemaUrl = 3;
}  // namespace envelope
namespace span {
constexpr uint32_t kTraceId = 1;
constexpr uint32_t kSpanId = 2;
constexpr uint32_t kTraceState = 3;
constexpr uint32_t kParentSpanId = 4;
constexpr uint32_t kName = 5;
constexpr uint32_t kKind = 6;
constexpr uint32_t kStartTimeUnixNano = 7;
constexpr uint32_t kEndTimeUnixNano = 8;
constexpr uint32_t kAttributes = 9;
constexpr uint32_t kEvents = 11;
constexpr uint32_t kLinks = 13;
constexpr uint32_t kStatus = 15;
constexpr uint32_t kFlags = 16;
}  // namespace span
namespace event {
constexpr uint32_t kTimeUnixNano = 1;
constexpr uint32_t kName = 2;
constexpr uint32_t kAttributes = 3;
}  // namespace event
namespace link {
constexpr uint32_t kTraceId = 1;
constexpr uint32_t kSpanId = 2;
constexpr uint32_t kTraceState = 3;
constexpr uint32_t kAttributes = 4;
constexpr uint32_t kFlags = 6;
}  // namespace link
namespace status {
constexpr uint32_t kMessage = 2;
constexpr uint32_t kCode = 3;
}  // namespace status

// Most spans of an HTTP load test are 128..16383 bytes: reserving two length
// bytes makes EndMessage() move nothing for them.
constexpr size_t kSpanSizeHint = 512;

std::string_view Bytes(const auto& array) {
  return {reinterpret_cast<const char*>(array.data()), array.size()};
}

// Size of a string/bytes field with implicit presence.
size_t StringFieldSize(uint32_t field, std::string_view v) {
  return v.empty() ? 0 : LengthDelimitedFieldSize(field, v.size());
}

size_t AnyValueSize(const AnyValue& v) {
  switch (v.type) {
    case AnyValue::Type::kBool:
      return 2;
    case AnyValue::Type::kInt:
      return 1 + VarintSize(static_cast<uint64_t>(v.i));
    case AnyValue::Type::kDouble:
      return 1 + 8;
    case AnyValue::Type::kString:
      break;
  }
  return LengthDelimitedFieldSize(any_value::kStringValue, v.s.size());
}

size_t KeyValueBodySize(const KeyValue& kv) {
  return StringFieldSize(key_value::kKey, kv.key) +
         LengthDelimitedFieldSize(key_value::kValue, AnyValueSize(kv.value));
}

size_t ScopeBodySize(const ExportRequestHeader& h) {
  return StringFieldSize(scope::kName, h.scope_name) +
         StringFieldSize(scope::kVersion, h.scope_version) +
         AttributesSize(scope::kAttributes, h.scope_attributes);
}

size_t EventBodySize(const SpanEvent& e) {
  return (e.time_unix_ns != 0 ? 1 + 8 : 0) + StringFieldSize(event::kName, e.name) +
         AttributesSize(event::kAttributes, e.attributes);
}

size_t LinkBodySize(const SpanLink& l) {
  return LengthDelimitedFieldSize(link::kTraceId, l.trace_id.bytes.size()) +
         LengthDelimitedFieldSize(link::kSpanId, l.span_id.bytes.size()) +
         StringFieldSize(link::kTraceState, l.trace_state) +
         AttributesSize(link::kAttributes, l.attributes) + (l.flags != 0 ? 1 + 4 : 0);
}

size_t StatusBodySize(const SpanData& s) {
  return StringFieldSize(status::kMessage, s.status_message) +
         (s.status != StatusCode::kUnset ? 1 + VarintSize(static_cast<uint8_t>(s.status)) : 0);
}

// The pieces of the request envelope, computed once for both the size query
// and the encoder so that they cannot disagree.
struct EnvelopeSizes {
  size_t scope_body;
  size_t scope_items_body;
  size_t resource_body;
  size_t resource_items_body;
  size_t total;
};

EnvelopeSizes ComputeEnvelope(const ExportRequestHeader& h, size_t item_bytes) {
  EnvelopeSizes s{};
  s.scope_body = ScopeBodySize(h);
  s.scope_items_body =
      (s.scope_body != 0 ? LengthDelimitedFieldSize(envelope::kScope, s.scope_body) : 0) +
      item_bytes + StringFieldSize(envelope::kScopeSchemaUrl, h.scope_schema_url);
  s.resource_body = AttributesSize(resource::kAttributes, h.resource_attributes);
  s.resource_items_body = LengthDelimitedFieldSize(envelope::kResource, s.resource_body) +
                          LengthDelimitedFieldSize(envelope::kScopeItems, s.scope_items_body) +
                          StringFieldSize(envelope::kResourceSchemaUrl, h.resource_schema_url);
  s.total = LengthDelimitedFieldSize(envelope::kRequestResourceItems, s.resource_items_body);
  return s;
}

// Writes one Export*ServiceRequest with a single resource and scope around
// pre-encoded item fields (spans now; metrics later).
size_t EncodeEnvelope(const ExportRequestHeader& h, std::span<const std::string_view> chunks,
                      ProtoWriter& out) {
  size_t item_bytes = 0;
  for (std::string_view c : chunks) item_bytes += c.size();
  if (item_bytes == 0) return 0;
  const EnvelopeSizes s = ComputeEnvelope(h, item_bytes);
  const size_t start = out.size();
  out.Reserve(start + s.total);

  out.LengthDelimitedHeader(envelope::kRequestResourceItems, s.resource_items_body);
  out.LengthDelimitedHeader(envelope::kResource, s.resource_body);
  EncodeAttributes(resource::kAttributes, h.resource_attributes, out);
  out.LengthDelimitedHeader(envelope::kScopeItems, s.scope_items_body);
  if (s.scope_body != 0) {
    out.LengthDelimitedHeader(envelope::kScope, s.scope_body);
    out.StringField(scope::kName, h.scope_name);
    out.StringField(scope::kVersion, h.scope_version);
    EncodeAttributes(scope::kAttributes, h.scope_attributes, out);
  }
  for (std::string_view c : chunks) out.AppendRaw(c);
  out.StringField(envelope::kScopeSchemaUrl, h.scope_schema_url);
  out.StringField(envelope::kResourceSchemaUrl, h.resource_schema_url);
  return out.size() - start;
}

}  // namespace

void EncodeAnyValue(const AnyValue& v, ProtoWriter& w) {
  switch (v.type) {
    case AnyValue::Type::kBool:
      w.BoolField(any_value::kBoolValue, v.b, Presence::kExplicit);
      return;
    case AnyValue::Type::kInt:
      w.Int64Field(any_value::kIntValue, v.i, Presence::kExplicit);
      return;
    case AnyValue::Type::kDouble:
      w.DoubleField(any_value::kDoubleValue, v.d, Presence::kExplicit);
      return;
    case AnyValue::Type::kString:
      break;
  }
  w.StringField(any_value::kStringValue, v.s, Presence::kExplicit);
}

size_t AttributesSize(uint32_t field, std::span<const KeyValue> attributes) {
  size_t n = 0;
  for (const KeyValue& kv : attributes) n += LengthDelimitedFieldSize(field, KeyValueBodySize(kv));
  return n;
}

void EncodeAttributes(uint32_t field, std::span<const KeyValue> attributes, ProtoWriter& w) {
  for (const KeyValue& kv : attributes) {
    // KeyValue sizes are cheap to compute exactly, so no back-patching here.
    const size_t value_size = AnyValueSize(kv.value);
    w.LengthDelimitedHeader(field, StringFieldSize(key_value::kKey, kv.key) +
                                       LengthDelimitedFieldSize(key_value::kValue, value_size));
    w.StringField(key_value::kKey, kv.key);
    w.LengthDelimitedHeader(key_value::kValue, value_size);
    EncodeAnyValue(kv.value, w);
  }
}

size_t EncodeSpan(const SpanData& s, ProtoWriter& w) {
  const size_t start = w.size();
  const ProtoWriter::Bookmark m = w.BeginMessage(kScopeSpansSpansField, kSpanSizeHint);
  w.BytesField(span::kTraceId, Bytes(s.trace_id.bytes), Presence::kExplicit);
  w.BytesField(span::kSpanId, Bytes(s.span_id.bytes), Presence::kExplicit);
  w.StringField(span::kTraceState, s.trace_state);
  if (s.parent_span_id.valid()) w.BytesField(span::kParentSpanId, Bytes(s.parent_span_id.bytes));
  w.StringField(span::kName, s.name);
  w.VarintField(span::kKind, static_cast<uint8_t>(s.kind));
  w.Fixed64Field(span::kStartTimeUnixNano, static_cast<uint64_t>(s.start_unix_ns));
  w.Fixed64Field(span::kEndTimeUnixNano, static_cast<uint64_t>(s.end_unix_ns));
  EncodeAttributes(span::kAttributes, s.attributes, w);
  for (const SpanEvent& e : s.events) {
    w.LengthDelimitedHeader(span::kEvents, EventBodySize(e));
    w.Fixed64Field(event::kTimeUnixNano, static_cast<uint64_t>(e.time_unix_ns));
    w.StringField(event::kName, e.name);
    EncodeAttributes(event::kAttributes, e.attributes, w);
  }
  for (const SpanLink& l : s.links) {
    w.LengthDelimitedHeader(span::kLinks, LinkBodySize(l));
    w.BytesField(link::kTraceId, Bytes(l.trace_id.bytes), Presence::kExplicit);
    w.BytesField(link::kSpanId, Bytes(l.span_id.bytes), Presence::kExplicit);
    w.StringField(link::kTraceState, l.trace_state);
    EncodeAttributes(link::kAttributes, l.attributes, w);
    w.Fixed32Field(link::kFlags, l.flags);
  }
  if (const size_t status_size = StatusBodySize(s); status_size != 0) {
    w.LengthDelimitedHeader(span::kStatus, status_size);
    w.StringField(status::kMessage, s.status_message);
    w.VarintField(status::kCode, static_cast<uint8_t>(s.status));
  }
  w.Fixed32Field(span::kFlags, s.flags);
  w.EndMessage(m);
  return w.size() - start;
}

size_t EncodeExportTraceRequest(const ExportRequestHeader& header,
                                std::span<const std::string_view> span_chunks, ProtoWriter& out) {
  return EncodeEnvelope(header, span_chunks, out);
}

size_t ExportTraceRequestSize(const ExportRequestHeader& header, size_t span_bytes) {
  return span_bytes == 0 ? 0 : ComputeEnvelope(header, span_bytes).total;
}

}  // namespace stampede::otel
