// libFuzzer target for the OTLP receiver's decoders and request handling
// (src/otel/otlp_receiver.h, otlp_json_decode.h): everything a client of
// `--collect` controls. The first input byte picks what the rest feeds:
//
//   0: FilterTraceRequest on protobuf bytes; a request it accepts must
//      survive protobuf -> OTLP/JSON (TraceRequestToJson) -> protobuf
//      (TraceRequestJsonToProtobuf) with the same spans and the same JSON,
//      and its rewritten (filtered) request must be valid and hold exactly
//      the kept spans;
//   1: TraceRequestJsonToProtobuf on JSON text; what it accepts must
//      transcode back to JSON and reach a fixpoint (JSON -> protobuf ->
//      JSON gives the same document);
//   2: OtlpRequestHandler::HandleHttp, with the content type, encoding and
//      path chosen by the mode byte's bits (gzip bodies included): only the
//      statuses the spec allows, and what reaches on_spans is valid;
//   3: OtlpRequestHandler::HandleGrpc for the trace, metrics, logs and an
//      unknown method.
//
// A broken invariant aborts (a finding), as does any sanitizer report.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "http/server.h"
#include "otel/otlp_json.h"
#include "otel/otlp_json_decode.h"
#include "otel/otlp_receiver.h"

namespace stampede::otel {
namespace {

using ::stampede::fuzz::Require;

// Keeps the traces whose first id byte is even: both sides of the filter.
bool AcceptEven(const TraceId& id) { return (id.bytes[0] & 1) == 0; }

// Parses JSON our transcoder wrote (so it must parse); numbers compare by
// value, so "-0" and "0" are the same document.
nlohmann::json Parse(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  Require(!j.is_discarded(), "the transcoder wrote invalid JSON", text);
  return j;
}

// Removes proto3 default values from transcoded JSON. A sender may write a
// default explicitly (the JS SDK writes `droppedAttributesCount: 0`); the
// JSON decoder omits it, as proto3 encoders do, and both mean the same.
// Members of AnyValue's oneof keep their defaults: there presence matters.
void StripDefaults(nlohmann::json& j) {
  if (j.is_array()) {
    for (auto& e : j) StripDefaults(e);
    return;
  }
  if (!j.is_object()) return;
  for (auto it = j.begin(); it != j.end();) {
    StripDefaults(it.value());
    const std::string& key = it.key();
    const nlohmann::json& v = it.value();
    const bool oneof = key == "stringValue" || key == "boolValue" || key == "intValue" ||
                       key == "doubleValue" || key == "bytesValue";
    const bool is_default = !oneof && ((v.is_number() && v == 0) || (v.is_string() && v == "") ||
                                       (v.is_string() && v == "0" && key.ends_with("UnixNano")));
    it = is_default ? j.erase(it) : std::next(it);
  }
}

nlohmann::json WithoutDefaults(const std::string& text) {
  nlohmann::json j = Parse(text);
  StripDefaults(j);
  return j;
}

void FuzzProtobuf(std::string_view bytes) {
  FilteredTraceRequest filtered;
  std::string error;
  if (!FilterTraceRequest(bytes, AcceptEven, filtered, error)) {
    Require(!error.empty(), "a refusal without a message");
    return;
  }
  Require(filtered.kept <= filtered.spans, "kept more spans than received");
  if (filtered.kept > 0 && filtered.kept < filtered.spans) {
    FilteredTraceRequest again;
    Require(FilterTraceRequest(filtered.rewritten, AcceptEven, again, error),
            "the rewritten request is malformed", error);
    Require(again.spans == filtered.kept && again.kept == again.spans,
            "the rewritten request does not hold exactly the kept spans");
  } else {
    Require(filtered.rewritten.empty(), "rewritten although nothing or everything was kept");
  }

  // protobuf -> JSON -> protobuf: the transcoder takes whatever the check
  // takes, and the JSON decoder inverts it.
  const std::string text = TraceRequestToJson(bytes);
  Require(!text.empty(), "FilterTraceRequest accepted what the transcoder refuses");
  std::string decoded;
  Require(TraceRequestJsonToProtobuf(text, decoded, error), "cannot decode the transcoder's JSON",
          error + "\n" + text);
  FilteredTraceRequest round;
  Require(FilterTraceRequest(decoded, AcceptEven, round, error), "the JSON round trip is malformed",
          error);
  Require(round.spans == filtered.spans && round.kept == filtered.kept,
          "the JSON round trip changed the spans");
  Require(WithoutDefaults(TraceRequestToJson(decoded)) == WithoutDefaults(text),
          "the JSON round trip changed data", text);
}

void FuzzJson(std::string_view text) {
  std::string protobuf, error;
  if (!TraceRequestJsonToProtobuf(text, protobuf, error)) {
    Require(!error.empty(), "a refusal without a message");
    Require(protobuf.empty(), "output written on failure");
    return;
  }
  const std::string json1 = TraceRequestToJson(protobuf);
  Require(!json1.empty(), "the decoder wrote protobuf the transcoder refuses");
  std::string protobuf2;
  Require(TraceRequestJsonToProtobuf(json1, protobuf2, error), "cannot decode transcoded JSON",
          error);
  Require(Parse(TraceRequestToJson(protobuf2)) == Parse(json1), "JSON -> protobuf not a fixpoint",
          json1);
  FilteredTraceRequest filtered;
  if (FilterTraceRequest(protobuf, AcceptEven, filtered, error)) {
    FilteredTraceRequest filtered2;
    Require(FilterTraceRequest(protobuf2, AcceptEven, filtered2, error) &&
                filtered2.spans == filtered.spans,
            "the fixpoint lost spans");
  }
}

ReceiverOptions HandlerOptions() {
  ReceiverOptions o;
  o.max_decoded_bytes = 1 << 20;  // a gzip bomb stops here
  o.accept_trace = AcceptEven;
  o.on_spans = [](std::string_view request, uint64_t spans) {
    FilteredTraceRequest f;
    std::string error;
    Require(FilterTraceRequest(request, {}, f, error), "on_spans got a malformed request", error);
    Require(f.spans == spans && spans > 0, "on_spans got the wrong span count");
  };
  return o;
}

OtlpRequestHandler& Handler() {
  static OtlpRequestHandler* handler = new OtlpRequestHandler(HandlerOptions());
  return *handler;
}

void FuzzHttp(uint8_t mode, std::string_view body) {
  http::ServerRequest request;
  request.method = (mode & 0x80) ? "GET" : "POST";
  static constexpr const char* kPaths[] = {"/v1/traces", "/v1/traces", "/v1/metrics", "/x"};
  request.path = kPaths[(mode >> 2) & 3];
  request.target = request.path;
  static constexpr const char* kTypes[] = {"application/x-protobuf", "application/json",
                                           "application/json; charset=utf-8", "text/plain"};
  request.headers.emplace_back("Content-Type", kTypes[(mode >> 4) & 3]);
  if (mode & 0x40) request.headers.emplace_back("Content-Encoding", "gzip");
  request.body = std::string(body);
  const http::ServerResponse response = Handler().HandleHttp(request);
  const int s = response.status;
  Require(s == 200 || s == 400 || s == 404 || s == 405 || s == 413 || s == 415,
          "an HTTP status the receiver must not answer");
}

void FuzzGrpc(uint8_t mode, std::string_view message) {
  static constexpr std::string_view kMethods[] = {
      "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
      "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
      "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "/x.Y/Z"};
  const auto answer = Handler().HandleGrpc(kMethods[(mode >> 2) & 3], message);
  Require(answer.code == RpcCode::kOk || answer.code == RpcCode::kInvalidArgument ||
              answer.code == RpcCode::kUnimplemented,
          "a gRPC code the receiver must not answer");
}

}  // namespace
}  // namespace stampede::otel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (mode & 3) {
    case 0:
      stampede::otel::FuzzProtobuf(rest);
      break;
    case 1:
      stampede::otel::FuzzJson(rest);
      break;
    case 2:
      stampede::otel::FuzzHttp(mode, rest);
      break;
    case 3:
      stampede::otel::FuzzGrpc(mode, rest);
      break;
  }
  return 0;
}
