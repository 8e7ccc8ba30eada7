// Reads back the request spans of an ExportTraceServiceRequest that a
// collector accepted, so the metric outputs can use them as exemplars
// (metrics/exemplars.h): only spans that were really exported are linked.
//
// Cold path (the span exporter thread, once per accepted batch). Views point
// into the request bytes. Any thread; pure.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "otel/span.h"

namespace stampede::otel {

struct ExportedRequestSpan {
  TraceId trace_id;
  SpanId span_id;
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  std::string_view method;        // http.request.method
  std::string_view request_name;  // stampede.request.name, or url.full when unnamed
  int64_t status_code = 0;        // http.response.status_code; 0 when none
  int64_t http_req_duration_ns = -1;  // stampede.http_req_duration_ns; -1 when absent
  uint32_t flags = 0;                 // Span.flags (low 8 bits: W3C trace flags)
  bool sampled() const { return (flags & 1u) != 0; }
};

// Calls fn for every CLIENT span (kind 3) of `request` that carries
// http.request.method. Returns false on malformed bytes (spans read before
// the fault were reported).
bool ForEachExportedRequestSpan(std::string_view request,
                                const std::function<void(const ExportedRequestSpan&)>& fn);

}  // namespace stampede::otel
