// Turns a finished HTTP exchange into OpenTelemetry spans: a CLIENT span per
// request (HTTP client semantic conventions, v1.44), with child spans for the
// connection phases it paid for (DNS lookup, socket connect, TLS handshake;
// the names .NET uses) or for its wait for a free connection, and an event at
// the first response byte. Spans go to the worker's otel::SpanSink, which
// drops (and counts) rather than blocks when the exporter falls behind.
//
// Kept spans: every head-sampled request, and — even when not head-sampled —
// every request that failed (`failed`: http_req_failed's verdict, so per the
// script's expected statuses) or was slower than `keep_slower_than_ns` (the
// service's side of such a trace exists only if its own sampler kept it).
// The span status does not depend on `failed`: it follows the conventions
// (Error for 4xx, 5xx and transport errors).
// Thread: the worker thread that owns the sink. Allocates nothing.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

#include "core/clock.h"
#include "http/client.h"
#include "otel/span.h"
#include "otel/span_sink.h"
#include "otel/trace_context.h"

namespace stampede::engine {

// What the caller knows about the request beyond the exchange itself.
inline constexpr size_t kMaxTagAttributes = 16;

struct RequestSpanInfo {
  otel::TraceId trace_id;
  otel::SpanId span_id;         // the CLIENT span (the traceparent's parent id)
  otel::SpanId parent_span_id;  // iteration/group span; zero for a root
  uint8_t trace_flags = 0;
  std::string_view method;
  std::string_view url_full;    // credentials already redacted
  std::string_view server_address;
  uint16_t server_port = 0;
  std::string_view request_name;  // params.name / --url's name tag; may be empty
  std::string_view scenario;
  uint64_t vu = 0;
  uint64_t iteration = 0;
  std::string_view failed_checks;  // names of checks that failed on it, ", "-joined
  // Tags the script set on the VU (execution.vu.tags), as span attributes:
  // pairs of (attribute key "stampede.tag.<tag>", value); at most kMaxTagAttributes.
  std::span<const std::pair<std::string, std::string>> tag_attributes;
};

// What the span needs of a finished exchange (copyable: a script VU's span
// waits for the checks that follow the response).
struct RequestOutcome {
  http::Timings timings;
  int status = 0;
  net::NetError error = net::NetError::kNone;
  std::string_view error_detail;
  net::Address peer;
  uint8_t http_version = 11;  // 11 or 20 (http::Exchange::http_version)

  static RequestOutcome Of(const http::Exchange& ex) {
    return RequestOutcome{ex.timings, ex.status,   ex.error, ex.error_detail,
                          ex.peer,    ex.http_version};
  }
};

class RequestSpans {
 public:
  // `sink` (optional: null records nothing) and `anchor` must outlive this.
  RequestSpans(otel::SpanSink* sink, const core::WallAnchor& anchor, otel::IdGenerator& ids,
               int64_t keep_slower_than_ns);

  bool enabled() const { return sink_ != nullptr; }

  // The store gate: when spans go only to the run store (no OTLP export),
  // encoding every head-sampled request would cost the load more than the
  // store keeps (it keeps `per_second` a second, failed first, then the
  // slowest). With the gate, a head-sampled request is kept only when it is
  // one of the first per_second/2 of its second, or at least as slow as a
  // threshold set each second from the previous second's durations (a
  // 64-bucket log2 histogram, one increment per request) so that about
  // per_second/2 slow ones pass; at most 2 × per_second a second in all.
  // Failed and --trace-keep-slower-than requests are kept as before. The
  // traceparent still says "sampled": the service's side is unchanged.
  void set_store_gate(uint32_t per_second) { gate_per_second_ = per_second; }
  bool gated() const { return gate_per_second_ >= 0; }

  // Whether these spans are kept (see above). Decides once per request: with
  // the gate it counts the request, so call it once and keep the answer
  // (RecordKept), or call Record alone.
  bool Keeps(const RequestOutcome& out, const RequestSpanInfo& info, bool failed);
  // Records the spans of a request when kept. Returns whether it did.
  bool Record(const RequestOutcome& out, const RequestSpanInfo& info, bool failed);
  // Records the spans of a request that Keeps() said to keep.
  void RecordKept(const RequestOutcome& out, const RequestSpanInfo& info);

 private:
  void Child(const RequestSpanInfo& info, std::string_view name, int64_t start_ns,
             int64_t end_ns, std::span<const otel::KeyValue> attributes);

  // The store gate (see set_store_gate): admits a head-sampled request that
  // ended at `end_ns` (monotonic) after `total_ns`.
  bool Admit(int64_t end_ns, int64_t total_ns);

  otel::SpanSink* sink_;
  const core::WallAnchor& anchor_;
  otel::IdGenerator& ids_;
  int64_t keep_slower_than_ns_;
  int64_t gate_per_second_ = -1;  // -1: no gate
  int64_t gate_window_end_ns_ = 0;
  int64_t gate_first_ = 0;     // admitted first-come this second
  int64_t gate_admitted_ = 0;  // admitted in all this second
  int64_t gate_slow_ns_ = 0;   // "slow" this second
  std::array<uint32_t, 64> gate_log2_counts_{};  // this second's durations by log2(ns)
};

}  // namespace stampede::engine
