// OTLP/gRPC exporter on grpc++'s GenericStub (otel-spec.md §4): the
// hand-encoded ExportTraceServiceRequest bytes are sent as they are (no
// protoc, no generated stubs) to
//   /opentelemetry.proto.collector.trace.v1.TraceService/Export
// (or MetricsService/Export for Signal::kMetrics) over one channel created at
// construction (HTTP/2, kept open between exports).
//
//   - TLS when config.use_tls (https scheme, or no scheme and not INSECURE),
//     with the configured CA file and client certificate/key; otherwise
//     plain text;
//   - the configured headers as call metadata (keys lower-cased, as gRPC
//     requires); User-Agent prefix OTel-OTLP-Exporter-stampede/0.1;
//   - deadline = the timeout passed to Export();
//   - gzip message compression when configured.
// Status classification:
//   - OK: kOk, with the response's partial_success parsed;
//   - CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE,
//     DATA_LOSS: kRetryable, with google.rpc.RetryInfo.retry_delay when the
//     status details (grpc-status-details-bin) carry one;
//   - RESOURCE_EXHAUSTED: kRetryable only when RetryInfo is present;
//     otherwise kFailed;
//   - every other code: kFailed.
//
// Thread: construct anywhere; Export() from one thread at a time. Export()
// blocks until the call completes (at most the deadline). Construction
// throws core::ConfigError on an unusable configuration (unreadable PEM).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "otel/exporter.h"
#include "otel/otlp_config.h"

namespace stampede::otel {

class OtlpGrpcExporter final : public Exporter {
 public:
  explicit OtlpGrpcExporter(const OtlpConfig& config);
  ~OtlpGrpcExporter() override;
  OtlpGrpcExporter(const OtlpGrpcExporter&) = delete;
  OtlpGrpcExporter& operator=(const OtlpGrpcExporter&) = delete;

  ExportResult Export(std::string_view request_body_protobuf, int64_t timeout_ns) override;
  std::string endpoint() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The retry delay of a google.rpc.RetryInfo inside a serialized
// google.rpc.Status (its `details`, field 3, repeated Any), in nanoseconds;
// nullopt when there is none or the bytes are malformed. Exposed for tests.
std::optional<int64_t> RetryDelayFromStatusDetails(std::string_view status_bytes);

}  // namespace stampede::otel
