// The built-in OTLP receiver (`--collect`): accepts the spans that the
// service under test exports with its own OpenTelemetry SDK, so that they
// can be kept with the run. It speaks OTLP as the specification defines it
// (opentelemetry-proto docs/specification.md; otel-spec.md §4):
//
// OTLP/HTTP (on the shared http::Server seam, one thread):
//   POST /v1/traces with Content-Type application/x-protobuf or
//   application/json (parameters such as charset allowed), optionally
//   Content-Encoding gzip:
//     200 and an empty ExportTraceServiceResponse in the request's encoding
//         (protobuf: empty body; JSON: `{}`); an empty request succeeds;
//     400 malformed body (gzip, protobuf, JSON, or a span whose trace_id is
//         not 16 bytes...), with a google.rpc.Status whose message says what
//         and where; nothing of the request is kept;
//     413 body over max_body_bytes (answered by http::Server), or over
//         max_decoded_bytes once inflated — checked while inflating, so a
//         gzip bomb is never inflated in full;
//     415 any other Content-Type or Content-Encoding;
//   POST /v1/metrics and /v1/logs: 200, accepted unread and discarded
//     (counted), so an SDK that exports every signal to one endpoint logs no
//     errors;
//   other methods on those paths: 405 (Allow: POST); other paths: 404.
//   Error bodies are a google.rpc.Status (code: a google.rpc.Code), JSON
//   (`{"code":3,"message":"..."}`) for JSON requests, protobuf otherwise.
//
// OTLP/gRPC (grpc++ callback generic service: no generated code):
//   /opentelemetry.proto.collector.trace.v1.TraceService/Export: OK with an
//     empty ExportTraceServiceResponse; malformed: INVALID_ARGUMENT and the
//     message; metrics' and logs' Export: OK, discarded (counted); any other
//     method: UNIMPLEMENTED; a message over max_body_bytes:
//     RESOURCE_EXHAUSTED (grpc's max receive size). grpc inflates gzip itself.
//
// A well-formed trace request is split by accept_trace: spans whose trace id
// it accepts are handed to on_spans (one call per request, as a protobuf
// ExportTraceServiceRequest holding only those spans, resources and scopes
// as received); the others are counted (spans_foreign) and dropped. Foreign
// spans are not an error for the sender: the answer is still a full success.
// With forward_url set, every well-formed trace request with spans is also
// forwarded, unfiltered, as protobuf, to a real collector, from a forwarding
// thread behind a bounded queue (full: dropped and counted; receiving never
// waits for the collector), with OtlpHttpExporter and the OTLP retry rules.
//
// Threads: OtlpReceiver's constructor, Stop() and the destructor from one
// owner thread; stats() and the address accessors from any thread.
// accept_trace and on_spans run on the HTTP server thread and on grpc's
// threads, concurrently: they must be thread-safe and quick.
// Failure: the constructor throws core::ConfigError (one line naming the
// option, the address and the fix); afterwards nothing a client sends
// throws, crashes or grows memory without bound (bodies and inflated sizes
// are capped; JSON and protobuf nesting is capped at 64 messages).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/server.h"
#include "otel/span.h"

namespace stampede::otel {

struct ReceiverOptions {
  // OTLP/HTTP listen address (http::ParseListenAddress forms: "HOST:PORT",
  // "[IPv6]:PORT", ":PORT", "PORT"; port 0 picks a free port). "" = off.
  std::string http_address = "127.0.0.1:4318";
  // OTLP/gRPC listen address, e.g. "127.0.0.1:4317". "" = off.
  std::string grpc_address;
  // How the addresses and the forward URL were given, for error messages.
  std::string http_option_name = "--collect";
  std::string grpc_option_name = "--collect-grpc";
  std::string forward_option_name = "--collect-forward";

  // Request body as received (before gzip): 413 / RESOURCE_EXHAUSTED beyond.
  size_t max_body_bytes = 8 << 20;
  // Body after gzip: 413 beyond, checked while inflating (a gzip bomb).
  size_t max_decoded_bytes = 32 << 20;

  // Which spans belong to the run: spans whose trace id it accepts are kept,
  // the others counted (spans_foreign) and dropped. Empty: keep all.
  // Called concurrently from the receiver's threads; must be thread-safe.
  std::function<bool(const TraceId&)> accept_trace;
  // Called with a protobuf ExportTraceServiceRequest holding only the kept
  // spans (resources and scopes as received) and their count. The view is
  // valid for the call only. Not called when no span was kept. Runs on a
  // receiver thread (HTTP and gRPC ones concurrently): thread-safe, quick,
  // and it must not throw.
  std::function<void(std::string_view request, uint64_t spans)> on_spans;

  // Forwards every well-formed trace request (unfiltered, protobuf) to a real
  // collector: an OTLP/HTTP traces URL, http://host:port/v1/traces (or
  // https). Empty: off.
  std::string forward_url;
  // Per forwarded request, retries included (each attempt is cut to what
  // remains); then its spans count as forward_failed_spans.
  std::chrono::milliseconds forward_timeout{10000};
  // Bytes of requests waiting to be forwarded; a request that does not fit
  // is dropped (forward_dropped_spans).
  size_t forward_queue_bytes = 64 << 20;
  // How long Stop() lets the queue drain before dropping what is left.
  std::chrono::milliseconds forward_flush_timeout{5000};
  // Forwarding trouble, one line per distinct cause (at most 16 lines).
  // Empty: core::Warn. Called on the forwarding thread.
  std::function<void(std::string_view line)> warn;
};

// Counters since construction. Each is exact; a snapshot taken while
// requests arrive may mix counts from before and after one of them.
struct ReceiverStats {
  uint64_t requests = 0;        // HTTP requests and gRPC calls handled, any outcome
  uint64_t trace_requests = 0;  // well-formed trace export requests (any span count)
  uint64_t spans_received = 0;  // spans in well-formed trace requests
  uint64_t spans_kept = 0;      // handed to on_spans
  uint64_t spans_foreign = 0;   // refused by accept_trace, dropped
  uint64_t bad_requests = 0;    // 400/404/405/415; INVALID_ARGUMENT, UNIMPLEMENTED
  // 413 for bodies over max_decoded_bytes once inflated. Bodies over
  // max_body_bytes are refused by http::Server / grpc before the receiver
  // sees them and are not counted here.
  uint64_t too_large = 0;
  uint64_t metrics_requests = 0;       // /v1/metrics and MetricsService/Export, accepted unread
  uint64_t logs_requests = 0;          // /v1/logs and LogsService/Export, accepted unread
  uint64_t forwarded_spans = 0;        // accepted by the forward target
  uint64_t forward_failed_spans = 0;   // refused by it, or not delivered in time
  uint64_t forward_dropped_spans = 0;  // queue full, or still queued when Stop() gave up
};

// google.rpc.Code values the receiver answers with (gRPC status codes).
enum class RpcCode : int {
  kOk = 0,
  kInvalidArgument = 3,
  kNotFound = 5,
  kResourceExhausted = 8,
  kUnimplemented = 12,
};

// --- Decoding, checking and filtering, without sockets ------------------------

// The outcome of FilterTraceRequest().
struct FilteredTraceRequest {
  uint64_t spans = 0;  // spans in the request
  uint64_t kept = 0;   // of which accept_trace accepted
  // When 0 < kept < spans: the request rewritten to hold only the kept spans
  // (resources, scopes, schema URLs and unknown fields copied as received;
  // ResourceSpans and ScopeSpans left without spans omitted). Otherwise
  // empty: when kept == spans the input itself is that request; when
  // kept == 0 there is nothing to deliver.
  std::string rewritten;
};

// Checks that `request` is a well-formed protobuf ExportTraceServiceRequest
// — every known field with its wire type, down to AnyValue; span and link
// trace_id 16 bytes, span_id 8 bytes, parent_span_id empty or 8 bytes; at
// most 64 nested messages; unknown fields skipped — and splits its spans
// with `accept` (empty: accept all; called once per span, in order).
// Returns false on malformed input, with `error` saying what and where, e.g.
// "resource_spans[0].scope_spans[0].spans[3].trace_id: 15 bytes, expected
// 16"; `out` is then unspecified. Pure apart from `accept`; any thread.
bool FilterTraceRequest(std::string_view request, const std::function<bool(const TraceId&)>& accept,
                        FilteredTraceRequest& out, std::string& error);

// What a listener does with one request — decoding (gzip, OTLP/JSON),
// checking, filtering, delivery to on_spans, the hand-off to forwarding and
// the counting — without the sockets. OtlpReceiver owns one; tests and the
// fuzz target (tests/fuzz/otlp_receiver_fuzz.cc) drive one directly.
// Thread-safety: Handle*() and stats() may run on any threads at once.
class OtlpRequestHandler {
 public:
  // Called with every well-formed trace request that holds spans
  // (unfiltered, protobuf) and its span count, on the handling thread; the
  // view is valid for the call only. Must be quick (queue it).
  using ForwardFn = std::function<void(std::string_view request, uint64_t spans)>;

  // Uses the limits, accept_trace and on_spans of `options` (copied).
  explicit OtlpRequestHandler(const ReceiverOptions& options, ForwardFn forward = {});

  // One OTLP/HTTP request (as http::Server hands it over); never throws.
  http::ServerResponse HandleHttp(const http::ServerRequest& request);

  // One unary gRPC call: `method` is the full path
  // ("/opentelemetry.proto.collector.trace.v1.TraceService/Export"),
  // `message` the request message (already inflated by grpc).
  struct GrpcAnswer {
    RpcCode code = RpcCode::kOk;
    std::string message;  // for errors: what was wrong
  };
  GrpcAnswer HandleGrpc(std::string_view method, std::string_view message);

  // The receive-side counters (forward_* are the forwarder's: zero here).
  ReceiverStats stats() const;

 private:
  // Checks, filters, counts, forwards and delivers one protobuf trace
  // request. False (and `error`) when it is malformed.
  bool Traces(std::string_view request, std::string& error);

  const size_t max_decoded_bytes_;
  const std::function<bool(const TraceId&)> accept_trace_;
  const std::function<void(std::string_view, uint64_t)> on_spans_;
  const ForwardFn forward_;

  std::atomic<uint64_t> requests_{0}, trace_requests_{0}, spans_received_{0}, spans_kept_{0},
      spans_foreign_{0}, bad_requests_{0}, too_large_{0}, metrics_requests_{0}, logs_requests_{0};
};

class OtlpReceiver {
 public:
  // Starts the forwarding thread (when forward_url is set), binds and starts
  // the listeners that are on. Throws core::ConfigError with one line naming
  // the option, the address and the fix, e.g.
  //   --collect 127.0.0.1:4318: address already in use; choose another port
  //   (or port 0 for a free one)
  // and when both addresses are empty, or forward_url is not an http(s) URL
  // or is this receiver's own HTTP address (forwarding would loop).
  explicit OtlpReceiver(ReceiverOptions options);
  ~OtlpReceiver();  // Stop()
  OtlpReceiver(const OtlpReceiver&) = delete;
  OtlpReceiver& operator=(const OtlpReceiver&) = delete;

  // The bound addresses ("127.0.0.1:4318", "[::1]:4317"; the real port when
  // 0 was asked for); "" for a listener that is off.
  const std::string& http_address() const { return http_bound_; }
  const std::string& grpc_address() const { return grpc_bound_; }

  // Stops both listeners (in-flight requests finish, gRPC calls still running
  // after 2 s are cancelled; on_spans is not called after Stop() returns),
  // then lets forwarding drain for at most forward_flush_timeout: requests
  // still queued then count as forward_dropped_spans, one whose retries are
  // cut short as forward_failed_spans. Idempotent.
  void Stop();

  ReceiverStats stats() const;

 private:
  class Forwarder;
  class GrpcListener;

  // Throws core::ConfigError when forward_url points at our HTTP listener.
  void RefuseForwardingToItself() const;

  ReceiverOptions options_;
  std::unique_ptr<Forwarder> forwarder_;  // before the handler, which feeds it
  std::unique_ptr<OtlpRequestHandler> handler_;
  std::unique_ptr<http::Server> http_;
  std::unique_ptr<GrpcListener> grpc_;
  std::string http_bound_;
  std::string grpc_bound_;
  bool stopped_ = false;
};

}  // namespace stampede::otel
