#include "otel/console_exporter.h"

#include <cerrno>
#include <cstring>
#include <utility>

#include "otel/otlp_json.h"
#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

// The parts of a ResourceSpans or ScopeSpans that every span line repeats:
// field 1 (resource / scope) and field 3 (schema_url). Returns false on
// malformed bytes.
struct Envelope {
  std::string_view head;  // resource or scope message bytes
  bool has_head = false;
  std::string_view schema_url;
};

bool ReadEnvelope(std::string_view message, Envelope& e) {
  ProtoReader reader(message);
  ProtoField f;
  while (reader.Next(f)) {
    if (f.wire_type != WireType::kLengthDelimited) continue;
    if (f.number == 1) {
      e.head = f.bytes;
      e.has_head = true;
    } else if (f.number == 3) {
      e.schema_url = f.bytes;
    }
  }
  return !reader.error();
}

}  // namespace

int64_t AppendSpanJsonLines(std::string_view request, ProtoWriter& scratch, std::string& out) {
  int64_t spans = 0;
  ProtoReader resource_spans(request);
  ProtoField rs;
  while (resource_spans.Next(rs)) {
    if (rs.number != 1) continue;  // ExportTraceServiceRequest.resource_spans
    if (rs.wire_type != WireType::kLengthDelimited) return -1;
    Envelope resource;
    if (!ReadEnvelope(rs.bytes, resource)) return -1;
    ProtoReader scope_spans(rs.bytes);
    ProtoField ss;
    while (scope_spans.Next(ss)) {
      if (ss.number != 2 || ss.wire_type != WireType::kLengthDelimited) continue;
      Envelope scope;
      if (!ReadEnvelope(ss.bytes, scope)) return -1;
      ProtoReader span_fields(ss.bytes);
      ProtoField span;
      while (span_fields.Next(span)) {
        if (span.number != 2 || span.wire_type != WireType::kLengthDelimited) continue;
        scratch.Clear();
        const auto rs_mark = scratch.BeginMessage(1, span.bytes.size() + resource.head.size() + 64);
        if (resource.has_head) scratch.BytesField(1, resource.head, Presence::kExplicit);
        const auto ss_mark = scratch.BeginMessage(2, span.bytes.size() + scope.head.size() + 8);
        if (scope.has_head) scratch.BytesField(1, scope.head, Presence::kExplicit);
        scratch.BytesField(2, span.bytes, Presence::kExplicit);
        scratch.StringField(3, scope.schema_url);
        scratch.EndMessage(ss_mark);
        scratch.StringField(3, resource.schema_url);
        scratch.EndMessage(rs_mark);
        if (!AppendTraceRequestJson(scratch.view(), out)) return -1;
        out += '\n';
        ++spans;
      }
      if (span_fields.error()) return -1;
    }
    if (scope_spans.error()) return -1;
  }
  if (resource_spans.error()) return -1;
  return spans;
}

ConsoleExporter::ConsoleExporter(std::FILE* out, std::string name)
    : out_(out), name_(std::move(name)) {}

ExportResult ConsoleExporter::Export(std::string_view request_body_protobuf, int64_t) {
  lines_.clear();
  if (AppendSpanJsonLines(request_body_protobuf, one_span_, lines_) < 0) {
    return ExportResult::Failed(0, "malformed OTLP request, not written to " + name_);
  }
  if (lines_.empty()) return ExportResult::Ok();
  // One call per batch: stdio's stream lock keeps the batch's lines whole
  // even if the script print()s from a worker thread meanwhile.
  errno = 0;
  const size_t written = std::fwrite(lines_.data(), 1, lines_.size(), out_);
  const bool flushed = std::fflush(out_) == 0;
  if (written != lines_.size() || !flushed) {
    const int err = errno;
    std::clearerr(out_);
    return ExportResult::Failed(0, "cannot write spans to " + name_ + ": " +
                                       (err != 0 ? std::strerror(err) : "write error"));
  }
  return ExportResult::Ok();
}

}  // namespace stampede::otel
