#include "metrics/snapshot.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <vector>

#include "core/error.h"

namespace stampede::metrics {
namespace {

class SnapshotTest : public ::testing::Test {
 protected:
  // Two workers that meet the same tag sets in different orders, so their tag
  // set ids differ.
  void Fill() {
    const TagSetId a_api = a_.Intern({{"name", "/api"}, {"status", "200"}, {"method", "GET"}});
    const TagSetId a_home = a_.Intern({{"name", "/"}, {"status", "200"}, {"method", "GET"}});
    const TagSetId b_err = b_.Intern({{"name", "/api"}, {"status", "500"}, {"method", "GET"}});
    const TagSetId b_home = b_.Intern({{"method", "GET"}, {"status", "200"}, {"name", "/"}});
    const TagSetId b_api = b_.Intern({{"status", "200"}, {"method", "GET"}, {"name", "/api"}});
    ASSERT_NE(a_api, b_api);

    for (int i = 1; i <= 10; ++i) {  // a: /api 10 ms .. 100 ms
      a_.Add(builtin::kHttpReqs, a_api, 1);
      a_.Add(builtin::kHttpReqDuration, a_api, i * 10e6);
      a_.Add(builtin::kHttpReqFailed, a_api, 0);
    }
    a_.Add(builtin::kHttpReqs, a_home, 1);
    a_.Add(builtin::kHttpReqDuration, a_home, 1e6);
    a_.Add(builtin::kHttpReqFailed, a_home, 0);
    for (int i = 0; i < 2; ++i) {
      b_.Add(builtin::kHttpReqs, b_err, 1);
      b_.Add(builtin::kHttpReqDuration, b_err, 500e6);
      b_.Add(builtin::kHttpReqFailed, b_err, 1);
    }
    b_.Add(builtin::kHttpReqs, b_api, 1);
    b_.Add(builtin::kHttpReqDuration, b_api, 200e6);
    b_.Add(builtin::kHttpReqFailed, b_api, 0);
    b_.Add(builtin::kHttpReqs, b_home, 1);
    b_.Add(builtin::kHttpReqDuration, b_home, 2e6);
    b_.Add(builtin::kHttpReqFailed, b_home, 0);
    a_.Add(builtin::kVus, Shard::kNoTags, 4);
    a_.Add(builtin::kVus, Shard::kNoTags, 2);
    b_.Add(builtin::kVus, Shard::kNoTags, 3);
  }

  Snapshot Merged() {
    const Shard* shards[] = {&a_, &b_};
    Snapshot s = Snapshot::Merge(registry_, shards);
    s.set_elapsed_ns(10'000'000'000);
    return s;
  }

  Registry registry_ = Registry::WithBuiltins();
  Shard a_{registry_};
  Shard b_{registry_};
};

TEST_F(SnapshotTest, MergesShardsByTagContent) {
  Fill();
  const Snapshot s = Merged();
  // /api 200, / 200, /api 500 (+ the empty tag set for vus).
  int http_reqs_series = 0;
  for (const auto& series : s.series()) {
    if (series.metric == builtin::kHttpReqs) ++http_reqs_series;
  }
  EXPECT_EQ(http_reqs_series, 3);

  const SeriesValue reqs = s.Aggregate(builtin::kHttpReqs);
  EXPECT_EQ(reqs.count, 15);
  EXPECT_DOUBLE_EQ(reqs.PerSecond(s.elapsed_ns()), 1.5);

  const SeriesValue failed = s.Aggregate(builtin::kHttpReqFailed);
  EXPECT_EQ(failed.passes, 2u);
  EXPECT_EQ(failed.fails, 13u);
  EXPECT_NEAR(failed.rate(), 2.0 / 15, 1e-12);

  const SeriesValue duration = s.Aggregate(builtin::kHttpReqDuration);
  ASSERT_TRUE(duration.trend.has_value());
  EXPECT_EQ(duration.trend->count(), 15u);
  EXPECT_EQ(duration.trend->min(), 1e6);
  EXPECT_EQ(duration.trend->max(), 500e6);

  const SeriesValue vus = s.Aggregate(builtin::kVus);
  EXPECT_EQ(vus.value, 3);  // gauges merge by the largest current value
  EXPECT_EQ(vus.min, 2);
  EXPECT_EQ(vus.max, 4);

  EXPECT_TRUE(s.Aggregate(builtin::kChecks).empty());
}

TEST_F(SnapshotTest, SubMetricFilter) {
  Fill();
  const Snapshot s = Merged();
  const Tag api[] = {{"name", "/api"}};
  const SeriesValue api_duration = s.Aggregate(builtin::kHttpReqDuration, api);
  ASSERT_TRUE(api_duration.trend.has_value());
  EXPECT_EQ(api_duration.trend->count(), 13u);
  EXPECT_EQ(api_duration.trend->min(), 10e6);

  const Tag api_ok[] = {{"status", "200"}, {"name", "/api"}};
  const SeriesValue api_ok_duration = s.Aggregate(builtin::kHttpReqDuration, api_ok);
  EXPECT_EQ(api_ok_duration.trend->count(), 11u);
  EXPECT_EQ(api_ok_duration.trend->max(), 200e6);

  const MetricSelector sel = ParseMetricSelector("http_req_failed{status:500}");
  const SeriesValue errors = s.Aggregate(*s.FindMetric(sel.metric), std::span(sel.filter));
  EXPECT_EQ(errors.passes, 2u);
  EXPECT_EQ(errors.fails, 0u);

  const Tag none[] = {{"name", "/nope"}};
  EXPECT_TRUE(s.Aggregate(builtin::kHttpReqDuration, none).empty());
}

TEST_F(SnapshotTest, MergeOrderDoesNotMatter) {
  Fill();
  const Shard* ab[] = {&a_, &b_};
  const Shard* ba[] = {&b_, &a_};
  const Snapshot x = Snapshot::Merge(registry_, ab);
  const Snapshot y = Snapshot::Merge(registry_, ba);
  for (MetricId m = 0; m < registry_.size(); ++m) {
    const SeriesValue vx = x.Aggregate(m), vy = y.Aggregate(m);
    EXPECT_EQ(vx.samples, vy.samples);
    EXPECT_EQ(vx.count, vy.count);
    if (vx.trend) {
      EXPECT_EQ(vx.trend->Quantile(0.9), vy.trend->Quantile(0.9));
    }
  }
}

TEST_F(SnapshotTest, SnapshotMergeFromMatchesMetricsByName) {
  Fill();
  const Shard* only_a[] = {&a_};
  Snapshot left = Snapshot::Merge(registry_, only_a);
  left.set_elapsed_ns(5);

  // Another instance whose registry defined a custom metric first.
  Registry other_registry;
  const MetricId custom = other_registry.Define("my_counter", MetricType::kCounter);
  const MetricId reqs = other_registry.Define("http_reqs", MetricType::kCounter);
  const MetricId dur =
      other_registry.Define("http_req_duration", MetricType::kTrend, ValueType::kTime);
  Shard remote(other_registry);
  const TagSetId t = remote.Intern({{"method", "GET"}, {"name", "/api"}, {"status", "200"}});
  remote.Add(custom, t, 7);
  remote.Add(reqs, t, 1);
  remote.Add(dur, t, 1e9);
  const Shard* shards[] = {&remote};
  Snapshot right = Snapshot::Merge(other_registry, shards);
  right.set_elapsed_ns(9);

  left.MergeFrom(right);
  EXPECT_EQ(left.elapsed_ns(), 9);
  EXPECT_EQ(left.Aggregate(builtin::kHttpReqs).count, 12);
  const Tag api[] = {{"name", "/api"}};
  EXPECT_EQ(left.Aggregate(builtin::kHttpReqDuration, api).trend->count(), 11u);
  EXPECT_EQ(left.Aggregate(builtin::kHttpReqDuration, api).trend->max(), 1e9);
  const auto my = left.FindMetric("my_counter");
  ASSERT_TRUE(my.has_value());
  EXPECT_GE(*my, builtin::kCount);
  EXPECT_EQ(left.Aggregate(*my).count, 7);

  Registry clash;
  clash.Define("http_reqs", MetricType::kGauge);
  EXPECT_THROW(left.MergeFrom(Snapshot::Merge(clash, {})), core::ConfigError);
}

TEST_F(SnapshotTest, ResetShardSeriesAreSkipped) {
  Fill();
  a_.ResetValues();
  b_.ResetValues();
  const Snapshot s = Merged();
  EXPECT_TRUE(s.series().empty());
  EXPECT_TRUE(s.Aggregate(builtin::kHttpReqs).empty());
}

TEST(SnapshotBuildTest, DefineUpsertAndFindBuildASnapshotByHand) {
  Snapshot s;
  MetricDef reqs_def;
  reqs_def.name = "http_reqs";
  reqs_def.type = MetricType::kCounter;
  MetricDef dur_def;
  dur_def.name = "http_req_duration";
  dur_def.type = MetricType::kTrend;
  dur_def.value_type = ValueType::kTime;
  const MetricId reqs = s.Define(reqs_def);
  const MetricId dur = s.Define(dur_def);
  EXPECT_NE(reqs, dur);
  EXPECT_EQ(s.Define(reqs_def), reqs);  // known name: the same id
  ASSERT_EQ(s.metrics().size(), 2u);
  EXPECT_EQ(s.FindMetric("http_req_duration"), dur);
  MetricDef clash = reqs_def;
  clash.type = MetricType::kGauge;
  EXPECT_THROW(s.Define(clash), core::ConfigError);

  const std::vector<TagPair> api = {{"name", "/api"}, {"status", "200"}};
  const std::vector<TagPair> home = {{"name", "/"}, {"status", "200"}};
  EXPECT_FALSE(s.FindSeries(reqs, api).has_value());
  SeriesValue& v = s.Upsert(reqs, api);  // added empty, typed like its metric
  EXPECT_TRUE(v.empty());
  EXPECT_EQ(v.type, MetricType::kCounter);
  v.samples = 3;
  v.count = 3;
  EXPECT_EQ(s.series().size(), 1u);
  EXPECT_EQ(s.Upsert(reqs, api).count, 3);  // found, not added
  EXPECT_EQ(s.series().size(), 1u);
  ASSERT_EQ(s.FindSeries(reqs, api), std::optional<size_t>(0));

  SeriesValue& d = s.Upsert(dur, api);  // same tag set, another metric
  EXPECT_EQ(d.type, MetricType::kTrend);
  EXPECT_EQ(d.value_type, ValueType::kTime);
  d.samples = 1;
  d.trend.emplace();
  d.trend->Record(5e6);
  s.Upsert(reqs, home).count = 1;  // left with samples == 0: listed, adds nothing
  ASSERT_EQ(s.series().size(), 3u);
  EXPECT_EQ(s.series()[0].tag_set, s.series()[1].tag_set);  // one tag set, interned once
  EXPECT_EQ(std::vector<TagPair>(s.tags(s.series()[2].tag_set).begin(),
                                 s.tags(s.series()[2].tag_set).end()),
            home);
  const size_t index = *s.FindSeries(reqs, home);
  s.mutable_value(index).samples = 1;
  s.mutable_value(index).count = 2;

  EXPECT_EQ(s.Aggregate(reqs).count, 5);
  const Tag only_api[] = {{"name", "/api"}};
  EXPECT_EQ(s.Aggregate(dur, only_api).trend->count(), 1u);

  // Tags must be sorted by key and unique: another order would be another
  // tag set of the same content.
  const std::vector<TagPair> unsorted = {{"status", "200"}, {"name", "/api"}};
  EXPECT_THROW(s.Upsert(reqs, unsorted), std::invalid_argument);
  EXPECT_THROW(s.FindSeries(reqs, unsorted), std::invalid_argument);
  const std::vector<TagPair> twice = {{"name", "/a"}, {"name", "/b"}};
  EXPECT_THROW(s.Upsert(reqs, twice), std::invalid_argument);

  // A hand-built snapshot merges like any other.
  Snapshot copy;
  copy.MergeFrom(s);
  EXPECT_EQ(copy.Aggregate(*copy.FindMetric("http_reqs")).count, 5);
}

TEST_F(SnapshotTest, UpsertFindsTheSeriesOfAMergedSnapshot) {
  Fill();
  Snapshot s = Merged();
  const std::vector<TagPair> api = {{"method", "GET"}, {"name", "/api"}, {"status", "200"}};
  const auto index = s.FindSeries(builtin::kHttpReqs, api);
  ASSERT_TRUE(index.has_value());
  EXPECT_EQ(s.series()[*index].value.count, 11);
  const size_t before = s.series().size();
  s.Upsert(builtin::kHttpReqs, api).count += 1;
  EXPECT_EQ(s.series().size(), before);
  EXPECT_EQ(s.Aggregate(builtin::kHttpReqs).count, 16);
}

}  // namespace
}  // namespace stampede::metrics
