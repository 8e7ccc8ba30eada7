// The coordinator's merge cost (issue 11's goal: 200 agents × 2000 series
// merged in under 100 ms per second of test, on one core). Not a test; run by
// hand (bench/RESULTS.md, "Coordinator merge"):
//   build-merge/src/dist/merge_bench --benchmark_filter='200/' \
//     --benchmark_min_time=3 --benchmark_repetitions=3
//
// Each simulated agent has 2000 series: 1200 trends (8 latency trends × 150
// endpoints, log-normal latencies), 450 counters, 300 rates, 48 untagged
// counters and the 2 VU gauges. Its cumulative snapshot after a warm-up is
// sent once (absolute); one second of deltas is pre-encoded. One benchmark
// iteration = one second of test: decode + Apply of every agent's delta.
// Agents share a few distinct data sets (memory), each agent its own
// decoder and its own state in the merger (default MergerOptions: at 200
// agents the agents' own histograms exceed the budget and are dropped in
// the warm-up, as they would be in a real run of that size).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dist/snapshot_codec.h"
#include "dist/snapshot_merger.h"
#include "metrics/registry.h"
#include "metrics/shard.h"

namespace stampede::dist {
namespace {

using metrics::MetricId;
using metrics::MetricType;

constexpr int kEndpoints = 150;
constexpr int kDistinctDataSets = 4;
constexpr int kWarmupSeconds = 20;

struct DataSet {
  std::string absolute;  // the cumulative after the warm-up, agent index 0
  std::string delta;     // one more second, agent index 0
};

// Encodes the agent index in place of index 0 (byte 3 of the header).
std::string ForAgent(const std::string& msg, uint32_t agent) {
  std::string out = msg.substr(0, 3);
  uint64_t v = agent;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  out.append(msg, 4);
  return out;
}

DataSet MakeDataSet(uint64_t seed, int samples_per_trend_second) {
  metrics::Registry registry = metrics::Registry::WithBuiltins();
  std::vector<MetricId> extra;
  for (int i = 0; i < 48; ++i) {
    extra.push_back(registry.DefineCustom("custom_counter_" + std::to_string(i),
                                          MetricType::kCounter, metrics::ValueType::kDefault));
  }
  metrics::Shard shard(registry);
  std::mt19937_64 rng(seed);
  std::vector<metrics::TagSetId> tags;
  std::vector<double> median_ns;
  for (int e = 0; e < kEndpoints; ++e) {
    const std::string name = "/api/endpoint/" + std::to_string(e);
    tags.push_back(shard.Intern({{"name", name}, {"method", "GET"}, {"status", "200"}}));
    median_ns.push_back(1e6 * std::exp(std::uniform_real_distribution<double>(0, 5)(rng)));
  }
  const MetricId trends[] = {
      metrics::builtin::kHttpReqDuration,   metrics::builtin::kHttpReqBlocked,
      metrics::builtin::kHttpReqConnecting, metrics::builtin::kHttpReqTlsHandshaking,
      metrics::builtin::kHttpReqSending,    metrics::builtin::kHttpReqWaiting,
      metrics::builtin::kHttpReqReceiving,  metrics::builtin::kIterationDuration};
  auto one_second = [&](int second) {
    for (int e = 0; e < kEndpoints; ++e) {
      std::lognormal_distribution<double> latency(std::log(median_ns[e]), 0.6);
      for (int s = 0; s < samples_per_trend_second; ++s) {
        for (MetricId m : trends) shard.Add(m, tags[e], latency(rng));
        shard.Add(metrics::builtin::kHttpReqs, tags[e], 1);
        shard.Add(metrics::builtin::kDataSent, tags[e], 200);
        shard.Add(metrics::builtin::kDataReceived, tags[e],
                  5000 + static_cast<double>(rng() % 100));
        shard.Add(metrics::builtin::kHttpReqFailed, tags[e], rng() % 100 == 0);
        shard.Add(metrics::builtin::kChecks, tags[e], rng() % 50 != 0);
      }
    }
    for (MetricId m : extra) shard.Add(m, metrics::Shard::kNoTags, 1);
    shard.Add(metrics::builtin::kVus, metrics::Shard::kNoTags, 50 + second % 7);
    shard.Add(metrics::builtin::kVusMax, metrics::Shard::kNoTags, 100);
  };
  auto snapshot = [&](int seconds) {
    const metrics::Shard* shards[] = {&shard};
    metrics::Snapshot s = metrics::Snapshot::Merge(registry, shards);
    s.set_elapsed_ns(int64_t{seconds} * 1'000'000'000);
    return s;
  };
  for (int s = 1; s <= kWarmupSeconds; ++s) one_second(s);
  SnapshotEncoder enc(0);
  DataSet d;
  d.absolute = enc.Encode(snapshot(kWarmupSeconds));
  enc.Ack(1);
  one_second(kWarmupSeconds + 1);
  d.delta = enc.Encode(snapshot(kWarmupSeconds + 1));
  return d;
}

const std::vector<DataSet>& DataSets(int samples) {
  static std::map<int, std::vector<DataSet>> cache;
  auto& v = cache[samples];
  if (v.empty()) {
    for (int i = 0; i < kDistinctDataSets; ++i) v.push_back(MakeDataSet(1000 + i, samples));
  }
  return v;
}

// Args: agents, samples per trend series per agent per second.
void BM_CoordinatorSecond(benchmark::State& state) {
  const auto agents = static_cast<uint32_t>(state.range(0));
  const int samples = static_cast<int>(state.range(1));
  const std::vector<DataSet>& sets = DataSets(samples);
  std::vector<std::string> deltas;
  std::vector<SnapshotDecoder> decoders;
  SnapshotMerger merger(agents);
  size_t delta_bytes = 0;
  for (uint32_t i = 0; i < agents; ++i) {
    const DataSet& set = sets[i % sets.size()];
    decoders.emplace_back(i);
    merger.Apply(i, decoders[i].Decode(ForAgent(set.absolute, i)));
    deltas.push_back(ForAgent(set.delta, i));
    delta_bytes += deltas.back().size();
  }
  size_t series = 0;
  DecodedDelta d;  // reused: decoding allocates nothing in steady state
  for (auto _ : state) {
    for (uint32_t i = 0; i < agents; ++i) {
      decoders[i].Decode(deltas[i], d);
      // The same second again, as the next one (same samples, new seq).
      d.base_seq = merger.AppliedSeq(i);
      d.seq = d.base_seq + 1;
      series += d.series.size();
      if (merger.Apply(i, d) != ApplyStatus::kApplied) state.SkipWithError("not applied");
    }
  }
  state.counters["delta_MB_per_second"] = static_cast<double>(delta_bytes) / 1e6;
  state.counters["series_per_second"] =
      static_cast<double>(series) / static_cast<double>(state.iterations());
  state.counters["merged_series"] = static_cast<double>(merger.Merged().series().size());
}
BENCHMARK(BM_CoordinatorSecond)
    ->Args({50, 30})
    ->Args({200, 30})
    ->Args({200, 5})
    ->Args({50, 300})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The coordinator's way (coordinator.cc): a second's reports decoded as they
// arrive, then applied together with SnapshotMerger::ApplyBatch.
void BM_CoordinatorSecondBatched(benchmark::State& state) {
  const auto agents = static_cast<uint32_t>(state.range(0));
  const int samples = static_cast<int>(state.range(1));
  const std::vector<DataSet>& sets = DataSets(samples);
  std::vector<std::string> deltas;
  std::vector<SnapshotDecoder> decoders;
  SnapshotMerger merger(agents);
  for (uint32_t i = 0; i < agents; ++i) {
    const DataSet& set = sets[i % sets.size()];
    decoders.emplace_back(i);
    merger.Apply(i, decoders[i].Decode(ForAgent(set.absolute, i)));
    deltas.push_back(ForAgent(set.delta, i));
  }
  const auto chunk = static_cast<uint32_t>(state.range(2));
  std::vector<DecodedDelta> decoded(chunk);  // reused, as the coordinator's
  std::vector<SnapshotMerger::BatchItem> items(chunk);
  for (auto _ : state) {
    for (uint32_t first = 0; first < agents; first += chunk) {
      const uint32_t n = std::min(chunk, agents - first);
      for (uint32_t k = 0; k < n; ++k) {
        const uint32_t i = first + k;
        decoders[i].Decode(deltas[i], decoded[k]);
        decoded[k].base_seq = merger.AppliedSeq(i);
        decoded[k].seq = decoded[k].base_seq + 1;
        items[k].agent = i;
        items[k].delta = &decoded[k];
      }
      merger.ApplyBatch(std::span(items.data(), n));
      for (uint32_t k = 0; k < n; ++k) {
        if (items[k].status != ApplyStatus::kApplied) state.SkipWithError("not applied");
      }
    }
  }
  state.counters["merged_series"] = static_cast<double>(merger.Merged().series().size());
}
BENCHMARK(BM_CoordinatorSecondBatched)
    ->Args({50, 30, 50})
    ->Args({200, 30, 200})
    ->Args({200, 30, 64})
    ->Args({200, 30, 32})
    ->Args({200, 30, 16})
    ->Args({200, 5, 32})
    ->Args({50, 300, 32})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace stampede::dist

BENCHMARK_MAIN();
