// Per-request timings as the engine records them: plain data, no knowledge of
// metrics or OpenTelemetry. All instants are monotonic nanoseconds from the
// worker's core::Clock (convert to wall time with core::WallAnchor); an
// instant of 0 means the phase did not happen for this request.
#pragma once

#include <cstdint>

namespace stampede::http {

struct Timings {
  int64_t start_ns = 0;            // the request was issued by the caller
  int64_t conn_acquired_ns = 0;    // got a connection (pooled, or a new one began)
  int64_t dns_start_ns = 0;        // DNS lookup (new connection, cache miss only)
  int64_t dns_end_ns = 0;
  int64_t connect_start_ns = 0;    // TCP connect (new connection only)
  int64_t connect_end_ns = 0;
  int64_t tls_start_ns = 0;        // TLS handshake (new https connection only)
  int64_t tls_end_ns = 0;
  int64_t send_start_ns = 0;       // first request byte handed to the kernel
  int64_t send_end_ns = 0;         // last request byte handed to the kernel
  int64_t first_byte_ns = 0;       // first response byte read
  int64_t end_ns = 0;              // response complete, or the failure
  bool new_connection = false;     // this request opened its connection
  bool tls_resumed = false;        // the TLS handshake resumed a session
  bool waited_for_connection = false;  // queued behind the per-origin limit

  // k6's phases, in ns. blocked: waiting for a free connection slot (k6 also
  // counts DNS here when it is slow; we report DNS separately and keep
  // blocked for the queue wait, which is what the name means).
  int64_t BlockedNs() const { return Span(start_ns, conn_acquired_ns); }
  int64_t DnsNs() const { return Span(dns_start_ns, dns_end_ns); }
  int64_t ConnectingNs() const { return Span(connect_start_ns, connect_end_ns); }
  int64_t TlsNs() const { return Span(tls_start_ns, tls_end_ns); }
  int64_t SendingNs() const { return Span(send_start_ns, send_end_ns); }
  int64_t WaitingNs() const { return Span(send_end_ns, first_byte_ns); }
  int64_t ReceivingNs() const { return Span(first_byte_ns, end_ns); }
  // k6's http_req_duration: sending + waiting + receiving.
  int64_t DurationNs() const { return SendingNs() + WaitingNs() + ReceivingNs(); }
  // Everything from issue to end, including connection setup.
  int64_t TotalNs() const { return Span(start_ns, end_ns); }

 private:
  static int64_t Span(int64_t from, int64_t to) {
    return (from != 0 && to >= from) ? to - from : 0;
  }
};

}  // namespace stampede::http
