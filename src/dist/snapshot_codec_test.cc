#include "dist/snapshot_codec.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "dist/snapshot_merger.h"
#include "metrics/series_delta.h"
#include "metrics/shard.h"

namespace stampede::dist {

// Shared with snapshot_merger_test.cc (same binary).
namespace testing_helpers {

using metrics::ExpHistogram;
using metrics::SeriesValue;

void ExpectSameHistogram(const ExpHistogram& a, const ExpHistogram& b, const std::string& what) {
  EXPECT_EQ(a.count(), b.count()) << what;
  EXPECT_EQ(a.zero_count(), b.zero_count()) << what;
  EXPECT_EQ(a.scale(), b.scale()) << what;
  EXPECT_EQ(a.min(), b.min()) << what;
  EXPECT_EQ(a.max(), b.max()) << what;
  EXPECT_NEAR(a.sum(), b.sum(), 1e-12 * std::abs(b.sum())) << what;
  EXPECT_EQ(a.positive_offset(), b.positive_offset()) << what;
  ASSERT_EQ(a.positive_bucket_count(), b.positive_bucket_count()) << what;
  for (int32_t i = 0; i < a.positive_bucket_count(); ++i) {
    const int32_t index = a.positive_offset() + i;
    ASSERT_EQ(a.BucketCount(index), b.BucketCount(index)) << what << " bucket " << index;
  }
  EXPECT_EQ(a.Quantile(0.95), b.Quantile(0.95)) << what;
}

// Same metric definitions by name, same series by content, same values.
// Gauges compare value/min/max unless `skip_gauge` names them.
void ExpectSameSnapshot(const metrics::Snapshot& got, const metrics::Snapshot& want,
                        const std::vector<std::string>& skip_gauges = {}) {
  for (const auto& def : want.metrics()) {
    const auto id = got.FindMetric(def.name);
    ASSERT_TRUE(id.has_value()) << def.name;
    EXPECT_EQ(got.metrics()[*id].type, def.type) << def.name;
    EXPECT_EQ(got.metrics()[*id].value_type, def.value_type) << def.name;
  }
  EXPECT_EQ(got.elapsed_ns(), want.elapsed_ns());
  const metrics::SeriesIndex gi = metrics::IndexSeries(got);
  size_t got_nonempty = 0;
  for (const auto& [key, v] : gi) got_nonempty += !v->empty();
  size_t want_nonempty = 0;
  for (const auto& s : want.series()) {
    if (s.value.empty()) continue;
    ++want_nonempty;
    const std::string& name = want.metrics()[s.metric].name;
    const std::string key = metrics::SeriesKey(name, want.tags(s.tag_set));
    auto it = gi.find(key);
    ASSERT_NE(it, gi.end()) << "missing series " << key;
    const SeriesValue& g = *it->second;
    const SeriesValue& w = s.value;
    EXPECT_EQ(g.type, w.type) << key;
    EXPECT_EQ(g.samples, w.samples) << key;
    EXPECT_NEAR(g.count, w.count, 1e-12 * std::abs(w.count)) << key;
    EXPECT_EQ(g.passes, w.passes) << key;
    EXPECT_EQ(g.fails, w.fails) << key;
    if (w.type == metrics::MetricType::kGauge &&
        std::find(skip_gauges.begin(), skip_gauges.end(), name) == skip_gauges.end()) {
      EXPECT_EQ(g.value, w.value) << key;
      EXPECT_EQ(g.min, w.min) << key;
      EXPECT_EQ(g.max, w.max) << key;
    }
    ASSERT_EQ(g.trend.has_value(), w.trend.has_value()) << key;
    if (w.trend) ExpectSameHistogram(*g.trend, *w.trend, key);
  }
  EXPECT_EQ(got_nonempty, want_nonempty);
}

}  // namespace testing_helpers

namespace {

using metrics::builtin::kHttpReqDuration;
using metrics::builtin::kHttpReqFailed;
using metrics::builtin::kHttpReqs;
using metrics::builtin::kVus;
using testing_helpers::ExpectSameSnapshot;

// One agent's metrics: a registry with the built-ins and custom metrics of
// every type, two worker shards, and a random load.
class Agent {
 public:
  explicit Agent(uint64_t seed) : rng_(seed) {
    gauge_ = registry_.DefineCustom("queue_depth", metrics::MetricType::kGauge,
                                    metrics::ValueType::kDefault);
    counter_ = registry_.DefineCustom("bytes_custom", metrics::MetricType::kCounter,
                                      metrics::ValueType::kData);
    rate_ = registry_.DefineCustom("login_ok", metrics::MetricType::kRate,
                                   metrics::ValueType::kDefault);
    trend_ =
        registry_.DefineCustom("think", metrics::MetricType::kTrend, metrics::ValueType::kTime);
    shards_.emplace_back(std::make_unique<metrics::Shard>(registry_));
    shards_.emplace_back(std::make_unique<metrics::Shard>(registry_));
  }

  // `n` requests spread over the shards and a few tag sets.
  void Load(int n, std::vector<double>* durations = nullptr) {
    static const char* kNames[] = {"/", "/api/products", "/api/cart", "/login"};
    std::lognormal_distribution<double> latency(std::log(20e6), 1.0);
    for (int i = 0; i < n; ++i) {
      metrics::Shard& shard = *shards_[rng_() % shards_.size()];
      const bool failed = rng_() % 10 == 0;
      const metrics::TagSetId t =
          shard.Intern({{"name", kNames[rng_() % 4]}, {"status", failed ? "500" : "200"}});
      const double d = rng_() % 50 == 0 ? 0.0 : latency(rng_);
      if (durations) durations->push_back(d);
      shard.Add(kHttpReqs, t, 1);
      shard.Add(kHttpReqDuration, t, d);
      shard.Add(kHttpReqFailed, t, failed ? 1 : 0);
      shard.Add(counter_, t, static_cast<double>(rng_() % 1000) + 0.25);
      shard.Add(rate_, metrics::Shard::kNoTags, rng_() % 3 != 0);
      shard.Add(trend_, metrics::Shard::kNoTags, static_cast<double>(rng_() % 100000));
    }
    shards_[0]->Add(gauge_, metrics::Shard::kNoTags, static_cast<double>(rng_() % 100));
  }

  void SetVus(double vus) { shards_[0]->Add(kVus, metrics::Shard::kNoTags, vus); }

  metrics::Snapshot Cumulative(int64_t elapsed_ns) const {
    std::vector<const metrics::Shard*> shards;
    for (const auto& s : shards_) shards.push_back(s.get());
    metrics::Snapshot s = metrics::Snapshot::Merge(registry_, shards);
    s.set_elapsed_ns(elapsed_ns);
    return s;
  }

  metrics::Registry& registry() { return registry_; }
  metrics::Shard& shard(size_t i) { return *shards_[i]; }

 private:
  std::mt19937_64 rng_;
  metrics::Registry registry_ = metrics::Registry::WithBuiltins();
  std::vector<std::unique_ptr<metrics::Shard>> shards_;
  metrics::MetricId gauge_, counter_, rate_, trend_;
};

constexpr int64_t kSecond = 1'000'000'000;

TEST(SnapshotCodec, AbsoluteRoundTripEveryType) {
  Agent agent(1);
  agent.Load(500);
  agent.SetVus(7);
  const metrics::Snapshot cum = agent.Cumulative(3 * kSecond);
  SnapshotEncoder enc(4);
  const std::string msg = enc.Encode(cum);
  SnapshotDecoder dec(4);
  const DecodedDelta d = dec.Decode(msg);
  EXPECT_TRUE(d.absolute());
  EXPECT_EQ(d.agent_index, 4u);
  EXPECT_EQ(d.seq, 1u);
  EXPECT_EQ(d.epoch, 1u);
  EXPECT_EQ(d.elapsed_ns, 3 * kSecond);
  EXPECT_EQ(d.series.size(), cum.series().size());
  const metrics::Snapshot back = d.ToSnapshot();
  ExpectSameSnapshot(back, cum);
  // Every metric definition travels, custom flags included.
  ASSERT_EQ(back.metrics().size(), cum.metrics().size());
  const auto think = back.FindMetric("think");
  ASSERT_TRUE(think.has_value());
  EXPECT_TRUE(back.metrics()[*think].custom);
  EXPECT_EQ(back.metrics()[*think].value_type, metrics::ValueType::kTime);
}

TEST(SnapshotCodec, EmptyAndHugeHistogramsRoundTrip) {
  metrics::Registry registry = metrics::Registry::WithBuiltins();
  metrics::Shard shard(registry);
  const auto nan_only = shard.Intern({{"name", "nan"}});
  shard.Add(kHttpReqDuration, nan_only, std::nan(""));  // a sample, an empty histogram
  const auto zeros = shard.Intern({{"name", "zeros"}});
  for (int i = 0; i < 5; ++i) shard.Add(kHttpReqDuration, zeros, 0);
  const auto wide = shard.Intern({{"name", "wide"}});
  // Every bucket of a full-width histogram populated: 1 ns .. 1e15 ns.
  for (double v = 1; v < 1e15; v *= 1.0005) shard.Add(kHttpReqDuration, wide, v);
  const metrics::Shard* shards[] = {&shard};
  metrics::Snapshot cum = metrics::Snapshot::Merge(registry, shards);
  cum.set_elapsed_ns(kSecond);

  const auto wide_value =
      cum.Aggregate(kHttpReqDuration, std::vector<metrics::TagPair>{{"name", "wide"}});
  ASSERT_TRUE(wide_value.trend.has_value());
  EXPECT_GT(wide_value.trend->positive_bucket_count(), metrics::ExpHistogram::kMaxBuckets / 2);

  SnapshotEncoder enc(0);
  SnapshotDecoder dec(0);
  const metrics::Snapshot back = dec.Decode(enc.Encode(cum)).ToSnapshot();
  ExpectSameSnapshot(back, cum);
  const auto nan_value =
      back.Aggregate(kHttpReqDuration, std::vector<metrics::TagPair>{{"name", "nan"}});
  EXPECT_EQ(nan_value.samples, 1u);
  ASSERT_TRUE(nan_value.trend.has_value());
  EXPECT_EQ(nan_value.trend->count(), 0u);
}

TEST(SnapshotCodec, DefinitionsSentUntilAcknowledgedThenIdsOnly) {
  Agent agent(2);
  agent.Load(100);
  SnapshotEncoder enc(0);
  SnapshotDecoder dec(0);
  const std::string first = enc.Encode(agent.Cumulative(kSecond));
  EXPECT_NE(first.find("http_req_duration"), std::string::npos);
  EXPECT_NE(first.find("/api/products"), std::string::npos);
  ASSERT_NO_THROW(dec.Decode(first));

  // Not acknowledged yet: the next message is absolute again and redefines.
  agent.Load(10);
  const std::string second = enc.Encode(agent.Cumulative(2 * kSecond));
  EXPECT_NE(second.find("http_req_duration"), std::string::npos);
  const DecodedDelta d2 = dec.Decode(second);  // identical repeats are accepted
  EXPECT_TRUE(d2.absolute());
  ASSERT_TRUE(enc.Ack(2));

  agent.Load(10);
  const std::string third = enc.Encode(agent.Cumulative(3 * kSecond));
  EXPECT_EQ(third.find("http_req_duration"), std::string::npos);
  EXPECT_EQ(third.find("/api/products"), std::string::npos);
  const DecodedDelta d3 = dec.Decode(third);
  EXPECT_FALSE(d3.absolute());
  EXPECT_EQ(d3.base_seq, 2u);
  EXPECT_EQ(d3.dictionary, d2.dictionary);  // nothing new: the same dictionary
  EXPECT_LT(third.size(), second.size());

  // A new tag set appears in an unacknowledged message and again in the next.
  agent.shard(0).Add(kHttpReqs, agent.shard(0).Intern({{"name", "/brand-new"}}), 1);
  const std::string fourth = enc.Encode(agent.Cumulative(4 * kSecond));
  EXPECT_NE(fourth.find("/brand-new"), std::string::npos);
  const std::string fifth = enc.Encode(agent.Cumulative(5 * kSecond));  // fourth was lost
  EXPECT_NE(fifth.find("/brand-new"), std::string::npos);
  EXPECT_EQ(fifth.find("http_req_duration"), std::string::npos);
  EXPECT_NO_THROW(dec.Decode(fifth));
}

TEST(SnapshotCodec, ResetResendsEverythingInANewEpoch) {
  Agent agent(3);
  agent.Load(50);
  SnapshotEncoder enc(1);
  SnapshotDecoder dec(1);
  dec.Decode(enc.Encode(agent.Cumulative(kSecond)));
  ASSERT_TRUE(enc.Ack(1));
  agent.Load(50);
  EXPECT_FALSE(dec.Decode(enc.Encode(agent.Cumulative(2 * kSecond))).absolute());

  EXPECT_FALSE(enc.Ack(77));  // the coordinator claims a seq we never sent
  enc.Reset();
  EXPECT_EQ(enc.epoch(), 2u);
  const metrics::Snapshot cum = agent.Cumulative(3 * kSecond);
  const std::string msg = enc.Encode(cum);
  EXPECT_NE(msg.find("http_req_duration"), std::string::npos);
  const DecodedDelta d = dec.Decode(msg);
  EXPECT_TRUE(d.absolute());
  EXPECT_EQ(d.epoch, 2u);
  EXPECT_EQ(d.seq, 3u);  // sequence numbers keep increasing across epochs
  ExpectSameSnapshot(d.ToSnapshot(), cum);
  EXPECT_EQ(dec.epoch(), 2u);
}

TEST(SnapshotCodec, DeltaCarriesOnlyChangedSeries) {
  Agent agent(4);
  agent.Load(200);
  SnapshotEncoder enc(0);
  SnapshotDecoder dec(0);
  dec.Decode(enc.Encode(agent.Cumulative(kSecond)));
  ASSERT_TRUE(enc.Ack(1));
  // One request on one series only.
  metrics::Shard& s = agent.shard(1);
  const auto t = s.Intern({{"name", "/login"}, {"status", "200"}});
  s.Add(kHttpReqs, t, 1);
  s.Add(kHttpReqDuration, t, 5e6);
  const DecodedDelta d = dec.Decode(enc.Encode(agent.Cumulative(2 * kSecond)));
  ASSERT_EQ(d.series.size(), 2u);
  for (const auto& x : d.series) {
    const metrics::SeriesValue v = d.ValueOf(x);
    EXPECT_EQ(v.samples, 1u);
    if (v.type == metrics::MetricType::kCounter) {
      EXPECT_EQ(v.count, 1);
    }
    if (v.type == metrics::MetricType::kTrend) {
      ASSERT_TRUE(x.has_trend);
      EXPECT_EQ(x.trend.bucket_count, 1u);  // sparse, as it travelled
      ASSERT_TRUE(v.trend.has_value());
      EXPECT_EQ(v.trend->count(), 1u);
      // The extremes did not move: the delta's min is its bucket's bound,
      // within one bucket of the value (merged into the base, exact again).
      EXPECT_LE(v.trend->min(), 5e6);
      EXPECT_GT(v.trend->min(), 5e6 * (1 - 0.006));
    }
  }
}

// Builds a valid two-message exchange for the robustness tests.
struct Exchange {
  std::string absolute, delta;
  SnapshotDecoder after_absolute{0};
};

Exchange MakeExchange() {
  Agent agent(5);
  agent.Load(300);
  agent.SetVus(3);
  SnapshotEncoder enc(0);
  Exchange x;
  x.absolute = enc.Encode(agent.Cumulative(kSecond));
  x.after_absolute.Decode(x.absolute);
  EXPECT_TRUE(enc.Ack(1));
  agent.Load(100);
  agent.shard(0).Add(kHttpReqs, agent.shard(0).Intern({{"name", "/new"}}), 1);
  x.delta = enc.Encode(agent.Cumulative(2 * kSecond));
  return x;
}

TEST(SnapshotCodec, EveryTruncationIsADecodeErrorAndLeavesStateUnchanged) {
  Exchange x = MakeExchange();
  for (const std::string* msg : {&x.absolute, &x.delta}) {
    SnapshotDecoder dec = x.after_absolute;
    const uint64_t epoch = dec.epoch();
    const auto dict = &dec.dictionary();
    for (size_t n = 0; n < msg->size(); ++n) {
      EXPECT_THROW(dec.Decode(std::string_view(*msg).substr(0, n)), DecodeError) << n;
    }
    EXPECT_EQ(dec.epoch(), epoch);
    EXPECT_EQ(&dec.dictionary(), dict);
    EXPECT_NO_THROW(dec.Decode(*msg));  // and the whole message still decodes
  }
}

TEST(SnapshotCodec, RandomByteFlipsNeverCrash) {
  Exchange x = MakeExchange();
  std::mt19937_64 rng(42);
  int decoded = 0, rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string msg = (i % 2 == 0) ? x.absolute : x.delta;
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) {
      msg[rng() % msg.size()] ^= static_cast<char>(1 + rng() % 255);
    }
    SnapshotDecoder dec = x.after_absolute;
    try {
      DecodedDelta d = dec.Decode(msg);
      ++decoded;
      SnapshotMerger merger(1);
      try {
        merger.Apply(0, std::move(d));
      } catch (const MergeError&) {
      }
    } catch (const DecodeError& e) {
      ++rejected;
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
  }
  EXPECT_GT(rejected, 0);
  EXPECT_EQ(decoded + rejected, 3000);
}

TEST(SnapshotCodec, RejectsMalformedMessages) {
  Exchange x = MakeExchange();
  auto expect_error = [&](const std::string& msg, const std::string& words,
                          const SnapshotDecoder& from) {
    SnapshotDecoder dec = from;
    try {
      dec.Decode(msg);
      ADD_FAILURE() << "decoded: " << words;
    } catch (const DecodeError& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  const SnapshotDecoder fresh(0);
  expect_error(x.absolute + "x", "trailing bytes", fresh);
  std::string bad = x.absolute;
  bad[0] = 'X';
  expect_error(bad, "not a snapshot message", fresh);
  bad = x.absolute;
  bad[2] = 9;
  expect_error(bad, "unsupported version 9", fresh);
  expect_error(x.absolute, "message of agent 0 on the connection of agent 3", SnapshotDecoder(3));
  // A delta whose epoch the decoder never saw (it lost the absolute one).
  expect_error(x.delta, "delta of an epoch never started", fresh);
  // Over the size limit.
  DecodeLimits small;
  small.max_message_bytes = 16;
  expect_error(x.absolute, "exceeds the limit", SnapshotDecoder(0, small));
  // A count far beyond what the message holds: no huge allocation, an error.
  // magic, version, agent 0, epoch 1, seq 1, base 0, elapsed 0, then
  // 2^32-1 metric definitions in a 13-byte message.
  const char kHuge[] = "SD\x01\x00\x01\x01\x00\x00\xff\xff\xff\xff\x0f";
  const std::string huge(kHuge, sizeof kHuge - 1);
  expect_error(huge, "metric definitions", fresh);
}

// Found by tests/fuzz/dist_wire_fuzz: one metric name under two ids (a
// counter and a trend) was accepted, and DecodedDelta::ToSnapshot (like any
// merge by name) then threw ConfigError: a hostile or broken agent could
// take the coordinator down. The encoder never writes it; the decoder
// refuses it.
TEST(SnapshotCodec, RejectsOneMetricNameUnderTwoIds) {
  // magic, version, agent 0, epoch 1, seq 1, base 0, elapsed 0; 2 metric
  // definitions: id 0 "x" counter, id 1 "x" trend; no tag sets, series or
  // values.
  const char kTwice[] = "SD\x01\x00\x01\x01\x00\x00\x02"
                        "\x00\x01x\x00\x00\x00"
                        "\x01\x01x\x03\x01\x00"
                        "\x00\x00\x00";
  SnapshotDecoder dec(0);
  try {
    dec.Decode(std::string(kTwice, sizeof kTwice - 1));
    ADD_FAILURE() << "decoded a metric name defined twice";
  } catch (const DecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("defined under two ids"), std::string::npos) << e.what();
  }
  EXPECT_EQ(dec.epoch(), 0u);  // state unchanged
  // Defined once in one message and again under a new id in the next.
  const char kOnce[] = "SD\x01\x00\x01\x01\x00\x00\x01\x00\x01x\x00\x00\x00\x00\x00\x00";
  dec.Decode(std::string(kOnce, sizeof kOnce - 1));
  const char kAgain[] = "SD\x01\x00\x01\x02\x01\x00\x01\x01\x01x\x03\x01\x00\x00\x00\x00";
  EXPECT_THROW(dec.Decode(std::string(kAgain, sizeof kAgain - 1)), DecodeError);
}

TEST(SnapshotCodec, RejectsAnOldEpochAndAConflictingRedefinition) {
  Agent agent(6);
  agent.Load(20);
  SnapshotEncoder enc(0);
  SnapshotDecoder dec(0);
  const std::string old_epoch = enc.Encode(agent.Cumulative(kSecond));
  dec.Decode(old_epoch);
  enc.Reset();
  // Epoch 2 defines its ids in another order (a custom metric first).
  metrics::Registry other;
  other.DefineCustom("zzz", metrics::MetricType::kTrend, metrics::ValueType::kTime);
  metrics::Shard s(other);
  s.Add(0, metrics::Shard::kNoTags, 1);
  const metrics::Shard* shards[] = {&s};
  dec.Decode(enc.Encode(metrics::Snapshot::Merge(other, shards)));
  EXPECT_THROW(dec.Decode(old_epoch), DecodeError);  // stale: epoch 1 < 2

  // Same epoch, id 0 redefined as another metric: refused.
  SnapshotEncoder liar(0);
  liar.Reset();  // epoch 2 as well
  EXPECT_THROW(dec.Decode(liar.Encode(agent.Cumulative(kSecond))), DecodeError);
}

}  // namespace
}  // namespace stampede::dist
