// OTLP/HTTP exporter on libcurl (otel-spec.md §4).
//
// One curl easy handle, created at construction and reused for every export,
// so the connection is kept alive between batches. Each Export() POSTs the
// request to `config.endpoint` with:
//   - Content-Type application/x-protobuf (http/protobuf), or
//     application/json for http/json — the protobuf body is then transcoded
//     with AppendTraceRequestJson() (Signal::kTraces) or
//     AppendMetricsRequestJson() (Signal::kMetrics);
//   - Content-Encoding gzip when OTEL_EXPORTER_OTLP_COMPRESSION=gzip;
//   - the configured headers, User-Agent OTel-OTLP-Exporter-stampede/0.1;
//   - TLS with the configured CA file and client certificate/key.
// Response classification:
//   - 200: kOk; a partial_success is parsed into `rejected` and `message`;
//   - 429, 502, 503, 504: kRetryable, with Retry-After (seconds or HTTP-date);
//   - any other status: kFailed, with the google.rpc.Status message if any;
//   - connect failure, timeout, connection closed without an answer:
//     kRetryable; TLS/certificate problems: kFailed.
// The response body read is capped at 4 MiB.
//
// Thread: construct anywhere; Export() from one thread at a time (the
// exporter thread). Construction throws core::ConfigError on an unusable
// configuration (e.g. protocol grpc, unreadable certificate file).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "otel/exporter.h"
#include "otel/otlp_config.h"

namespace stampede::otel {

inline constexpr std::string_view kOtlpUserAgent = "OTel-OTLP-Exporter-stampede/0.1";

class OtlpHttpExporter final : public Exporter {
 public:
  explicit OtlpHttpExporter(const OtlpConfig& config);
  ~OtlpHttpExporter() override;
  OtlpHttpExporter(const OtlpHttpExporter&) = delete;
  OtlpHttpExporter& operator=(const OtlpHttpExporter&) = delete;

  ExportResult Export(std::string_view request_body_protobuf, int64_t timeout_ns) override;
  std::string endpoint() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace stampede::otel
