// OTLP/JSON transcoding: protobuf ExportTraceServiceRequest or
// ExportMetricsServiceRequest bytes -> the JSON body of OTLP/HTTP with
// `Content-Type: application/json`, following the OTLP deviations from the
// proto3 JSON mapping (otel-spec.md §4):
//   - trace and span ids (traceId, spanId, parentSpanId, links' and
//     exemplars' ids) are lowercase hex strings, not base64;
//   - enums (kind, status.code, aggregationTemporality) are integers;
//   - keys are lowerCamelCase (resourceSpans, scopeSpans, startTimeUnixNano,
//     resourceMetrics, dataPoints, zeroCount, bucketCounts...);
//   - 64-bit integers (times, intValue, asInt, count, zeroCount, every
//     bucketCounts element) are decimal strings; 32-bit ones (flags,
//     dropped*Count, and the sint32 scale and offset) are numbers;
//   - doubles (asDouble, sum, min, max, explicitBounds...) are numbers, and
//     non-finite ones "NaN" / "Infinity" / "-Infinity";
//   - bytesValue is base64 (plain proto3 JSON).
// Only fields present on the wire appear (so proto3 defaults are omitted as the
// encoder omitted them), in proto field order, repeated fields gathered into
// one array (packed or not on the wire); unknown fields are skipped.
//
// Streams straight from the wire bytes into the output string (no DOM): the
// only allocation is that string. Any thread.
#pragma once

#include <string>
#include <string_view>

namespace stampede::otel {

// Transcodes `protobuf_request` (an ExportTraceServiceRequest, such as
// EncodeExportTraceRequest() produces) into compact OTLP/JSON. Returns "" when
// the bytes are not a well-formed request (a known field with the wrong wire
// type, or malformed wire format). An empty request gives "{}".
// Invalid UTF-8 in strings is replaced by U+FFFD.
std::string TraceRequestToJson(std::string_view protobuf_request);

// As TraceRequestToJson, appending to `out` (whose capacity a caller reuses).
// Returns false, leaving `out` as it was, when the bytes are not a
// well-formed request.
bool AppendTraceRequestJson(std::string_view protobuf_request, std::string& out);

// The same for an ExportMetricsServiceRequest (MetricsEncoder's output):
// "{\"resourceMetrics\":[...]}"; "" when malformed; "{}" when empty.
std::string MetricsRequestToJson(std::string_view protobuf_request);

// As MetricsRequestToJson, appending to `out`; false (and `out` as it was)
// when the bytes are not a well-formed request.
bool AppendMetricsRequestJson(std::string_view protobuf_request, std::string& out);

}  // namespace stampede::otel
