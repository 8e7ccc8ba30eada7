#include "store/span_decode.h"

#include <nlohmann/json.hpp>

#include "otel/proto_reader.h"

namespace stampede::store {
namespace {

using otel::ProtoField;
using otel::ProtoReader;
using otel::WireType;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

bool AllZero(std::string_view bytes) {
  for (char c : bytes) {
    if (c != 0) return false;
  }
  return true;
}

std::string_view KindName(uint64_t kind) {
  switch (kind) {
    case 1:
      return "internal";
    case 2:
      return "server";
    case 3:
      return "client";
    case 4:
      return "producer";
    case 5:
      return "consumer";
    default:
      return "unspecified";
  }
}

std::string_view StatusName(uint64_t code) {
  switch (code) {
    case 1:
      return "ok";
    case 2:
      return "error";
    default:
      return "unset";
  }
}

bool DecodeKeyValues(std::string_view kvlist_body, uint32_t field, nlohmann::json& out);

// AnyValue → JSON. Bytes become lower-case hex.
bool DecodeAnyValue(std::string_view any, nlohmann::json& out) {
  ProtoReader r(any);
  ProtoField f;
  out = nullptr;
  while (r.Next(f)) {
    switch (f.number) {
      case 1:
        out = std::string(f.bytes);
        break;
      case 2:
        out = f.AsBool();
        break;
      case 3:
        out = f.AsInt64();
        break;
      case 4:
        out = f.AsDouble();
        break;
      case 5: {  // ArrayValue { values = 1 }
        out = nlohmann::json::array();
        ProtoReader a(f.bytes);
        ProtoField g;
        while (a.Next(g)) {
          if (g.number != 1) continue;
          nlohmann::json v;
          if (!DecodeAnyValue(g.bytes, v)) return false;
          out.push_back(std::move(v));
        }
        if (a.error()) return false;
        break;
      }
      case 6: {  // KeyValueList { values = 1 }
        out = nlohmann::json::object();
        if (!DecodeKeyValues(f.bytes, 1, out)) return false;
        break;
      }
      case 7:
        out = Hex(f.bytes);
        break;
      default:
        break;
    }
  }
  return !r.error();
}

// Reads one KeyValue {key 1, value 2}.
bool DecodeKeyValue(std::string_view kv, std::string& key, nlohmann::json& value) {
  ProtoReader r(kv);
  ProtoField f;
  value = nullptr;
  while (r.Next(f)) {
    if (f.number == 1 && f.wire_type == WireType::kLengthDelimited) key = std::string(f.bytes);
    if (f.number == 2 && f.wire_type == WireType::kLengthDelimited) {
      if (!DecodeAnyValue(f.bytes, value)) return false;
    }
  }
  return !r.error();
}

// Every KeyValue field `field` of `message` into object `out`.
bool DecodeKeyValues(std::string_view message, uint32_t field, nlohmann::json& out) {
  ProtoReader r(message);
  ProtoField f;
  while (r.Next(f)) {
    if (f.number != field || f.wire_type != WireType::kLengthDelimited) continue;
    std::string key;
    nlohmann::json value;
    if (!DecodeKeyValue(f.bytes, key, value)) return false;
    out[key] = std::move(value);
  }
  return !r.error();
}

std::optional<double> NsAttrToMs(const nlohmann::json& attrs, const char* key) {
  auto it = attrs.find(key);
  if (it == attrs.end() || !it->is_number()) return std::nullopt;
  return it->get<double>() / 1e6;
}

std::string StringAttr(const nlohmann::json& attrs, const char* key) {
  auto it = attrs.find(key);
  if (it == attrs.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

bool DecodeSpan(std::string_view bytes, const std::shared_ptr<const ResourceRow>& resource,
                const std::string& scope, std::vector<SpanRecord>& out) {
  SpanRecord s;
  s.resource = resource;
  s.scope = scope;
  nlohmann::json attrs = nlohmann::json::object();
  nlohmann::json events = nlohmann::json::array();
  uint64_t kind = 0, status_code = 0;
  ProtoReader r(bytes);
  ProtoField f;
  while (r.Next(f)) {
    switch (f.number) {
      case 1:
        s.trace_id = Hex(f.bytes);
        break;
      case 2:
        s.span_id = Hex(f.bytes);
        break;
      case 4:
        if (!AllZero(f.bytes)) s.parent_span_id = Hex(f.bytes);
        break;
      case 5:
        s.name = std::string(f.bytes);
        break;
      case 6:
        kind = f.value;
        break;
      case 7:
        s.start_unix_ns = static_cast<int64_t>(f.value);
        break;
      case 8:
        s.end_unix_ns = static_cast<int64_t>(f.value);
        break;
      case 9: {
        if (f.wire_type != WireType::kLengthDelimited) return false;
        std::string key;
        nlohmann::json value;
        if (!DecodeKeyValue(f.bytes, key, value)) return false;
        attrs[key] = std::move(value);
        break;
      }
      case 11: {  // Event { time_unix_nano 1, name 2, attributes 3 }
        if (f.wire_type != WireType::kLengthDelimited) return false;
        nlohmann::json ev = nlohmann::json::object();
        nlohmann::json ev_attrs = nlohmann::json::object();
        ProtoReader e(f.bytes);
        ProtoField g;
        while (e.Next(g)) {
          if (g.number == 1) ev["time_unix_ns"] = static_cast<int64_t>(g.value);
          if (g.number == 2) ev["name"] = std::string(g.bytes);
        }
        if (e.error()) return false;
        if (!DecodeKeyValues(f.bytes, 3, ev_attrs)) return false;
        if (!ev_attrs.empty()) ev["attributes"] = std::move(ev_attrs);
        events.push_back(std::move(ev));
        break;
      }
      case 15: {  // Status { message 2, code 3 }
        ProtoReader st(f.bytes);
        ProtoField g;
        while (st.Next(g)) {
          if (g.number == 2) s.status_message = std::string(g.bytes);
          if (g.number == 3) status_code = g.value;
        }
        if (st.error()) return false;
        break;
      }
      default:
        break;
    }
  }
  if (r.error()) return false;
  if (s.trace_id.empty() || s.span_id.empty()) return true;  // not a usable span
  s.kind = KindName(kind);
  s.status = StatusName(status_code);
  s.duration_ms = static_cast<double>(s.end_unix_ns - s.start_unix_ns) / 1e6;
  if (kind == 3 && attrs.contains("http.request.method")) {
    s.is_request = true;
    s.method = StringAttr(attrs, "http.request.method");
    s.url = StringAttr(attrs, "url.full");
    s.request_name = StringAttr(attrs, "stampede.request.name");
    if (s.request_name.empty()) s.request_name = s.url;
    s.error_type = StringAttr(attrs, "error.type");
    if (auto it = attrs.find("http.response.status_code"); it != attrs.end() && it->is_number()) {
      s.http_status = it->get<int64_t>();
    }
    s.blocked_ms = NsAttrToMs(attrs, "stampede.http_req_blocked_ns");
    s.dns_ms = NsAttrToMs(attrs, "stampede.http_req_looking_up_ns");
    s.connect_ms = NsAttrToMs(attrs, "stampede.http_req_connecting_ns");
    s.tls_ms = NsAttrToMs(attrs, "stampede.http_req_tls_handshaking_ns");
    s.sending_ms = NsAttrToMs(attrs, "stampede.http_req_sending_ns");
    s.waiting_ms = NsAttrToMs(attrs, "stampede.http_req_waiting_ns");
    s.receiving_ms = NsAttrToMs(attrs, "stampede.http_req_receiving_ns");
  }
  s.attributes_json = attrs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  s.events_json = events.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back(std::move(s));
  return true;
}

}  // namespace

size_t SpanRecord::bytes() const {
  return sizeof(SpanRecord) + trace_id.capacity() + span_id.capacity() + parent_span_id.capacity() +
         scope.capacity() + name.capacity() + status_message.capacity() +
         attributes_json.capacity() + events_json.capacity() + request_name.capacity() +
         method.capacity() + url.capacity() + error_type.capacity();
}

bool DecodeTraceRequest(std::string_view request, std::vector<SpanRecord>& out) {
  // ExportTraceServiceRequest.resource_spans(1) → ResourceSpans {resource 1,
  // scope_spans 2} → ScopeSpans {scope 1, spans 2}.
  ProtoReader req(request);
  ProtoField rs;
  while (req.Next(rs)) {
    if (rs.number != 1 || rs.wire_type != WireType::kLengthDelimited) continue;
    auto resource = std::make_shared<ResourceRow>();
    nlohmann::json resource_attrs = nlohmann::json::object();
    {
      ProtoReader r(rs.bytes);
      ProtoField f;
      while (r.Next(f)) {
        if (f.number == 1 && f.wire_type == WireType::kLengthDelimited) {
          if (!DecodeKeyValues(f.bytes, 1, resource_attrs)) return false;
        }
      }
      if (r.error()) return false;
    }
    if (auto it = resource_attrs.find("service.name");
        it != resource_attrs.end() && it->is_string()) {
      resource->service_name = it->get<std::string>();
    }
    resource->attributes_json =
        resource_attrs.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::shared_ptr<const ResourceRow> shared = std::move(resource);
    ProtoReader resource_spans(rs.bytes);
    ProtoField ss;
    while (resource_spans.Next(ss)) {
      if (ss.number != 2 || ss.wire_type != WireType::kLengthDelimited) continue;
      std::string scope;
      ProtoReader scope_spans(ss.bytes);
      ProtoField sp;
      while (scope_spans.Next(sp)) {
        if (sp.wire_type != WireType::kLengthDelimited) continue;
        if (sp.number == 1) {  // InstrumentationScope { name 1, version 2 }
          ProtoReader sc(sp.bytes);
          ProtoField g;
          while (sc.Next(g)) {
            if (g.number == 1) scope = std::string(g.bytes);
          }
        } else if (sp.number == 2) {
          if (!DecodeSpan(sp.bytes, shared, scope, out)) return false;
        }
      }
      if (scope_spans.error()) return false;
    }
    if (resource_spans.error()) return false;
  }
  return !req.error();
}

}  // namespace stampede::store
