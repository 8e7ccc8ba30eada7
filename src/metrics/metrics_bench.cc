// Micro-benchmarks of the metrics hot path: ExpHistogram::Record and
// Shard::Add (ns/op). Not a test; run by hand: ./metrics_bench
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "metrics/exp_histogram.h"
#include "metrics/registry.h"
#include "metrics/shard.h"

namespace stampede::metrics {
namespace {

std::vector<double> LatencySamples() {
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> d(std::log(20e6), 1.0);  // ~20 ms median, in ns
  std::vector<double> v(4096);
  for (double& x : v) x = d(rng);
  return v;
}

void BM_ExpHistogramRecord(benchmark::State& state) {
  const std::vector<double> samples = LatencySamples();
  ExpHistogram h;
  size_t i = 0;
  for (auto _ : state) {
    h.Record(samples[i++ & 4095]);
  }
  benchmark::DoNotOptimize(h.count());
}
BENCHMARK(BM_ExpHistogramRecord);

void BM_ShardAddCounter(benchmark::State& state) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const TagSetId t = shard.Intern({{"name", "/api"}, {"method", "GET"}, {"status", "200"}});
  for (auto _ : state) shard.Add(builtin::kHttpReqs, t, 1);
  benchmark::DoNotOptimize(shard.series().data());
}
BENCHMARK(BM_ShardAddCounter);

void BM_ShardAddTrend(benchmark::State& state) {
  const std::vector<double> samples = LatencySamples();
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const TagSetId t = shard.Intern({{"name", "/api"}, {"method", "GET"}, {"status", "200"}});
  size_t i = 0;
  for (auto _ : state) shard.Add(builtin::kHttpReqDuration, t, samples[i++ & 4095]);
  benchmark::DoNotOptimize(shard.series().data());
}
BENCHMARK(BM_ShardAddTrend);

void BM_ShardInternExisting(benchmark::State& state) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const Tag tags[] = {{"name", "/api/products"},
                      {"method", "GET"},
                      {"status", "200"},
                      {"scenario", "default"},
                      {"expected_response", "true"}};
  for (auto _ : state) benchmark::DoNotOptimize(shard.Intern(tags));
}
BENCHMARK(BM_ShardInternExisting);

// What the engine does per request: look up the tag set, then record the
// request's metrics.
void BM_ShardInternAndAddRequest(benchmark::State& state) {
  const std::vector<double> samples = LatencySamples();
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const Tag tags[] = {{"name", "/api/products"},
                      {"method", "GET"},
                      {"status", "200"},
                      {"scenario", "default"},
                      {"expected_response", "true"}};
  size_t i = 0;
  for (auto _ : state) {
    const TagSetId t = shard.Intern(tags);
    const double d = samples[i++ & 4095];
    shard.Add(builtin::kHttpReqs, t, 1);
    shard.Add(builtin::kHttpReqDuration, t, d);
    shard.Add(builtin::kHttpReqWaiting, t, d * 0.9);
    shard.Add(builtin::kHttpReqFailed, t, 0);
  }
  benchmark::DoNotOptimize(shard.series().data());
}
BENCHMARK(BM_ShardInternAndAddRequest);

}  // namespace
}  // namespace stampede::metrics

BENCHMARK_MAIN();
