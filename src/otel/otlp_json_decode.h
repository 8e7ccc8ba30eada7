// OTLP/JSON decoding: the JSON body of an OTLP/HTTP trace export
// (`Content-Type: application/json`) -> protobuf ExportTraceServiceRequest
// bytes, so that the receiver has one downstream path (checking, filtering,
// storing and forwarding all read protobuf). The inverse of
// TraceRequestToJson() (otlp_json.h): for what that transcoder writes, the
// decoder gives back the same bytes.
//
// What it accepts (opentelemetry-proto docs/specification.md, "JSON Protobuf
// Encoding", and the proto3 JSON mapping it deviates from):
//   - keys in lowerCamelCase (`resourceSpans`, `startTimeUnixNano`); the
//     original snake_case proto names are accepted too, as the Collector
//     does, although senders must not use them;
//   - unknown keys are ignored, whatever their value (the spec's MUST);
//   - trace and span ids (`traceId`, `spanId`, `parentSpanId`, links' ids)
//     as case-insensitive hex strings; their length is checked downstream
//     (FilterTraceRequest), here only that they are hex;
//   - enums (`kind`, `status.code`) as integers, and, leniently, as their
//     proto names ("SPAN_KIND_SERVER", "STATUS_CODE_ERROR");
//   - 64-bit integers (times, `intValue`) as decimal strings or numbers;
//     32-bit ones (`flags`, `dropped*Count`) as numbers or decimal strings;
//     a number with a fraction or exponent is accepted when it is integral;
//   - doubles as numbers, or "NaN", "Infinity", "-Infinity" or a numeric
//     string; `bytesValue` as base64 (standard or URL alphabet, padding
//     optional);
//   - `null` for any field means the field is absent (not inside arrays).
// Fields are written in the order they come in the JSON. A field holding its
// proto3 default is omitted (as an encoder omits it), except the members of
// AnyValue's oneof, whose presence is what carries the value's type.
// Fields outside trace.proto's stable set (profiles' *_strindex, Resource's
// entity_refs) are ignored like unknown keys.
//
// Bounds: at most 64 nested messages (as the transcoder), so hostile input
// cannot exhaust the stack; the parse is SAX (nlohmann::json::sax_parse),
// with no document tree, so memory stays about the size of the output.
//
// Thread: pure; any thread. Cold path (allocates).
#pragma once

#include <string>
#include <string_view>

namespace stampede::otel {

// Appends the protobuf ExportTraceServiceRequest for the OTLP/JSON `json` to
// `out`. Returns false when `json` is not valid JSON or does not have the
// shape of an ExportTraceServiceRequest (a value of the wrong type for a
// known field, an id that is not hex, a number out of range...); `error` then
// says what and where, in one line, e.g.
//   resourceSpans[0].scopeSpans[0].spans[2].traceId: not a hex string: "xyz"
// and `out` is left as it was.
bool TraceRequestJsonToProtobuf(std::string_view json, std::string& out, std::string& error);

}  // namespace stampede::otel
