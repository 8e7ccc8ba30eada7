#include "engine/request_spans.h"

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>

namespace stampede::engine {

using otel::AnyValue;
using otel::KeyValue;

RequestSpans::RequestSpans(otel::SpanSink* sink, const core::WallAnchor& anchor,
                           otel::IdGenerator& ids, int64_t keep_slower_than_ns)
    : sink_(sink), anchor_(anchor), ids_(ids), keep_slower_than_ns_(keep_slower_than_ns) {}

void RequestSpans::Child(const RequestSpanInfo& info, std::string_view name, int64_t start_ns,
                         int64_t end_ns, std::span<const KeyValue> attributes) {
  otel::SpanData s;
  s.trace_id = info.trace_id;
  s.span_id = ids_.NewSpanId();
  s.parent_span_id = info.span_id;
  s.flags = info.trace_flags;
  s.name = name;
  s.kind = otel::SpanKind::kInternal;
  s.start_unix_ns = anchor_.ToUnixNs(start_ns);
  s.end_unix_ns = anchor_.ToUnixNs(end_ns);
  s.attributes = attributes;
  sink_->Record(s);
}

bool RequestSpans::Admit(int64_t end_ns, int64_t total_ns) {
  const uint64_t d = static_cast<uint64_t>(std::max<int64_t>(total_ns, 1));
  const int bucket = 63 - std::countl_zero(d);
  if (end_ns >= gate_window_end_ns_) {
    // A new second: the slow threshold is the lower bound of the bucket where
    // the previous second's slowest per_second/2 begin.
    const int64_t target = std::max<int64_t>(1, gate_per_second_ / 2);
    int64_t above = 0;
    int b = 63;
    for (; b > 0; --b) {
      above += gate_log2_counts_[static_cast<size_t>(b)];
      if (above >= target) break;
    }
    gate_slow_ns_ = above >= target ? (int64_t{1} << b) : 0;
    gate_log2_counts_.fill(0);
    gate_first_ = gate_admitted_ = 0;
    gate_window_end_ns_ = end_ns + core::kNsPerSec;
  }
  ++gate_log2_counts_[static_cast<size_t>(bucket)];
  if (gate_admitted_ >= 2 * gate_per_second_) return false;
  if (gate_first_ < gate_per_second_ / 2) {
    ++gate_first_;
  } else if (total_ns < gate_slow_ns_ || gate_slow_ns_ == 0) {
    return false;
  }
  ++gate_admitted_;
  return true;
}

bool RequestSpans::Keeps(const RequestOutcome& out, const RequestSpanInfo& info, bool failed) {
  if (sink_ == nullptr) return false;
  const int64_t total = out.timings.TotalNs();
  bool slow = keep_slower_than_ns_ > 0 && total >= keep_slower_than_ns_;
  if (failed || slow) return true;
  if ((info.trace_flags & otel::kFlagSampled) == 0) return false;
  return !gated() || Admit(out.timings.end_ns, total);
}

bool RequestSpans::Record(const RequestOutcome& ex, const RequestSpanInfo& info, bool failed) {
  if (!Keeps(ex, info, failed)) return false;
  RecordKept(ex, info);
  return true;
}

void RequestSpans::RecordKept(const RequestOutcome& ex, const RequestSpanInfo& info) {
  const http::Timings& t = ex.timings;

  // Names: "{METHOD}" or "{METHOD} {name}" — never the raw path.
  char name_buf[160];
  size_t name_len = 0;
  auto append = [&](std::string_view part) {
    size_t n = std::min(part.size(), sizeof name_buf - name_len);
    std::memcpy(name_buf + name_len, part.data(), n);
    name_len += n;
  };
  append(info.method);
  if (!info.request_name.empty()) {
    append(" ");
    append(info.request_name);
  }

  char peer_ip[net::Address::kMaxIpText];
  size_t peer_len = ex.peer.FormatIp(peer_ip, sizeof peer_ip);
  char status_buf[8];
  std::string_view error_type;
  if (ex.error != net::NetError::kNone) {
    error_type = net::Name(ex.error);
  } else if (ex.status >= 400) {
    auto r = std::to_chars(status_buf, status_buf + sizeof status_buf, ex.status);
    error_type = std::string_view(status_buf, static_cast<size_t>(r.ptr - status_buf));
  }

  std::array<KeyValue, 25 + kMaxTagAttributes> attrs;
  size_t n = 0;
  attrs[n++] = {"http.request.method", AnyValue::String(info.method)};
  attrs[n++] = {"url.full", AnyValue::String(info.url_full)};
  attrs[n++] = {"server.address", AnyValue::String(info.server_address)};
  attrs[n++] = {"server.port", AnyValue::Int(info.server_port)};
  if (ex.status > 0) attrs[n++] = {"http.response.status_code", AnyValue::Int(ex.status)};
  if (!error_type.empty()) attrs[n++] = {"error.type", AnyValue::String(error_type)};
  attrs[n++] = {"network.protocol.version",
                AnyValue::String(ex.http_version == 20 ? "2" : "1.1")};
  if (peer_len > 0) {
    attrs[n++] = {"network.peer.address", AnyValue::String(std::string_view(peer_ip, peer_len))};
    attrs[n++] = {"network.peer.port", AnyValue::Int(ex.peer.port())};
  }
  attrs[n++] = {"user_agent.synthetic.type", AnyValue::String("test")};
  // k6's http_req_duration of this request (sending + waiting + receiving,
  // without connection setup), in ns: what its exemplar on that metric shows.
  attrs[n++] = {"stampede.http_req_duration_ns",
                AnyValue::Int(static_cast<int64_t>(t.DurationNs()))};
  // k6's phases in ns, so a stored or exported span carries its breakdown
  // (the run store's columns, `stampede slow`). Connection phases only when
  // they happened on this request.
  const auto phase = [&](std::string_view key, int64_t ns, bool always) {
    if (always || ns > 0) attrs[n++] = {key, AnyValue::Int(ns)};
  };
  phase("stampede.http_req_blocked_ns", t.BlockedNs(), false);
  phase("stampede.http_req_looking_up_ns", t.DnsNs(), false);
  phase("stampede.http_req_connecting_ns", t.ConnectingNs(), false);
  phase("stampede.http_req_tls_handshaking_ns", t.TlsNs(), false);
  phase("stampede.http_req_sending_ns", t.SendingNs(), true);
  phase("stampede.http_req_waiting_ns", t.WaitingNs(), true);
  phase("stampede.http_req_receiving_ns", t.ReceivingNs(), true);
  if (!info.scenario.empty()) attrs[n++] = {"stampede.scenario", AnyValue::String(info.scenario)};
  attrs[n++] = {"stampede.vu", AnyValue::Int(static_cast<int64_t>(info.vu))};
  attrs[n++] = {"stampede.iteration", AnyValue::Int(static_cast<int64_t>(info.iteration))};
  if (!info.request_name.empty()) {
    attrs[n++] = {"stampede.request.name", AnyValue::String(info.request_name)};
  }
  if (!info.failed_checks.empty()) {
    attrs[n++] = {"stampede.checks.failed", AnyValue::String(info.failed_checks)};
  }
  for (size_t i = 0; i < info.tag_attributes.size() && i < kMaxTagAttributes; ++i) {
    attrs[n++] = {info.tag_attributes[i].first, AnyValue::String(info.tag_attributes[i].second)};
  }

  std::array<otel::SpanEvent, 1> events;
  size_t nevents = 0;
  if (t.first_byte_ns != 0) {
    events[nevents++] = {anchor_.ToUnixNs(t.first_byte_ns), "http.response.first_byte", {}};
  }

  otel::SpanData span;
  span.trace_id = info.trace_id;
  span.span_id = info.span_id;
  span.parent_span_id = info.parent_span_id;
  span.flags = info.trace_flags;
  span.name = std::string_view(name_buf, name_len);
  span.kind = otel::SpanKind::kClient;
  span.start_unix_ns = anchor_.ToUnixNs(t.start_ns);
  span.end_unix_ns = anchor_.ToUnixNs(t.end_ns != 0 ? t.end_ns : t.start_ns);
  span.attributes = std::span<const KeyValue>(attrs.data(), n);
  span.events = std::span<const otel::SpanEvent>(events.data(), nevents);
  // Status per the HTTP client conventions: Error for a transport error, a
  // 4xx or 5xx (or an uninterpretable status), whatever the script declared
  // expected (expectedStatuses only decides http_req_failed and keeping).
  const bool span_error = ex.error != net::NetError::kNone || ex.status >= 400 || ex.status < 100;
  span.status = span_error ? otel::StatusCode::kError : otel::StatusCode::kUnset;
  if (ex.error != net::NetError::kNone) span.status_message = ex.error_detail;
  sink_->Record(span);

  // Connection phases, as children of the request they delayed.
  if (t.waited_for_connection && t.conn_acquired_ns > t.start_ns) {
    const KeyValue a[] = {{"server.address", AnyValue::String(info.server_address)},
                          {"server.port", AnyValue::Int(info.server_port)}};
    Child(info, "HTTP wait_for_connection", t.start_ns, t.conn_acquired_ns, a);
  }
  if (t.dns_start_ns != 0) {
    char dns_name[128];
    size_t len = std::min(info.server_address.size(), sizeof dns_name - 11);
    std::memcpy(dns_name, "DNS lookup ", 11);
    std::memcpy(dns_name + 11, info.server_address.data(), len);
    const KeyValue a[] = {{"dns.question.name", AnyValue::String(info.server_address)}};
    Child(info, std::string_view(dns_name, 11 + len), t.dns_start_ns, t.dns_end_ns, a);
  }
  if (t.connect_start_ns != 0) {
    char connect_name[96];
    int len = std::snprintf(connect_name, sizeof connect_name, "socket connect %.*s:%u",
                            static_cast<int>(peer_len), peer_ip, ex.peer.port());
    const KeyValue a[] = {
        {"network.peer.address", AnyValue::String(std::string_view(peer_ip, peer_len))},
        {"network.peer.port", AnyValue::Int(ex.peer.port())},
        {"network.transport", AnyValue::String("tcp")},
    };
    Child(info, std::string_view(connect_name, static_cast<size_t>(std::max(len, 0))),
          t.connect_start_ns, t.connect_end_ns ? t.connect_end_ns : t.end_ns, a);
  }
  if (t.tls_start_ns != 0) {
    char tls_name[128];
    size_t len = std::min(info.server_address.size(), sizeof tls_name - 21);
    std::memcpy(tls_name, "TLS client handshake ", 21);
    std::memcpy(tls_name + 21, info.server_address.data(), len);
    const KeyValue a[] = {{"server.address", AnyValue::String(info.server_address)},
                          {"tls.resumed", AnyValue::Bool(t.tls_resumed)}};
    Child(info, std::string_view(tls_name, 21 + len), t.tls_start_ns,
          t.tls_end_ns ? t.tls_end_ns : t.end_ns, a);
  }
}

}  // namespace stampede::engine
