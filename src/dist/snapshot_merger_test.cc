#include "dist/snapshot_merger.h"

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "dist/snapshot_codec.h"
#include "metrics/shard.h"

namespace stampede::dist {
namespace testing_helpers {  // snapshot_codec_test.cc
void ExpectSameHistogram(const metrics::ExpHistogram& a, const metrics::ExpHistogram& b,
                         const std::string& what);
void ExpectSameSnapshot(const metrics::Snapshot& got, const metrics::Snapshot& want,
                        const std::vector<std::string>& skip_gauges = {});
}  // namespace testing_helpers

namespace {

using metrics::builtin::kHttpReqDuration;
using metrics::builtin::kHttpReqFailed;
using metrics::builtin::kHttpReqs;
using metrics::builtin::kVus;
using metrics::builtin::kVusMax;
using testing_helpers::ExpectSameHistogram;
using testing_helpers::ExpectSameSnapshot;

constexpr int64_t kSecond = 1'000'000'000;

// A simulated agent process: its own registry and worker shards, and the
// encoder that talks to the coordinator.
struct SimAgent {
  explicit SimAgent(uint32_t index, uint64_t seed) : rng(seed), encoder(index) {
    custom_gauge = registry.DefineCustom("queue_depth", metrics::MetricType::kGauge,
                                         metrics::ValueType::kDefault);
    for (int i = 0; i < 2; ++i) shards.push_back(std::make_unique<metrics::Shard>(registry));
  }

  void Load(int n, metrics::ExpHistogram& whole, std::vector<double>& all) {
    static const char* kNames[] = {"/", "/api/products", "/api/cart"};
    std::lognormal_distribution<double> latency(std::log(20e6), 0.8);
    for (int i = 0; i < n; ++i) {
      metrics::Shard& shard = *shards[rng() % shards.size()];
      const bool failed = rng() % 20 == 0;
      const auto t =
          shard.Intern({{"name", kNames[rng() % 3]}, {"status", failed ? "500" : "200"}});
      const double d = latency(rng);
      whole.Record(d);
      all.push_back(d);
      shard.Add(kHttpReqs, t, 1);
      shard.Add(kHttpReqDuration, t, d);
      shard.Add(kHttpReqFailed, t, failed ? 1 : 0);
    }
  }

  metrics::Snapshot Cumulative() const {
    std::vector<const metrics::Shard*> v;
    for (const auto& s : shards) v.push_back(s.get());
    metrics::Snapshot s = metrics::Snapshot::Merge(registry, v);
    s.set_elapsed_ns(elapsed_ns);
    return s;
  }

  // One second: encode, decode on the coordinator's decoder, apply, ack.
  ApplyStatus Send(SnapshotDecoder& decoder, SnapshotMerger& merger) {
    const std::string msg = encoder.Encode(Cumulative());
    const ApplyStatus st = merger.Apply(encoder.agent_index(), decoder.Decode(msg));
    if (!encoder.Ack(merger.AppliedSeq(encoder.agent_index()))) encoder.Reset();
    return st;
  }

  std::mt19937_64 rng;
  metrics::Registry registry = metrics::Registry::WithBuiltins();
  std::vector<std::unique_ptr<metrics::Shard>> shards;
  metrics::MetricId custom_gauge = 0;
  SnapshotEncoder encoder;
  int64_t elapsed_ns = 0;
};

class MergerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (uint32_t i = 0; i < 3; ++i) {
      agents_.push_back(std::make_unique<SimAgent>(i, 100 + i));
      decoders_.emplace_back(i);
    }
  }

  // Merges the agents' own cumulative snapshots the reference way.
  metrics::Snapshot Reference() const {
    metrics::Snapshot whole;
    for (const auto& a : agents_) whole.MergeFrom(a->Cumulative());
    return whole;
  }

  std::vector<std::unique_ptr<SimAgent>> agents_;
  std::vector<SnapshotDecoder> decoders_;
  SnapshotMerger merger_{3};
  metrics::ExpHistogram whole_;
  std::vector<double> all_;
};

TEST_F(MergerTest, ThreeAgentsMergeExactlyLikeOneHistogramOfEverySample) {
  for (int second = 1; second <= 6; ++second) {
    for (uint32_t i = 0; i < 3; ++i) {
      SimAgent& a = *agents_[i];
      a.Load(200 + 150 * static_cast<int>(i) + second * 17, whole_, all_);
      a.elapsed_ns = second * kSecond + i;
      ASSERT_EQ(a.Send(decoders_[i], merger_), ApplyStatus::kApplied);
    }
  }
  const metrics::Snapshot& merged = merger_.Merged();
  const metrics::SeriesValue duration = merged.Aggregate(kHttpReqDuration);
  ASSERT_TRUE(duration.trend.has_value());
  ExpectSameHistogram(*duration.trend, whole_, "http_req_duration");
  EXPECT_EQ(duration.trend->count(), all_.size());
  EXPECT_EQ(duration.samples, all_.size());
  std::sort(all_.begin(), all_.end());
  EXPECT_EQ(duration.trend->min(), all_.front());
  EXPECT_EQ(duration.trend->max(), all_.back());
  EXPECT_EQ(duration.trend->Quantile(0.95), whole_.Quantile(0.95));

  const metrics::SeriesValue reqs = merged.Aggregate(kHttpReqs);
  EXPECT_EQ(reqs.count, static_cast<double>(all_.size()));
  const metrics::SeriesValue failed = merged.Aggregate(kHttpReqFailed);
  EXPECT_EQ(failed.passes + failed.fails, all_.size());
  EXPECT_EQ(merged.elapsed_ns(), 6 * kSecond + 2);

  // Series by series: the same as merging the agents' own snapshots.
  ExpectSameSnapshot(merged, Reference());
  for (uint32_t i = 0; i < 3; ++i) ExpectSameSnapshot(merger_.Agent(i), agents_[i]->Cumulative());
}

TEST_F(MergerTest, LostMessagesAndLostAcksAreCoveredByTheNextDelta) {
  SimAgent& a = *agents_[0];
  a.Load(100, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);

  // Lost request: encoded, never arrives.
  a.Load(50, whole_, all_);
  (void)a.encoder.Encode(a.Cumulative());
  a.Load(50, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);
  ExpectSameSnapshot(merger_.Agent(0), a.Cumulative());

  // Lost response: applied, but the agent never hears of it.
  a.Load(30, whole_, all_);
  const uint64_t seq_before = merger_.AppliedSeq(0);
  merger_.Apply(0, decoders_[0].Decode(a.encoder.Encode(a.Cumulative())));
  EXPECT_GT(merger_.AppliedSeq(0), seq_before);
  a.Load(30, whole_, all_);
  // The next delta is from the old base: refused, and the reply (the seq the
  // coordinator holds) lets the agent move its base; nothing is counted twice.
  const std::string stale_base = a.encoder.Encode(a.Cumulative());
  EXPECT_EQ(merger_.Apply(0, decoders_[0].Decode(stale_base)), ApplyStatus::kBaseMismatch);
  ASSERT_TRUE(a.encoder.Ack(merger_.AppliedSeq(0)));
  ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);
  ExpectSameSnapshot(merger_.Agent(0), a.Cumulative());
  ExpectSameSnapshot(merger_.Merged(), a.Cumulative());

  // A retry of something already applied is stale and ignored.
  a.Load(5, whole_, all_);
  const std::string retried = a.encoder.Encode(a.Cumulative());
  ASSERT_EQ(merger_.Apply(0, decoders_[0].Decode(retried)), ApplyStatus::kApplied);
  EXPECT_EQ(merger_.Apply(0, decoders_[0].Decode(retried)), ApplyStatus::kStale);
  ExpectSameSnapshot(merger_.Merged(), a.Cumulative());
}

TEST_F(MergerTest, VusAreSummedOtherGaugesTakeTheLargest) {
  const double vus[] = {10, 20, 30};
  for (uint32_t i = 0; i < 3; ++i) {
    SimAgent& a = *agents_[i];
    a.shards[0]->Add(kVus, metrics::Shard::kNoTags, vus[i]);
    a.shards[0]->Add(kVusMax, metrics::Shard::kNoTags, 50);
    a.shards[0]->Add(a.custom_gauge, metrics::Shard::kNoTags, 5 + static_cast<double>(i));
    ASSERT_EQ(a.Send(decoders_[i], merger_), ApplyStatus::kApplied);
  }
  auto gauge = [&](std::string_view name) {
    return merger_.Merged().Aggregate(*merger_.Merged().FindMetric(name));
  };
  EXPECT_EQ(gauge("vus").value, 60);
  EXPECT_EQ(gauge("vus_max").value, 150);
  EXPECT_EQ(gauge("queue_depth").value, 7);
  EXPECT_EQ(gauge("queue_depth").min, 5);
  EXPECT_EQ(gauge("queue_depth").max, 7);

  // Agent 1 ramps down; agent 2's queue empties.
  agents_[1]->shards[0]->Add(kVus, metrics::Shard::kNoTags, 4);
  ASSERT_EQ(agents_[1]->Send(decoders_[1], merger_), ApplyStatus::kApplied);
  agents_[2]->shards[0]->Add(agents_[2]->custom_gauge, metrics::Shard::kNoTags, 0);
  ASSERT_EQ(agents_[2]->Send(decoders_[2], merger_), ApplyStatus::kApplied);
  EXPECT_EQ(gauge("vus").value, 44);
  EXPECT_EQ(gauge("vus").max, 60);
  EXPECT_EQ(gauge("queue_depth").value, 6);  // agent 1's
  EXPECT_EQ(gauge("queue_depth").min, 0);
  EXPECT_EQ(gauge("queue_depth").samples, 4u);
}

TEST_F(MergerTest, ALostAgentKeepsContributing) {
  for (int second = 1; second <= 3; ++second) {
    for (uint32_t i = 0; i < 3; ++i) {
      if (i == 2 && second > 1) continue;  // agent 2 died after its first second
      agents_[i]->Load(100, whole_, all_);
      ASSERT_EQ(agents_[i]->Send(decoders_[i], merger_), ApplyStatus::kApplied);
    }
  }
  EXPECT_EQ(merger_.Merged().Aggregate(kHttpReqs).count, static_cast<double>(all_.size()));
  ExpectSameSnapshot(merger_.Merged(), Reference());
}

TEST_F(MergerTest, ANameWithTwoTypesIsAnErrorNamingIt) {
  agents_[0]->Load(10, whole_, all_);
  ASSERT_EQ(agents_[0]->Send(decoders_[0], merger_), ApplyStatus::kApplied);
  metrics::Registry other;
  other.DefineCustom("queue_depth", metrics::MetricType::kTrend, metrics::ValueType::kTime);
  metrics::Shard s(other);
  s.Add(0, metrics::Shard::kNoTags, 1);
  const metrics::Shard* shards[] = {&s};
  SnapshotEncoder enc(1);
  const size_t series_before = merger_.Merged().series().size();
  try {
    merger_.Apply(1, decoders_[1].Decode(enc.Encode(metrics::Snapshot::Merge(other, shards))));
    ADD_FAILURE() << "merged a gauge with a trend";
  } catch (const MergeError& e) {
    EXPECT_NE(std::string(e.what()).find("\"queue_depth\""), std::string::npos) << e.what();
  }
  EXPECT_EQ(merger_.AppliedSeq(1), 0u);
  EXPECT_EQ(merger_.Merged().series().size(), series_before);
  EXPECT_THROW(merger_.Apply(7, DecodedDelta{}), MergeError);
}

TEST_F(MergerTest, ReconnectResendsCumulativeWithoutCountingTwice) {
  SimAgent& a = *agents_[0];
  for (int second = 1; second <= 3; ++second) {
    a.Load(80, whole_, all_);
    ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);
  }
  agents_[1]->Load(40, whole_, all_);
  ASSERT_EQ(agents_[1]->Send(decoders_[1], merger_), ApplyStatus::kApplied);
  // The connection drops; the agent reconnects with a new epoch.
  a.encoder.Reset();
  a.Load(80, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);
  a.Load(10, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);
  ExpectSameSnapshot(merger_.Merged(), Reference());
  ExpectSameHistogram(*merger_.Merged().Aggregate(kHttpReqDuration).trend, whole_, "duration");
}

TEST_F(MergerTest, AnAgentThatRestartsItsCountingReplacesItsValues) {
  for (uint32_t i = 0; i < 2; ++i) {
    agents_[i]->Load(100, whole_, all_);
    ASSERT_EQ(agents_[i]->Send(decoders_[i], merger_), ApplyStatus::kApplied);
  }
  // Agent 0's shards start over (fewer samples than it reported).
  SimAgent& a = *agents_[0];
  for (auto& s : a.shards) s->ResetValues();
  metrics::ExpHistogram ignored;
  std::vector<double> ignored_all;
  a.Load(5, ignored, ignored_all);
  ASSERT_EQ(a.Send(decoders_[0], merger_), ApplyStatus::kApplied);
  ExpectSameSnapshot(merger_.Agent(0), a.Cumulative());
  ExpectSameSnapshot(merger_.Merged(), Reference());
  EXPECT_EQ(merger_.Merged().Aggregate(kHttpReqs).count, 105);
}

// Without the agents' own histograms (over the memory budget) the merge of
// deltas stays exact; only the agents' own trends lose their histograms.
TEST_F(MergerTest, OverTheHistogramBudgetTheMergeStaysExact) {
  SnapshotMerger merger(3, MergerOptions{.agent_histogram_budget_bytes = 1});
  EXPECT_TRUE(merger.agent_histograms_held());
  for (int second = 1; second <= 6; ++second) {
    for (uint32_t i = 0; i < 3; ++i) {
      SimAgent& a = *agents_[i];
      a.Load(200 + 150 * static_cast<int>(i) + second * 17, whole_, all_);
      a.elapsed_ns = second * kSecond + i;
      ASSERT_EQ(a.Send(decoders_[i], merger), ApplyStatus::kApplied);
    }
  }
  EXPECT_FALSE(merger.agent_histograms_held());
  EXPECT_EQ(merger.agent_histogram_bytes(), 0u);
  EXPECT_EQ(merger.unmerged_trend_samples(), 0u);
  ExpectSameHistogram(*merger.Merged().Aggregate(kHttpReqDuration).trend, whole_, "duration");
  ExpectSameSnapshot(merger.Merged(), Reference());
  for (uint32_t i = 0; i < 3; ++i) {
    const metrics::Snapshot own = merger.Agent(i);
    const metrics::Snapshot want = agents_[i]->Cumulative();
    EXPECT_EQ(own.Aggregate(kHttpReqs).count, want.Aggregate(kHttpReqs).count);
    const metrics::SeriesValue d = own.Aggregate(kHttpReqDuration);
    EXPECT_EQ(d.samples, want.Aggregate(kHttpReqDuration).samples);
    EXPECT_FALSE(d.trend.has_value());  // samples only
  }
}

TEST_F(MergerTest, WithinTheHistogramBudgetAgentsKeepTheirHistograms) {
  agents_[0]->Load(100, whole_, all_);
  ASSERT_EQ(agents_[0]->Send(decoders_[0], merger_), ApplyStatus::kApplied);
  EXPECT_TRUE(merger_.agent_histograms_held());
  EXPECT_GT(merger_.agent_histogram_bytes(), 0u);
  EXPECT_LE(merger_.agent_histogram_bytes(), MergerOptions{}.agent_histogram_budget_bytes);
}

TEST_F(MergerTest, WithoutAgentHistogramsAReconnectCountsWhatItCannotMerge) {
  SnapshotMerger merger(3, MergerOptions{.agent_histogram_budget_bytes = 0});
  EXPECT_FALSE(merger.agent_histograms_held());
  SimAgent& a = *agents_[0];
  for (int second = 1; second <= 3; ++second) {
    a.Load(80, whole_, all_);
    ASSERT_EQ(a.Send(decoders_[0], merger), ApplyStatus::kApplied);
  }
  agents_[1]->Load(40, whole_, all_);
  ASSERT_EQ(agents_[1]->Send(decoders_[1], merger), ApplyStatus::kApplied);
  const uint64_t merged_before = merger.Merged().Aggregate(kHttpReqDuration).trend->count();
  // The connection drops; the agent reconnects with a new epoch: its 80 new
  // durations cannot be told from the ones already merged.
  a.encoder.Reset();
  a.Load(80, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger), ApplyStatus::kApplied);
  EXPECT_EQ(merger.unmerged_trend_samples(), 80u);
  const metrics::SeriesValue d = merger.Merged().Aggregate(kHttpReqDuration);
  EXPECT_EQ(d.trend->count(), merged_before);
  EXPECT_EQ(d.samples, merged_before);
  // Counters and rates are still exact, and so are the next deltas.
  EXPECT_EQ(merger.Merged().Aggregate(kHttpReqs).count, static_cast<double>(all_.size()));
  a.Load(10, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger), ApplyStatus::kApplied);
  EXPECT_EQ(merger.Merged().Aggregate(kHttpReqDuration).trend->count(), all_.size() - 80);
  EXPECT_EQ(merger.Merged().Aggregate(kHttpReqs).count, static_cast<double>(all_.size()));
  EXPECT_EQ(merger.unmerged_trend_samples(), 80u);
  EXPECT_EQ(merger.Agent(0).Aggregate(kHttpReqDuration).samples,
            a.Cumulative().Aggregate(kHttpReqDuration).samples);
}

TEST_F(MergerTest, WithoutAgentHistogramsARestartKeepsItsEarlierTrendSamples) {
  SnapshotMerger merger(3, MergerOptions{.agent_histogram_budget_bytes = 0});
  for (uint32_t i = 0; i < 2; ++i) {
    agents_[i]->Load(100, whole_, all_);
    ASSERT_EQ(agents_[i]->Send(decoders_[i], merger), ApplyStatus::kApplied);
  }
  SimAgent& a = *agents_[0];
  for (auto& s : a.shards) s->ResetValues();
  a.Load(5, whole_, all_);
  ASSERT_EQ(a.Send(decoders_[0], merger), ApplyStatus::kApplied);
  EXPECT_EQ(merger.Merged().Aggregate(kHttpReqs).count, 105);  // replaced
  const metrics::SeriesValue d = merger.Merged().Aggregate(kHttpReqDuration);
  EXPECT_EQ(d.trend->count(), 205u);  // kept, and the new ones added
  EXPECT_EQ(d.samples, 205u);
  ExpectSameHistogram(*d.trend, whole_, "duration");
  EXPECT_EQ(merger.Agent(0).Aggregate(kHttpReqs).count, 5);
}


// The coordinator's per-second batch gives what one message at a time gives:
// random seconds of three agents, some reporting twice in a batch, some
// repeating a message (stale), sending a delta from a base the merger does
// not hold, or starting a new epoch (the cold path inside a batch).
TEST_F(MergerTest, ABatchMergesLikeOneMessageAtATime) {
  SnapshotMerger one_by_one(3);
  SnapshotMerger batched(3);
  std::vector<SnapshotDecoder> batch_decoders;
  for (uint32_t i = 0; i < 3; ++i) batch_decoders.emplace_back(i);
  std::mt19937_64 rng(42);
  size_t repeats = 0, stale = 0, mismatched = 0, cold = 0;
  for (int second = 1; second <= 40; ++second) {
    std::vector<std::string> messages;
    std::vector<uint32_t> senders;
    for (uint32_t i = 0; i < 3; ++i) {
      SimAgent& a = *agents_[i];
      const int sends = rng() % 4 == 0 ? 2 : 1;
      repeats += sends - 1;
      for (int k = 0; k < sends; ++k) {
        a.Load(static_cast<int>(20 + rng() % 200), whole_, all_);
        a.elapsed_ns = second * kSecond + i;
        if (rng() % 9 == 0) {
          a.encoder.Reset();
          ++cold;
        }
        messages.push_back(a.encoder.Encode(a.Cumulative()));
        senders.push_back(i);
        if (rng() % 8 == 0) {  // the same message again (a retry)
          messages.push_back(messages.back());
          senders.push_back(i);
          ++stale;
        }
      }
    }
    // Decoded once per merger (decoders keep the dictionary).
    std::vector<DecodedDelta> decoded(messages.size());
    std::vector<SnapshotMerger::BatchItem> items(messages.size());
    std::vector<ApplyStatus> want(messages.size());
    for (size_t m = 0; m < messages.size(); ++m) {
      want[m] = one_by_one.Apply(senders[m], decoders_[senders[m]].Decode(messages[m]));
      batch_decoders[senders[m]].Decode(messages[m], decoded[m]);
      items[m].agent = senders[m];
      items[m].delta = &decoded[m];
    }
    batched.ApplyBatch(items);
    for (size_t m = 0; m < messages.size(); ++m) {
      EXPECT_EQ(items[m].status, want[m]) << "second " << second << " message " << m;
      EXPECT_EQ(items[m].error, "");
      mismatched += want[m] == ApplyStatus::kBaseMismatch;
    }
    for (uint32_t i = 0; i < 3; ++i) {
      ASSERT_EQ(batched.AppliedSeq(i), one_by_one.AppliedSeq(i));
      // Now and then an ack is lost: the next delta comes from an older base.
      if (rng() % 7 != 0 && !agents_[i]->encoder.Ack(batched.AppliedSeq(i))) {
        agents_[i]->encoder.Reset();
      }
    }
    SCOPED_TRACE("second " + std::to_string(second));
    ExpectSameSnapshot(batched.Merged(), one_by_one.Merged());
  }
  // A last report of everything, with its ack received.
  for (uint32_t i = 0; i < 3; ++i) {
    SimAgent& a = *agents_[i];
    if (!a.encoder.Ack(batched.AppliedSeq(i))) a.encoder.Reset();
    DecodedDelta d;
    batch_decoders[i].Decode(a.encoder.Encode(a.Cumulative()), d);
    SnapshotMerger::BatchItem item{.agent = i, .delta = &d, .status = {}, .error = {}};
    batched.ApplyBatch(std::span(&item, 1));
    EXPECT_EQ(item.status, ApplyStatus::kApplied);
  }
  EXPECT_GT(repeats, 0u);
  EXPECT_GT(stale, 0u);
  EXPECT_GT(cold, 0u);
  // Every agent's last values are in both merges and they are the whole.
  SCOPED_TRACE("the whole");
  ExpectSameSnapshot(batched.Merged(), Reference());
  ExpectSameHistogram(*batched.Merged().Aggregate(kHttpReqDuration).trend, whole_, "duration");
  EXPECT_GT(mismatched, 0u);
}

TEST_F(MergerTest, ABatchReportsAMessageItCannotMergeAndAppliesTheRest) {
  agents_[0]->Load(10, whole_, all_);
  metrics::Registry other;
  other.DefineCustom("queue_depth", metrics::MetricType::kTrend, metrics::ValueType::kTime);
  metrics::Shard s(other);
  s.Add(0, metrics::Shard::kNoTags, 1);
  const metrics::Shard* shards[] = {&s};
  SnapshotEncoder enc(1);
  DecodedDelta d0 = decoders_[0].Decode(agents_[0]->encoder.Encode(agents_[0]->Cumulative()));
  DecodedDelta d1 = decoders_[1].Decode(enc.Encode(metrics::Snapshot::Merge(other, shards)));
  DecodedDelta d2;
  std::vector<SnapshotMerger::BatchItem> items(4);
  items[0] = {.agent = 0, .delta = &d0, .status = {}, .error = {}};
  items[1] = {.agent = 1, .delta = &d1, .status = {}, .error = {}};
  items[2] = {.agent = 7, .delta = &d2, .status = {}, .error = {}};
  items[3] = {.agent = 2, .delta = nullptr, .status = {}, .error = {}};
  merger_.ApplyBatch(items);
  EXPECT_EQ(items[0].status, ApplyStatus::kApplied);
  EXPECT_EQ(items[0].error, "");
  EXPECT_NE(items[1].error.find("\"queue_depth\""), std::string::npos) << items[1].error;
  EXPECT_NE(items[2].error.find("out of range"), std::string::npos) << items[2].error;
  EXPECT_NE(items[3].error, "");
  EXPECT_EQ(merger_.AppliedSeq(0), 1u);
  EXPECT_EQ(merger_.AppliedSeq(1), 0u);
  ExpectSameSnapshot(merger_.Merged(), agents_[0]->Cumulative());
}

}  // namespace
}  // namespace stampede::dist
