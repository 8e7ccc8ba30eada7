// The exporter seam: sends one encoded OTLP request and classifies the answer
// as the OTLP specification's retry rules require (otel-spec.md §4). The
// ExportPipeline decides what to do with the result (retry, count, warn).
//
// Thread: an Exporter is used by one thread at a time — the pipeline's
// exporter thread. Export() blocks for at most about `timeout_ns`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace stampede::otel {

struct ExportResult {
  enum class Kind {
    kOk,         // accepted (possibly with a partial success: see `rejected`)
    kRetryable,  // throttled, unavailable, disconnected, timed out: retry later
    kFailed,     // rejected for good (e.g. HTTP 400): never retry
  };
  Kind kind = Kind::kOk;
  // HTTP status, or the gRPC status code; 0 when there was no answer at all
  // (connect failure, timeout, disconnect).
  int status = 0;
  // The server's requested delay before the next attempt (HTTP Retry-After,
  // gRPC RetryInfo.retry_delay), in nanoseconds.
  std::optional<int64_t> retry_after_ns;
  // Partial success: how many items the receiver rejected (kOk only).
  int64_t rejected = 0;
  // What went wrong (or the partial-success message), one line, stable for a
  // given cause so that it can key "warn once per cause", e.g.
  // "connection refused", "HTTP 400: <google.rpc.Status message>".
  std::string message;

  static ExportResult Ok() { return ExportResult{}; }
  static ExportResult Retryable(int status, std::string message,
                                std::optional<int64_t> retry_after_ns = std::nullopt) {
    return ExportResult{Kind::kRetryable, status, retry_after_ns, 0, std::move(message)};
  }
  static ExportResult Failed(int status, std::string message) {
    return ExportResult{Kind::kFailed, status, std::nullopt, 0, std::move(message)};
  }
};

class Exporter {
 public:
  virtual ~Exporter() = default;

  // Sends `request_body_protobuf` (a complete Export<Signal>ServiceRequest in
  // protobuf; an implementation may transcode it, e.g. to OTLP/JSON) and waits
  // for the answer for at most `timeout_ns` nanoseconds. Never throws.
  virtual ExportResult Export(std::string_view request_body_protobuf, int64_t timeout_ns) = 0;

  // Where the data goes, for messages (e.g. "http://127.0.0.1:4318/v1/traces").
  virtual std::string endpoint() const { return {}; }
};

}  // namespace stampede::otel
