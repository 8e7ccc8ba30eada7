// Encoding cost of one realistic HTTP CLIENT span (the per-request cost on
// the telemetry path). Goal: >= 1 M spans/s per core, i.e. <= 1000 ns/span.
// Reported as ns per span (Time column) and items_per_second.
#include <benchmark/benchmark.h>

#include <string_view>
#include <vector>

#include "otel/otlp_encoder.h"
#include "otel/otlp_json.h"
#include "otel/proto_writer.h"

namespace stampede::otel {
namespace {

// The attribute set the engine attaches to a request span (error.type absent).
struct HttpClientSpan {
  HttpClientSpan() {
    attributes = {
        {"http.request.method", AnyValue::String("GET")},
        {"url.full", AnyValue::String("http://127.0.0.1:8080/api/v1/items?id=12345&page=2")},
        {"server.address", AnyValue::String("127.0.0.1")},
        {"server.port", AnyValue::Int(8080)},
        {"http.response.status_code", AnyValue::Int(200)},
        {"network.protocol.version", AnyValue::String("1.1")},
        {"network.peer.address", AnyValue::String("127.0.0.1")},
        {"network.peer.port", AnyValue::Int(8080)},
        {"user_agent.synthetic.type", AnyValue::String("test")},
        {"stampede.scenario", AnyValue::String("browse_catalog")},
        {"stampede.vu", AnyValue::Int(137)},
        {"stampede.iteration", AnyValue::Int(48213)},
        {"stampede.request.name", AnyValue::String("GET /api/v1/items")},
    };
    event_attributes = {};
    events = {{.time_unix_ns = 1'700'000'000'001'500'000,
               .name = "http.response.first_byte",
               .attributes = event_attributes}};
    for (size_t i = 0; i < 16; ++i) data.trace_id.bytes[i] = static_cast<uint8_t>(0x4b + i * 7);
    for (size_t i = 0; i < 8; ++i) data.span_id.bytes[i] = static_cast<uint8_t>(0x11 + i * 3);
    for (size_t i = 0; i < 8; ++i) data.parent_span_id.bytes[i] = static_cast<uint8_t>(0x21 + i);
    data.flags = 0x101;
    data.name = "GET";
    data.kind = SpanKind::kClient;
    data.start_unix_ns = 1'700'000'000'000'000'000;
    data.end_unix_ns = 1'700'000'000'004'250'000;
    data.attributes = attributes;
    data.events = events;
  }
  HttpClientSpan(const HttpClientSpan&) = delete;
  HttpClientSpan& operator=(const HttpClientSpan&) = delete;

  std::vector<KeyValue> attributes;
  std::vector<KeyValue> event_attributes;
  std::vector<SpanEvent> events;
  SpanData data;
};

// One span per iteration into a writer cleared every 512 spans (a batch).
void BM_EncodeHttpClientSpan(benchmark::State& state) {
  HttpClientSpan span;
  ProtoWriter w(1 << 20);
  size_t in_batch = 0;
  for (auto _ : state) {
    if (in_batch++ == 512) {
      w.Clear();
      in_batch = 1;
    }
    EncodeSpan(span.data, w);
    benchmark::DoNotOptimize(w.data());
  }
  state.SetItemsProcessed(state.iterations());
  w.Clear();
  state.counters["bytes_per_span"] = static_cast<double>(EncodeSpan(span.data, w));
}
BENCHMARK(BM_EncodeHttpClientSpan);

// Wrapping a 512-span batch into an ExportTraceServiceRequest (per span).
void BM_EncodeExportRequest512(benchmark::State& state) {
  HttpClientSpan span;
  ProtoWriter spans;
  for (int i = 0; i < 512; ++i) EncodeSpan(span.data, spans);
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")},
                               {"service.version", AnyValue::String("0.1.0")},
                               {"telemetry.sdk.name", AnyValue::String("stampede")}};
  const ExportRequestHeader header{
      .resource_attributes = resource, .scope_name = "stampede", .scope_version = "0.1.0"};
  const std::string_view chunks[] = {spans.view()};
  ProtoWriter out;
  for (auto _ : state) {
    out.Clear();
    EncodeExportTraceRequest(header, chunks, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 512);
}
BENCHMARK(BM_EncodeExportRequest512);

// OTLP/JSON transcoding (cold path; for the http/json exporter), per span.
void BM_TraceRequestToJson(benchmark::State& state) {
  HttpClientSpan span;
  ProtoWriter spans;
  for (int i = 0; i < 64; ++i) EncodeSpan(span.data, spans);
  const ExportRequestHeader header{.scope_name = "stampede"};
  const std::string_view chunks[] = {spans.view()};
  ProtoWriter request;
  EncodeExportTraceRequest(header, chunks, request);
  for (auto _ : state) {
    std::string json = TraceRequestToJson(request.view());
    benchmark::DoNotOptimize(json.data());
  }
  state.SetItemsProcessed(state.iterations() * 64);
}
BENCHMARK(BM_TraceRequestToJson);

}  // namespace
}  // namespace stampede::otel

BENCHMARK_MAIN();
