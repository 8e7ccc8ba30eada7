// Test-only helpers: a fake run that records k6 metrics the way the engine
// does (one shard, snapshots by hand), and OTLP span batches encoded with
// the real encoder. Used by the store's and the report commands' tests.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "metrics/registry.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"
#include "otel/otlp_encoder.h"
#include "otel/proto_writer.h"
#include "otel/span.h"

namespace stampede::store::testing {

inline constexpr int64_t kStartNs = 1'700'000'000'000'000'000;  // 2023-11-14T22:13:20Z
inline constexpr int64_t kSecNs = 1'000'000'000;
inline constexpr double kMsNs = 1e6;

// A fresh path in a fresh temporary directory, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "stampede_store_XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  std::string dir_;
};

// Records metrics as the engine's RequestRecorder does.
class FakeRun {
 public:
  FakeRun() : registry_(metrics::Registry::WithBuiltins()), shard_(registry_) {}

  // One HTTP request: http_reqs, http_req_duration, http_req_failed (and
  // http_req_waiting = duration / 2), tags name/method/status/(error_code).
  void Request(const std::string& name, double duration_ms, int status,
               const std::string& error_code = "") {
    const std::string st = std::to_string(status);
    const bool failed = status >= 400 || status == 0 || !error_code.empty();
    metrics::TagSetId tags = error_code.empty()
                                 ? shard_.Intern({{"name", name},
                                                  {"method", "GET"},
                                                  {"status", st},
                                                  {"expected_response", failed ? "false" : "true"}})
                                 : shard_.Intern({{"name", name},
                                                  {"method", "GET"},
                                                  {"status", st},
                                                  {"error_code", error_code},
                                                  {"expected_response", "false"}});
    shard_.Add(metrics::builtin::kHttpReqs, tags, 1);
    shard_.Add(metrics::builtin::kHttpReqDuration, tags, duration_ms * kMsNs);
    shard_.Add(metrics::builtin::kHttpReqWaiting, tags, duration_ms * kMsNs / 2);
    shard_.Add(metrics::builtin::kHttpReqFailed, tags, failed ? 1 : 0);
    shard_.Add(metrics::builtin::kDataReceived, tags, 100);
  }
  void Vus(double n) { shard_.Add(metrics::builtin::kVus, metrics::Shard::kNoTags, n); }
  void Check(const std::string& name, const std::string& group, bool pass) {
    metrics::TagSetId tags = shard_.Intern({{"check", name}, {"group", group}});
    shard_.Add(metrics::builtin::kChecks, tags, pass ? 1 : 0);
  }
  std::shared_ptr<const metrics::Snapshot> Snap() const {
    const metrics::Shard* shards[] = {&shard_};
    return std::make_shared<metrics::Snapshot>(metrics::Snapshot::Merge(registry_, shards));
  }
  const metrics::Registry& registry() const { return registry_; }

 private:
  metrics::Registry registry_;
  metrics::Shard shard_;
};

// A span to encode; owns its strings.
struct SpanSpec {
  uint64_t trace = 1;  // the trace id's low 8 bytes
  uint64_t span = 1;
  uint64_t parent = 0;  // 0: root
  std::string name = "GET";
  otel::SpanKind kind = otel::SpanKind::kClient;
  int64_t start_unix_ns = kStartNs;
  int64_t end_unix_ns = kStartNs + 1'000'000;
  otel::StatusCode status = otel::StatusCode::kUnset;
  std::vector<std::pair<std::string, std::string>> str_attrs;
  std::vector<std::pair<std::string, int64_t>> int_attrs;
};

inline otel::TraceId TraceOf(uint64_t v) {
  otel::TraceId id;
  id.bytes[0] = 0xAB;
  for (int i = 0; i < 8; ++i) id.bytes[15 - i] = static_cast<uint8_t>(v >> (8 * i));
  return id;
}
inline otel::SpanId SpanOf(uint64_t v) {
  otel::SpanId id;
  for (int i = 0; i < 8; ++i) id.bytes[7 - i] = static_cast<uint8_t>(v >> (8 * i));
  return id;
}
inline std::string HexTrace(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : TraceOf(v).bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}
inline std::string HexSpan(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (uint8_t b : SpanOf(v).bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xF];
  }
  return out;
}

// A stampede request span: CLIENT, http.request.method, name, status, phases.
inline SpanSpec RequestSpan(uint64_t trace, uint64_t span, const std::string& name,
                            int64_t start_unix_ns, double duration_ms, int status,
                            const std::string& error_type = "") {
  SpanSpec s;
  s.trace = trace;
  s.span = span;
  s.name = "GET " + name;
  s.start_unix_ns = start_unix_ns;
  s.end_unix_ns = start_unix_ns + static_cast<int64_t>(duration_ms * kMsNs);
  s.str_attrs = {{"http.request.method", "GET"},
                 {"url.full", "http://127.0.0.1:8080" + name},
                 {"stampede.request.name", name}};
  if (!error_type.empty()) s.str_attrs.push_back({"error.type", error_type});
  if (status > 0) s.int_attrs.push_back({"http.response.status_code", status});
  if (status >= 400 || !error_type.empty()) s.status = otel::StatusCode::kError;
  const auto ns = [&](double frac) { return static_cast<int64_t>(duration_ms * kMsNs * frac); };
  s.int_attrs.push_back({"stampede.http_req_blocked_ns", ns(0.1)});
  s.int_attrs.push_back({"stampede.http_req_looking_up_ns", ns(0.05)});
  s.int_attrs.push_back({"stampede.http_req_connecting_ns", ns(0.05)});
  s.int_attrs.push_back({"stampede.http_req_sending_ns", ns(0.1)});
  s.int_attrs.push_back({"stampede.http_req_waiting_ns", ns(0.6)});
  s.int_attrs.push_back({"stampede.http_req_receiving_ns", ns(0.1)});
  return s;
}

inline SpanSpec ChildSpan(uint64_t trace, uint64_t span, uint64_t parent, const std::string& name,
                          int64_t start_unix_ns, double duration_ms,
                          otel::SpanKind kind = otel::SpanKind::kInternal) {
  SpanSpec s;
  s.trace = trace;
  s.span = span;
  s.parent = parent;
  s.name = name;
  s.kind = kind;
  s.start_unix_ns = start_unix_ns;
  s.end_unix_ns = start_unix_ns + static_cast<int64_t>(duration_ms * kMsNs);
  return s;
}

// An ExportTraceServiceRequest holding `spans` under one resource.
inline std::string EncodeSpans(const std::vector<SpanSpec>& spans,
                               const std::string& service_name = "stampede",
                               const std::string& scope = "stampede") {
  otel::ProtoWriter chunk;
  for (const SpanSpec& s : spans) {
    std::vector<otel::KeyValue> attrs;
    for (const auto& [k, v] : s.str_attrs) attrs.push_back({k, otel::AnyValue::String(v)});
    for (const auto& [k, v] : s.int_attrs) attrs.push_back({k, otel::AnyValue::Int(v)});
    otel::SpanData d;
    d.trace_id = TraceOf(s.trace);
    d.span_id = SpanOf(s.span);
    if (s.parent != 0) d.parent_span_id = SpanOf(s.parent);
    d.flags = 1;
    d.name = s.name;
    d.kind = s.kind;
    d.start_unix_ns = s.start_unix_ns;
    d.end_unix_ns = s.end_unix_ns;
    d.attributes = attrs;
    d.status = s.status;
    otel::EncodeSpan(d, chunk);
  }
  const otel::KeyValue resource[] = {{"service.name", otel::AnyValue::String(service_name)}};
  otel::ExportRequestHeader header;
  header.resource_attributes = resource;
  header.scope_name = scope;
  const std::string_view chunks[] = {chunk.view()};
  otel::ProtoWriter out;
  otel::EncodeExportTraceRequest(header, chunks, out);
  return std::string(out.view());
}

}  // namespace stampede::store::testing
