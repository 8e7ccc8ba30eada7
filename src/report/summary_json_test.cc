#include "report/summary_json.h"

#include <gtest/gtest.h>

#include "metrics/shard.h"
#include "metrics/threshold.h"

namespace stampede::report {
namespace {

using metrics::Registry;
using metrics::Shard;
using metrics::Snapshot;
namespace builtin = metrics::builtin;

TEST(SummaryJsonTest, K6SummaryExportShape) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const auto api = shard.Intern({{"name", "/api/products"}, {"status", "200"}});
  const auto home = shard.Intern({{"name", "/"}, {"status", "200"}});
  shard.Add(builtin::kHttpReqs, api, 1);
  shard.Add(builtin::kHttpReqs, home, 1);
  shard.Add(builtin::kHttpReqDuration, api, 2e6);
  shard.Add(builtin::kHttpReqDuration, home, 4e6);
  shard.Add(builtin::kHttpReqFailed, api, 0);
  shard.Add(builtin::kHttpReqFailed, home, 1);
  shard.Add(builtin::kDataReceived, Shard::kNoTags, 5000);
  shard.Add(builtin::kVus, Shard::kNoTags, 3);
  shard.Add(builtin::kVus, Shard::kNoTags, 5);
  const Shard* shards[] = {&shard};
  Snapshot snapshot = Snapshot::Merge(registry, shards);
  snapshot.set_elapsed_ns(2'000'000'000);

  SummaryOptions options;
  options.trend_stats = {"avg", "min", "med", "max", "p(90)", "p(95)", "p(99)", "count"};
  options.thresholds = {{"http_req_duration", {{"p(95)<500", true}, {"max<3", false}}},
                        {"http_req_duration{name:/api/products}", {{"p(95)<3", true}}},
                        {"checks", {{"rate>0.9", true}}}};
  const nlohmann::json j = SummaryJson(snapshot, registry, options);
  ASSERT_TRUE(j.contains("metrics"));
  const nlohmann::json& m = j["metrics"];

  EXPECT_EQ(m["http_reqs"], (nlohmann::json{{"count", 2.0}, {"rate", 1.0}}));
  EXPECT_EQ(m["data_received"], (nlohmann::json{{"count", 5000.0}, {"rate", 2500.0}}));
  EXPECT_EQ(m["vus"], (nlohmann::json{{"value", 5.0}, {"min", 3.0}, {"max", 5.0}}));
  EXPECT_EQ(m["http_req_failed"],
            (nlohmann::json{{"passes", 1}, {"fails", 1}, {"value", 0.5}, {"rate", 0.5}}));

  const nlohmann::json& d = m["http_req_duration"];
  EXPECT_DOUBLE_EQ(d["avg"].get<double>(), 3.0);  // milliseconds
  EXPECT_DOUBLE_EQ(d["min"].get<double>(), 2.0);
  EXPECT_DOUBLE_EQ(d["max"].get<double>(), 4.0);
  EXPECT_DOUBLE_EQ(d["med"].get<double>(), 3.0);
  EXPECT_NEAR(d["p(90)"].get<double>(), 3.8, 3.8 * 0.01);
  EXPECT_NEAR(d["p(99)"].get<double>(), 3.98, 3.98 * 0.01);
  EXPECT_EQ(d["count"], 2);
  // k6 legacy export: true means the threshold failed.
  EXPECT_EQ(d["thresholds"], (nlohmann::json{{"p(95)<500", false}, {"max<3", true}}));

  const nlohmann::json& sub = m["http_req_duration{name:/api/products}"];
  EXPECT_DOUBLE_EQ(sub["max"].get<double>(), 2.0);
  EXPECT_EQ(sub["count"], 1);
  EXPECT_EQ(sub["thresholds"], (nlohmann::json{{"p(95)<3", false}}));

  // Thresholds keep an empty metric in the export; other empty metrics are left out.
  EXPECT_EQ(m["checks"]["thresholds"], (nlohmann::json{{"rate>0.9", false}}));
  EXPECT_EQ(m["checks"]["passes"], 0);
  EXPECT_FALSE(m.contains("iterations"));
  EXPECT_FALSE(m.contains("http_req_blocked"));
  EXPECT_EQ(m.size(), 7u);
}

TEST(SummaryJsonTest, EvaluatedThresholdSetFailedIsTrue) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const auto api = shard.Intern({{"name", "/api"}});
  shard.Add(builtin::kHttpReqDuration, api, 300e6);  // 300 ms
  shard.Add(builtin::kHttpReqDuration, Shard::kNoTags, 100e6);
  shard.Add(builtin::kHttpReqFailed, api, 1);
  const Shard* shards[] = {&shard};
  Snapshot snapshot = Snapshot::Merge(registry, shards);
  snapshot.set_elapsed_ns(1'000'000'000);

  const nlohmann::json thresholds = nlohmann::json::parse(R"({
      "http_req_duration": ["p(95)<500", "max<250"],
      "http_req_duration{name:/api}": ["avg<=300"],
      "http_req_failed": ["rate<0.01"],
      "checks{check:status is 200}": ["rate>0.9"]})");
  metrics::ThresholdSet set = metrics::ThresholdSet::FromJson(thresholds, &registry);
  set.Evaluate(snapshot, snapshot.elapsed_ns(), metrics::ThresholdSet::Phase::kEndOfTest);
  SummaryOptions options;
  options.trend_stats = {"avg", "max"};
  const nlohmann::json m = SummaryJson(snapshot, registry, WithThresholds(options, set))["metrics"];

  EXPECT_EQ(m["http_req_duration"]["thresholds"],
            (nlohmann::json{{"p(95)<500", false}, {"max<250", true}}));
  EXPECT_DOUBLE_EQ(m["http_req_duration"]["max"].get<double>(), 300);  // ms, as compared
  EXPECT_EQ(m["http_req_duration{name:/api}"]["thresholds"], (nlohmann::json{{"avg<=300", false}}));
  EXPECT_EQ(m["http_req_failed"]["thresholds"], (nlohmann::json{{"rate<0.01", true}}));
  // A rate sub-metric without samples passes (k6) and shows, with its parent.
  EXPECT_EQ(m["checks{check:status is 200}"]["thresholds"], (nlohmann::json{{"rate>0.9", false}}));
  EXPECT_EQ(m["checks"],
            (nlohmann::json{{"passes", 0}, {"fails", 0}, {"value", 0.0}, {"rate", 0.0}}));
}

TEST(SummaryJsonTest, EmptySnapshot) {
  const Registry registry = Registry::WithBuiltins();
  EXPECT_EQ(SummaryJson(Snapshot(), registry, SummaryOptions{}),
            (nlohmann::json{{"metrics", nlohmann::json::object()}}));
}

TEST(SummaryJsonTest, CustomMetricsHaveK6Shapes) {
  Registry registry = Registry::WithBuiltins();
  const auto wait = registry.DefineCustom("order_wait", metrics::MetricType::kTrend,
                                          metrics::ValueType::kTime);
  const auto size = registry.DefineCustom("basket_size", metrics::MetricType::kTrend,
                                          metrics::ValueType::kDefault);
  const auto orders = registry.DefineCustom("orders", metrics::MetricType::kCounter,
                                            metrics::ValueType::kDefault);
  Shard shard(registry);
  shard.Add(wait, Shard::kNoTags, 5e6);
  shard.Add(wait, Shard::kNoTags, 15e6);
  shard.Add(size, Shard::kNoTags, 5);
  shard.Add(size, Shard::kNoTags, 15);
  shard.Add(orders, Shard::kNoTags, 3);
  const Shard* shards[] = {&shard};
  Snapshot snapshot = Snapshot::Merge(registry, shards);
  snapshot.set_elapsed_ns(2'000'000'000);
  SummaryOptions options;
  options.trend_stats = {"avg", "min", "max"};
  const nlohmann::json m = SummaryJson(snapshot, registry, options)["metrics"];
  EXPECT_EQ(m["order_wait"], (nlohmann::json{{"avg", 10.0}, {"min", 5.0}, {"max", 15.0}}));  // ms
  EXPECT_EQ(m["basket_size"], (nlohmann::json{{"avg", 10.0}, {"min", 5.0}, {"max", 15.0}}));
  EXPECT_EQ(m["orders"], (nlohmann::json{{"count", 3.0}, {"rate", 1.5}}));
}

}  // namespace
}  // namespace stampede::report
