#include "otel/console_metrics_exporter.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "otel/otlp_json.h"

namespace stampede::otel {

ConsoleMetricsExporter::ConsoleMetricsExporter(std::FILE* out, std::string name)
    : out_(out), name_(std::move(name)) {}

ExportResult ConsoleMetricsExporter::Export(std::string_view request_body_protobuf, int64_t) {
  if (request_body_protobuf.empty()) return ExportResult::Ok();
  line_.clear();
  if (!AppendMetricsRequestJson(request_body_protobuf, line_)) {
    return ExportResult::Failed(0, "malformed OTLP metrics request, not written to " + name_);
  }
  line_ += '\n';
  // One call: stdio's stream lock keeps the line whole even if the script
  // print()s from a worker thread meanwhile.
  errno = 0;
  const size_t written = std::fwrite(line_.data(), 1, line_.size(), out_);
  const bool flushed = std::fflush(out_) == 0;
  if (written != line_.size() || !flushed) {
    const int err = errno;
    std::clearerr(out_);
    return ExportResult::Failed(0, "cannot write metrics to " + name_ + ": " +
                                       (err != 0 ? std::strerror(err) : "write error"));
  }
  return ExportResult::Ok();
}

}  // namespace stampede::otel
