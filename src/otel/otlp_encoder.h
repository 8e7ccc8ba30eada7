// OTLP protobuf encoder for traces: SpanData -> opentelemetry-proto bytes,
// with the field numbers of opentelemetry-proto (../shared/reference/
// otel-spec.md §6). Hand-written on ProtoWriter: no libprotobuf, and no
// allocation once the writer has grown to its working size.
//
// Batching model: a worker (or the telemetry thread) encodes each span with
// EncodeSpan() into a ProtoWriter; the bytes it appends are a complete
// `ScopeSpans.spans` field (tag 0x12 + length + Span), so any number of
// encoded spans — from any writers — concatenate into a ScopeSpans body.
// EncodeExportTraceRequest() wraps such chunks, without re-encoding them,
// into an ExportTraceServiceRequest with one ResourceSpans and one ScopeSpans.
//
// Metrics: ExportMetricsServiceRequest has the same envelope (ResourceMetrics
// {resource 1, scope_metrics 2, schema_url 3}, ScopeMetrics {scope 1,
// metrics 2, schema_url 3}), so a future EncodeExportMetricsRequest() is the
// same envelope around `ScopeMetrics.metrics` chunks; the resource, scope and
// attribute helpers below are shared.
//
// Views in the inputs must stay valid for the duration of each call only.
// Thread: all functions are pure apart from the writer they append to.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "otel/proto_writer.h"
#include "otel/span.h"

namespace stampede::otel {

// --- Shared by traces and (later) metrics -------------------------------------

// Appends the AnyValue message body for `value` (one oneof member, written even
// when it holds its default, since the member is what carries the type).
void EncodeAnyValue(const AnyValue& value, ProtoWriter& w);

// Appends one `KeyValue` field number `field` per attribute (the repeated
// `attributes` field of Span = 9, Event = 3, Link = 4, Resource = 1, ...).
void EncodeAttributes(uint32_t field, std::span<const KeyValue> attributes, ProtoWriter& w);

// Exact size in bytes of what EncodeAttributes() appends.
size_t AttributesSize(uint32_t field, std::span<const KeyValue> attributes);

// What a request says about its producer: the `Resource` and the
// `InstrumentationScope`. Empty strings/spans are omitted from the encoding.
struct ExportRequestHeader {
  std::span<const KeyValue> resource_attributes{};  // service.name, ...
  std::string_view resource_schema_url{};           // ResourceSpans.schema_url
  std::string_view scope_name{};                    // InstrumentationScope.name
  std::string_view scope_version{};                 // InstrumentationScope.version
  std::span<const KeyValue> scope_attributes{};     // InstrumentationScope.attributes
  std::string_view scope_schema_url{};              // ScopeSpans.schema_url
};

// --- Traces ----------------------------------------------------------------------

// The field number EncodeSpan() writes: ScopeSpans.spans.
inline constexpr uint32_t kScopeSpansSpansField = 2;

// Appends the complete field `ScopeSpans.spans` for `span`: tag (0x12), length
// and the Span message with every non-default field (proto3: parent_span_id
// is omitted for a root span, flags when 0, status when UNSET with no
// message; trace_id and span_id are always written). Returns the number of
// bytes appended. Hot path: no allocation once `w` has room.
size_t EncodeSpan(const SpanData& span, ProtoWriter& w);

// Appends a complete ExportTraceServiceRequest:
//   resource_spans { resource { attributes }, scope_spans { scope { name,
//   version, attributes }, <span_chunks...>, schema_url }, schema_url }
// `span_chunks` are byte ranges of concatenated EncodeSpan() outputs (each
// chunk one or more whole `ScopeSpans.spans` fields); they are copied
// verbatim, in order. With no span bytes at all, appends nothing (an empty
// request, which collectors accept). Lengths are computed up front, so the
// large chunk bytes are copied exactly once. Returns bytes appended, which
// always equals ExportTraceRequestSize(header, total chunk bytes).
size_t EncodeExportTraceRequest(const ExportRequestHeader& header,
                                std::span<const std::string_view> span_chunks, ProtoWriter& out);

// Exact size in bytes of the request EncodeExportTraceRequest() would build
// for `span_bytes` bytes of span chunks — for capping a batch (e.g. at the
// 4 MiB default gRPC receive limit) before encoding it. No allocation.
size_t ExportTraceRequestSize(const ExportRequestHeader& header, size_t span_bytes);

}  // namespace stampede::otel
