// ConsoleMetricsExporter: OTEL_METRICS_EXPORTER=console. Writes each metrics
// export to the console as ONE line of OTLP/JSON — the whole
// ExportMetricsServiceRequest, `{"resourceMetrics":[...]}` — for looking at
// the metrics without a collector (`stampede run ... | grep
// '^{"resourceMetrics"' | jq ...`). A line is self-contained: it can be
// POSTed to a collector's /v1/metrics or read by the Collector's
// otlpjsonfile receiver. The JSON is MetricsRequestToJson()'s (integer
// enums, 64-bit integers as decimal strings, hex exemplar ids).
//
// Where: stdout, as the SDKs' console exporters do (see ConsoleExporter for
// why the summary stays readable: the pipeline is shut down before it is
// printed). An empty request writes nothing.
//
// It plugs into the MetricsPipeline like the network exporters. Failure: a
// malformed request or a write error is kFailed ("cannot write metrics to
// stdout: ..."); never retried. Thread: Export() from one thread at a time
// (the pipeline's thread).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "otel/exporter.h"

namespace stampede::otel {

class ConsoleMetricsExporter final : public Exporter {
 public:
  // `out` (borrowed, default stdout) must outlive the exporter; `name` names
  // it in messages.
  explicit ConsoleMetricsExporter(std::FILE* out = stdout, std::string name = "stdout");

  ExportResult Export(std::string_view request_body_protobuf, int64_t timeout_ns) override;
  std::string endpoint() const override { return name_; }

 private:
  std::FILE* out_;
  std::string name_;
  std::string line_;  // scratch, reused
};

}  // namespace stampede::otel
