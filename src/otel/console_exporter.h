// ConsoleExporter: OTEL_TRACES_EXPORTER=console. Writes every span to the
// console as one line of OTLP/JSON, for looking at spans without a collector
// (`stampede run ... | grep '^{' | jq ...`).
//
// Where: stdout, as the OpenTelemetry SDKs' console exporters do. The
// end-of-test summary stays readable because it is printed only after the
// pipeline has shut down, so every span line comes before it; and every span
// line starts with `{"resourceSpans":`, which no summary line does, so
// `grep '^{'` keeps the spans and `grep -v '^{'` the rest. (Progress and
// warnings go to stderr as always.)
//
// Format: each line is one complete OTLP/JSON ExportTraceServiceRequest (the
// `TracesData` shape of the OTLP file exporter specification's JSON lines)
// holding exactly one span, with its resource and scope repeated on every
// line: a line is self-contained (it can be POSTed to a collector's
// /v1/traces, or read by the Collector's otlpjsonfile receiver). The JSON is
// TraceRequestToJson()'s: hex ids, integer enums (kind 3 = CLIENT), 64-bit
// times as decimal strings.
//
// It plugs into the ExportPipeline like the network exporters, so batching,
// the BSP settings, drop counting and the summary's span counters work the
// same: the pipeline calls Export() once per batch, and the batch is written
// with one fwrite and a flush. A stdout that cannot take the bytes (a full
// pipe) only slows the exporter thread, never the load: the sinks drop and
// count. A write error is kFailed ("cannot write spans to stdout: ...").
//
// Thread: Export() from one thread at a time (the pipeline's exporter thread).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "otel/exporter.h"
#include "otel/proto_writer.h"

namespace stampede::otel {

class ConsoleExporter final : public Exporter {
 public:
  // `out` (borrowed, default stdout) must outlive the exporter; `name` names
  // it in messages.
  explicit ConsoleExporter(std::FILE* out = stdout, std::string name = "stdout");

  ExportResult Export(std::string_view request_body_protobuf, int64_t timeout_ns) override;
  std::string endpoint() const override { return name_; }

 private:
  std::FILE* out_;
  std::string name_;
  ProtoWriter one_span_;  // scratch: a single-span request, reused
  std::string lines_;     // scratch: the batch's lines, reused
};

// Splits `request` (an ExportTraceServiceRequest in protobuf) into one
// single-span request per span, each with its ResourceSpans' resource and
// schema URL and its ScopeSpans' scope and schema URL, and appends each one
// transcoded to OTLP/JSON plus '\n' to `out`. `scratch` is reused between
// calls. Returns the number of spans written, or -1 (and `out` may hold the
// lines before the fault) when the request is malformed. Any thread.
int64_t AppendSpanJsonLines(std::string_view request, ProtoWriter& scratch, std::string& out);

}  // namespace stampede::otel
