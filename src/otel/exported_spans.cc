#include "otel/exported_spans.h"

#include <algorithm>
#include <cstring>

#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

// Reads one KeyValue into (key, string value or int value).
bool ReadKeyValue(std::string_view kv, std::string_view& key, std::string_view& str,
                  int64_t& integer, bool& is_int) {
  ProtoReader r(kv);
  ProtoField f;
  is_int = false;
  while (r.Next(f)) {
    if (f.number == 1 && f.wire_type == WireType::kLengthDelimited) {
      key = f.bytes;
    } else if (f.number == 2 && f.wire_type == WireType::kLengthDelimited) {
      ProtoReader v(f.bytes);
      ProtoField g;
      while (v.Next(g)) {
        if (g.number == 1 && g.wire_type == WireType::kLengthDelimited) str = g.bytes;
        if (g.number == 3 && g.wire_type == WireType::kVarint) {
          integer = g.AsInt64();
          is_int = true;
        }
      }
      if (v.error()) return false;
    }
  }
  return !r.error();
}

bool ReadSpan(std::string_view span, const std::function<void(const ExportedRequestSpan&)>& fn) {
  ExportedRequestSpan out;
  std::string_view url_full;
  uint64_t kind = 0;
  bool has_method = false;
  ProtoReader r(span);
  ProtoField f;
  while (r.Next(f)) {
    switch (f.number) {
      case 1:
        if (f.bytes.size() == 16) std::memcpy(out.trace_id.bytes.data(), f.bytes.data(), 16);
        break;
      case 2:
        if (f.bytes.size() == 8) std::memcpy(out.span_id.bytes.data(), f.bytes.data(), 8);
        break;
      case 6:
        kind = f.value;
        break;
      case 7:
        out.start_unix_ns = static_cast<int64_t>(f.value);
        break;
      case 8:
        out.end_unix_ns = static_cast<int64_t>(f.value);
        break;
      case 16:
        out.flags = static_cast<uint32_t>(f.value);
        break;
      case 9: {
        if (f.wire_type != WireType::kLengthDelimited) return false;
        std::string_view key, str;
        int64_t integer = 0;
        bool is_int = false;
        if (!ReadKeyValue(f.bytes, key, str, integer, is_int)) return false;
        if (key == "http.request.method") {
          out.method = str;
          has_method = true;
        } else if (key == "stampede.request.name") {
          out.request_name = str;
        } else if (key == "url.full") {
          url_full = str;
        } else if (key == "http.response.status_code" && is_int) {
          out.status_code = integer;
        } else if (key == "stampede.http_req_duration_ns" && is_int) {
          out.http_req_duration_ns = integer;
        }
        break;
      }
      default:
        break;
    }
  }
  if (r.error()) return false;
  if (kind != static_cast<uint64_t>(SpanKind::kClient) || !has_method) return true;
  if (out.request_name.empty()) out.request_name = url_full;
  fn(out);
  return true;
}

}  // namespace

bool ForEachExportedRequestSpan(std::string_view request,
                                const std::function<void(const ExportedRequestSpan&)>& fn) {
  // ExportTraceServiceRequest.resource_spans(1) → ResourceSpans.scope_spans(2)
  // → ScopeSpans.spans(2).
  ProtoReader req(request);
  ProtoField rs;
  while (req.Next(rs)) {
    if (rs.number != 1 || rs.wire_type != WireType::kLengthDelimited) continue;
    ProtoReader resource_spans(rs.bytes);
    ProtoField ss;
    while (resource_spans.Next(ss)) {
      if (ss.number != 2 || ss.wire_type != WireType::kLengthDelimited) continue;
      ProtoReader scope_spans(ss.bytes);
      ProtoField sp;
      while (scope_spans.Next(sp)) {
        if (sp.number != 2 || sp.wire_type != WireType::kLengthDelimited) continue;
        if (!ReadSpan(sp.bytes, fn)) return false;
      }
      if (scope_spans.error()) return false;
    }
    if (resource_spans.error()) return false;
  }
  return !req.error();
}

}  // namespace stampede::otel
