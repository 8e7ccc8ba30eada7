// Decoding of OTLP ExportTraceServiceRequest bytes into span rows (the
// `span` and `resource` tables), private to store/. Cold path (the store
// thread). Pure; any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stampede::store {

// A resource as stored: attributes as a JSON object (the dedup key).
struct ResourceRow {
  std::string attributes_json;
  std::string service_name;  // service.name; "" when absent
};

// One decoded span with every column of the `span` table.
struct SpanRecord {
  bool from_service = false;  // source: "service" (the receiver) or "client" (stampede)
  std::string trace_id, span_id, parent_span_id;  // lower-case hex; parent "" for a root
  std::shared_ptr<const ResourceRow> resource;    // shared by the spans of one ResourceSpans
  std::string scope;
  std::string name;
  std::string kind;    // unspecified|internal|server|client|producer|consumer
  std::string status;  // unset|ok|error
  std::string status_message;
  int64_t start_unix_ns = 0, end_unix_ns = 0;
  double duration_ms = 0;
  std::string attributes_json;  // JSON object
  std::string events_json;      // JSON array
  // A stampede request span: a CLIENT span carrying http.request.method.
  bool is_request = false;
  std::string request_name, method, url, error_type;
  std::optional<int64_t> http_status;
  std::optional<double> blocked_ms, dns_ms, connect_ms, tls_ms, sending_ms, waiting_ms,
      receiving_ms;

  // A failed request: error.type set, a status >= 400 or an ERROR status.
  bool failed() const {
    return !error_type.empty() || (http_status && *http_status >= 400) || status == "error";
  }
  // Approximate heap footprint, for memory accounting.
  size_t bytes() const;
};

// Appends every span of `request` to `out`. Returns false on malformed bytes
// (spans decoded before the fault are kept in `out`).
bool DecodeTraceRequest(std::string_view request, std::vector<SpanRecord>& out);

}  // namespace stampede::store
