#include "report/summary.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "metrics/shard.h"
#include "metrics/threshold.h"

namespace stampede::report {
namespace {

using metrics::Registry;
using metrics::Shard;
using metrics::Snapshot;
using metrics::TagSetId;
namespace builtin = metrics::builtin;

class SummaryTest : public ::testing::Test {
 protected:
  // A 10 s run: 4 requests on two shards (one /api failure), 12 MB received,
  // 10 VUs. Durations 1 ms and 3 ms on /, 2 ms and 4 ms on /api.
  Snapshot Run() {
    Shard a(registry_), b(registry_);
    const TagSetId a_home = a.Intern({{"name", "/"}, {"status", "200"}});
    const TagSetId b_api_ok = b.Intern({{"status", "200"}, {"name", "/api"}});
    const TagSetId b_api_err = b.Intern({{"status", "500"}, {"name", "/api"}});
    const TagSetId b_home = b.Intern({{"status", "200"}, {"name", "/"}});
    auto request = [](Shard& s, TagSetId t, double duration_ns, bool failed) {
      s.Add(builtin::kHttpReqs, t, 1);
      s.Add(builtin::kHttpReqDuration, t, duration_ns);
      s.Add(builtin::kHttpReqFailed, t, failed ? 1 : 0);
    };
    request(a, a_home, 1e6, false);
    request(b, b_home, 3e6, false);
    request(b, b_api_ok, 2e6, false);
    request(b, b_api_err, 4e6, true);
    a.Add(builtin::kDataReceived, Shard::kNoTags, 4'000'000);
    b.Add(builtin::kDataReceived, Shard::kNoTags, 8'000'000);
    a.Add(builtin::kVus, Shard::kNoTags, 10);
    const Shard* shards[] = {&a, &b};
    Snapshot s = Snapshot::Merge(registry_, shards);
    s.set_elapsed_ns(10'000'000'000);
    return s;
  }

  Registry registry_ = Registry::WithBuiltins();
};

// As k6: once requests carry expected_response, the duration of the
// expected ones shows as a sub-metric below http_req_duration, unasked.
TEST_F(SummaryTest, ExpectedResponseSubMetricShownWhenTagged) {
  Shard a(registry_);
  const TagSetId ok = a.Intern({{"expected_response", "true"}, {"status", "200"}});
  const TagSetId bad = a.Intern({{"expected_response", "false"}, {"status", "500"}});
  a.Add(builtin::kHttpReqDuration, ok, 1e6);
  a.Add(builtin::kHttpReqDuration, ok, 3e6);
  a.Add(builtin::kHttpReqDuration, bad, 8e6);
  const Shard* shards[] = {&a};
  Snapshot snap = Snapshot::Merge(registry_, shards);
  snap.set_elapsed_ns(1'000'000'000);
  const std::string text = FormatSummary(snap, registry_, SummaryOptions{});
  EXPECT_NE(text.find("http_req_duration..............: avg=4ms min=1ms"), std::string::npos)
      << text;
  EXPECT_NE(text.find("  { expected_response:true }...: avg=2ms min=1ms med=2ms max=3ms"),
            std::string::npos)
      << text;
  // Not listed twice when a threshold names it too.
  SummaryOptions named;
  named.thresholds.push_back({"http_req_duration{expected_response:true}", {{"p(95)<10", true}}});
  const std::string again = FormatSummary(snap, registry_, named);
  const size_t first = again.find("{ expected_response:true }");
  ASSERT_NE(first, std::string::npos) << again;
  EXPECT_EQ(again.find("{ expected_response:true }", first + 1), std::string::npos) << again;
}

TEST_F(SummaryTest, K6Layout) {
  const std::string text = FormatSummary(Run(), registry_, SummaryOptions{});
  EXPECT_EQ(
      text,
      "     data_received.......: 12 MB  1.2 MB/s\n"
      "     http_req_duration...: avg=2.5ms min=1ms med=2.5ms max=4ms p(90)=3.7ms p(95)=3.85ms\n"
      "     http_req_failed.....: 25.00% ✓ 1      ✗ 3\n"
      "     http_reqs...........: 4      0.4/s\n"
      "     vus.................: 10     min=10   max=10\n")
      << text;
}

TEST_F(SummaryTest, ThresholdMarksAndSubMetrics) {
  SummaryOptions options;
  options.trend_stats = {"count", "min", "max", "p(99.9)"};
  options.thresholds = {
      {"http_req_duration", {{"p(95)<500", true}, {"avg<100", true}}},
      {"http_req_duration{name:/api}", {{"p(95)<3", false}}},
      {"http_req_duration{name:/}", {{"max<5", true}}},
      {"http_req_failed", {{"rate<0.01", false}}},
      // No samples: shown with zero values all the same, as k6 does.
      {"http_req_duration{name:/none}", {{"max<5", true}}},
      {"checks", {{"rate>0.9", true}}},
  };
  const std::string text = FormatSummary(Run(), registry_, options);
  EXPECT_EQ(text,
            "   ✓ checks..............: 0.00%  ✓ 0      ✗ 0\n"
            "     data_received.......: 12 MB  1.2 MB/s\n"
            "   ✓ http_req_duration...: count=4 min=1ms max=4ms p(99.9)=4ms\n"
            "   ✓   { name:/ }........: count=2 min=1ms max=3ms p(99.9)=3ms\n"
            "   ✗   { name:/api }.....: count=2 min=2ms max=4ms p(99.9)=4ms\n"
            "   ✓   { name:/none }....: count=0 min=0s  max=0s  p(99.9)=0s\n"
            "   ✗ http_req_failed.....: 25.00% ✓ 1      ✗ 3\n"
            "     http_reqs...........: 4      0.4/s\n"
            "     vus.................: 10     min=10   max=10\n")
      << text;
}

TEST_F(SummaryTest, EvaluatedThresholdSet) {
  // The engine's path: parse, validate, evaluate at the end, then format.
  const nlohmann::json thresholds = nlohmann::json::parse(R"({
      "http_req_duration": ["p(95)<500", "avg<2"],
      "http_req_duration{name:/api}": ["max<=4"],
      "http_req_failed": ["rate<0.5"],
      "iteration_duration{scenario:default}": ["p(90)<100"],
      "iterations": []})");
  metrics::ThresholdSet set = metrics::ThresholdSet::FromJson(thresholds, &registry_);
  const Snapshot snapshot = Run();
  set.Evaluate(snapshot, snapshot.elapsed_ns(), metrics::ThresholdSet::Phase::kEndOfTest);
  SummaryOptions base;
  base.trend_stats = {"avg", "max"};
  const SummaryOptions options = WithThresholds(base, set);
  EXPECT_EQ(options.trend_stats, base.trend_stats);
  ASSERT_EQ(options.thresholds.size(), 5u);
  EXPECT_EQ(options.thresholds[0].metric, "http_req_duration");
  EXPECT_EQ(options.thresholds[0].results,
            (std::vector<std::pair<std::string, bool>>{{"p(95)<500", true}, {"avg<2", false}}));

  // A sub-metric with no samples brings its empty parent along; a metric with
  // an empty threshold list shows without a mark.
  EXPECT_EQ(FormatSummary(snapshot, registry_, options),
            "     data_received............: 12 MB  1.2 MB/s\n"
            "   ✗ http_req_duration........: avg=2.5ms max=4ms\n"
            "   ✓   { name:/api }..........: avg=3ms   max=4ms\n"
            "   ✓ http_req_failed..........: 25.00% ✓ 1      ✗ 3\n"
            "     http_reqs................: 4      0.4/s\n"
            "     iteration_duration.......: avg=0s    max=0s\n"
            "   ✓   { scenario:default }...: avg=0s    max=0s\n"
            "     iterations...............: 0      0/s\n"
            "     vus......................: 10     min=10   max=10\n");
}

TEST_F(SummaryTest, EmptyMetricsAreNotShown) {
  Shard shard(registry_);
  shard.Add(builtin::kIterations, Shard::kNoTags, 1);
  shard.Add(builtin::kHttpReqDuration, Shard::kNoTags, 5e6);
  shard.ResetValues();  // a series that exists but has no samples
  shard.Add(builtin::kIterations, Shard::kNoTags, 1);
  const Shard* shards[] = {&shard};
  Snapshot s = Snapshot::Merge(registry_, shards);
  s.set_elapsed_ns(2'000'000'000);
  EXPECT_EQ(FormatSummary(s, registry_, SummaryOptions{}), "     iterations...: 1 0.5/s\n");
  EXPECT_EQ(FormatSummary(Snapshot(), registry_, SummaryOptions{}), "");
}

TEST_F(SummaryTest, CustomMetricsAndLongDurations) {
  const auto lag =
      registry_.Define("queue_wait", metrics::MetricType::kTrend, metrics::ValueType::kTime);
  const auto size = registry_.Define("payload", metrics::MetricType::kTrend);
  Shard shard(registry_);
  shard.Add(lag, Shard::kNoTags, 90e9);
  shard.Add(size, Shard::kNoTags, 0.5);
  const Shard* shards[] = {&shard};
  const Snapshot s = Snapshot::Merge(registry_, shards);
  SummaryOptions options;
  options.trend_stats = {"avg", "max"};
  EXPECT_EQ(FormatSummary(s, registry_, options),
            "     payload......: avg=0.5   max=0.5\n"
            "     queue_wait...: avg=1m30s max=1m30s\n");
}

TEST_F(SummaryTest, RejectsUnknownTrendStat) {
  SummaryOptions options;
  options.trend_stats = {"avg", "p(101)"};
  EXPECT_THROW(FormatSummary(Run(), registry_, options), core::ConfigError);
  options.trend_stats = {"mode"};
  EXPECT_THROW(FormatSummary(Run(), registry_, options), core::ConfigError);
}

TEST(SummaryCustomMetricsTest, SortedWithTheBuiltinsAndFormattedByValueType) {
  Registry registry = Registry::WithBuiltins();
  const auto wait = registry.DefineCustom("order_wait", metrics::MetricType::kTrend,
                                          metrics::ValueType::kTime);
  const auto size = registry.DefineCustom("basket_size", metrics::MetricType::kTrend,
                                          metrics::ValueType::kDefault);
  const auto ok = registry.DefineCustom("order_ok", metrics::MetricType::kRate,
                                        metrics::ValueType::kDefault);
  const auto depth = registry.DefineCustom("zz_depth", metrics::MetricType::kGauge,
                                           metrics::ValueType::kDefault);
  Shard shard(registry);
  const auto a = shard.Intern({{"group", "::g"}});
  shard.Add(builtin::kHttpReqs, Shard::kNoTags, 1);
  shard.Add(builtin::kGroupDuration, a, 20e6);
  shard.Add(wait, a, 5e6);
  shard.Add(wait, a, 15e6);
  shard.Add(size, a, 5);
  shard.Add(size, a, 15);
  shard.Add(ok, a, 1);
  shard.Add(ok, a, 0);
  shard.Add(depth, a, 2);
  const Shard* shards[] = {&shard};
  Snapshot s = Snapshot::Merge(registry, shards);
  s.set_elapsed_ns(1'000'000'000);
  SummaryOptions options;
  options.trend_stats = {"avg", "min", "max"};
  const std::string text = FormatSummary(s, registry, options);
  EXPECT_EQ(text,
            "     basket_size......: avg=10   min=5    max=15\n"
            "     group_duration...: avg=20ms min=20ms max=20ms\n"
            "     http_reqs........: 1      1/s\n"
            "     order_ok.........: 50.00% ✓ 1   ✗ 1\n"
            "     order_wait.......: avg=10ms min=5ms  max=15ms\n"
            "     zz_depth.........: 2      min=2 max=2\n")
      << text;
}

}  // namespace
}  // namespace stampede::report
