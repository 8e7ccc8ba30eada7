// Cost of encoding one OTLP metrics export: 2000 series as the ExportModel
// gives them for a run with 200 (name, method, status) request groups — 7
// latency histograms per group (http_req_duration and its phases, in s) and 3
// counters. Goal: < 5 ms per export (the Time column), every temporality and
// aggregation. Each of the 1400 histograms holds 2000 log-spread latencies
// (1 ms .. 1 s, so the recording histograms span 2560 buckets at scale 8:
// close to the worst case for the bucket conversion).
#include <benchmark/benchmark.h>

#include <cmath>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "metrics/exemplars.h"
#include "metrics/export_model.h"
#include "otel/metrics_encoder.h"
#include "otel/proto_writer.h"

namespace stampede::otel {
namespace {

using metrics::ExpHistogram;
using metrics::ExportMetric;
using metrics::ExportPoint;
using metrics::InstrumentKind;

constexpr int kGroups = 200;
constexpr int64_t kStart = 1'700'000'000'000'000'000;

struct Fixture {
  Fixture() {
    const char* trends[] = {"http_req_duration",        "http_req_blocked", "http_req_connecting",
                            "http_req_tls_handshaking", "http_req_sending", "http_req_waiting",
                            "http_req_receiving"};
    const char* counters[] = {"http_reqs", "data_sent", "data_received"};
    uint64_t x = 0x9e3779b97f4a7c15ull;
    // One histogram per point (1400, ~45 MB of buckets): reading them is
    // memory-bound, as in a real run, not served from cache.
    for (size_t t = 0; t < std::size(trends) * kGroups; ++t) {
      auto h = std::make_unique<ExpHistogram>();
      for (int i = 0; i < 2000; ++i) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        h->Record(1e6 * std::exp2(static_cast<double>(x >> 11) / 9007199254740992.0 * 10));
      }
      histograms.push_back(std::move(h));
    }
    for (const char* name : trends) {
      ExportMetric m;
      m.name = std::string("stampede_") + name;
      m.description = "Request phase duration.";
      m.unit = "s";
      m.kind = InstrumentKind::kHistogram;
      m.unit_scale = 1e-9;
      m.exemplars = metrics::ExemplarValue::kDuration;
      for (int g = 0; g < kGroups; ++g) {
        ExportPoint p;
        p.attributes = Attributes(g);
        p.histogram = histograms[metrics_.size() * kGroups + static_cast<size_t>(g)].get();
        p.exemplar_key = metrics::ExemplarKey("/api/" + std::to_string(g), "GET", "200");
        m.points.push_back(std::move(p));
      }
      metrics_.push_back(std::move(m));
    }
    for (const char* name : counters) {
      ExportMetric m;
      m.name = std::string("stampede_") + name;
      m.description = "A counter.";
      m.unit = "1";
      m.kind = InstrumentKind::kCounter;
      for (int g = 0; g < kGroups; ++g) {
        ExportPoint p;
        p.attributes = Attributes(g);
        p.number = 1000.0 * g;
        m.points.push_back(std::move(p));
      }
      metrics_.push_back(std::move(m));
    }
    metrics::Exemplar e;
    e.trace_id[0] = 1;
    e.span_id[0] = 1;
    e.duration_ns = 5'000'000;
    for (int g = 0; g < kGroups; ++g) {
      exemplars[metrics::ExemplarKey("/api/" + std::to_string(g), "GET", "200")] = {e, e, e};
    }
  }

  static std::vector<metrics::ExportAttribute> Attributes(int g) {
    return {{"method", "GET"},
            {"name", "/api/" + std::to_string(g)},
            {"stampede.scenario", "default"},
            {"status", "200"}};
  }

  std::vector<std::unique_ptr<ExpHistogram>> histograms;
  std::vector<ExportMetric> metrics_;
  std::map<std::string, std::vector<metrics::Exemplar>> exemplars;
};

void BM_EncodeExport(benchmark::State& state, MetricsTemporality temporality,
                     HistogramAggregation aggregation) {
  static Fixture fixture;
  MetricsEncoder encoder({.temporality = temporality, .histogram = aggregation});
  const KeyValue resource[] = {{"service.name", AnyValue::String("stampede")}};
  const ExportRequestHeader header{
      .resource_attributes = resource, .scope_name = "stampede", .scope_version = "0.1.0"};
  ProtoWriter out;
  int64_t time = kStart;
  uint64_t points = 0;
  for (auto _ : state) {
    out.Clear();
    time += 10'000'000'000;
    // Delta: every series grows between exports (untimed), so every point
    // is a real difference against the previous export.
    if (temporality != MetricsTemporality::kCumulative) {
      state.PauseTiming();
      for (auto& h : fixture.histograms) h->Record(5e6);
      for (ExportMetric& m : fixture.metrics_) {
        for (ExportPoint& p : m.points) p.number += 1;
      }
      state.ResumeTiming();
    }
    const MetricsEncodeResult r = encoder.Encode(header,
                                                 MetricsBatch{.metrics = fixture.metrics_,
                                                              .exemplars = &fixture.exemplars,
                                                              .start_unix_ns = kStart,
                                                              .time_unix_ns = time},
                                                 out);
    points = r.data_points;
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["series"] = static_cast<double>(points);
  state.counters["bytes"] = static_cast<double>(out.size());
}

BENCHMARK_CAPTURE(BM_EncodeExport, cumulative_exponential, MetricsTemporality::kCumulative,
                  HistogramAggregation::kBase2Exponential)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeExport, cumulative_explicit, MetricsTemporality::kCumulative,
                  HistogramAggregation::kExplicitBucket)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeExport, delta_exponential, MetricsTemporality::kDelta,
                  HistogramAggregation::kBase2Exponential)
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace stampede::otel

BENCHMARK_MAIN();
