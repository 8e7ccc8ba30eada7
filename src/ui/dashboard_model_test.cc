#include "ui/dashboard_model.h"

#include <gtest/gtest.h>

#include "metrics/registry.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"

namespace stampede::ui {
namespace {

namespace b = metrics::builtin;
constexpr double kMs = 1e6;  // ns

TickInputs At(double elapsed_s, double interval_s = 0, int64_t t_unix_ms = 0) {
  TickInputs in;
  in.elapsed_s = elapsed_s;
  in.interval_s = interval_s;
  in.t_unix_ms = t_unix_ms;
  return in;
}

class ModelTest : public ::testing::Test {
 protected:
  ModelTest() : registry_(metrics::Registry::WithBuiltins()), shard_(registry_) {}

  // One request of `ms` milliseconds to `name` with `method`.
  void Request(std::string_view name, std::string_view method, double ms, bool failed = false,
               std::string_view error_code = {}) {
    metrics::TagSetId tags =
        error_code.empty()
            ? shard_.Intern({{"method", method}, {"name", name}})
            : shard_.Intern({{"error_code", error_code}, {"method", method}, {"name", name}});
    shard_.Add(b::kHttpReqs, tags, 1);
    shard_.Add(b::kHttpReqDuration, tags, ms * kMs);
    shard_.Add(b::kHttpReqFailed, tags, failed ? 1 : 0);
  }
  metrics::Snapshot Take() {
    const metrics::Shard* one[] = {&shard_};
    return metrics::Snapshot::Merge(registry_, one);
  }

  metrics::Registry registry_;
  metrics::Shard shard_;
};

TEST_F(ModelTest, PerSecondValuesAreTheDifferenceOfCumulativeSnapshots) {
  for (int i = 0; i < 10; ++i) Request("/fast", "GET", 10);
  shard_.Add(b::kVus, metrics::Shard::kNoTags, 7);
  shard_.Add(b::kVusMax, metrics::Shard::kNoTags, 9);
  shard_.Add(b::kIterations, metrics::Shard::kNoTags, 10);
  metrics::Snapshot first = Take();
  for (int i = 0; i < 4; ++i) Request("/slow", "POST", 100, /*failed=*/true);
  Request("/slow", "POST", 200, /*failed=*/true);
  shard_.Add(b::kIterations, metrics::Shard::kNoTags, 5);
  shard_.Add(b::kDroppedIterations, metrics::Shard::kNoTags, 3);
  metrics::Snapshot second = Take();

  TickInputs in;
  in.t_unix_ms = 1'700'000'002'000;
  in.elapsed_s = 2;
  in.interval_s = 1;
  in.total_duration_s = 8;
  nlohmann::json t1 = MakeTick(first, nullptr, At(1, 0, 1));
  nlohmann::json t2 = MakeTick(second, &first, in);

  EXPECT_DOUBLE_EQ(t1["rps"].get<double>(), 10);
  EXPECT_NEAR(t1["latency_ms"]["p95"].get<double>(), 10, 0.1);
  EXPECT_EQ(t2["t"], 1'700'000'002'000);
  EXPECT_DOUBLE_EQ(t2["rps"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(t2["fails_per_s"].get<double>(), 5);
  EXPECT_DOUBLE_EQ(t2["iterations_per_s"].get<double>(), 5);
  EXPECT_EQ(t2["dropped_iterations"], 3);
  EXPECT_EQ(t2["vus"], 7);
  EXPECT_EQ(t2["vus_max"], 9);
  // Only the second's own samples: 100 ms ×4 and 200 ms, none of the 10 ms.
  EXPECT_NEAR(t2["latency_ms"]["p50"].get<double>(), 100, 1);
  EXPECT_DOUBLE_EQ(t2["latency_ms"]["max"].get<double>(), 200);
  EXPECT_GE(t2["latency_ms"]["p95"].get<double>(), 100);

  // The per-name table is cumulative, by reqs descending.
  const nlohmann::json& names = t2["names"];
  ASSERT_EQ(names.size(), 2u);
  EXPECT_EQ(names[0]["name"], "/fast");
  EXPECT_EQ(names[0]["method"], "GET");
  EXPECT_EQ(names[0]["reqs"], 10);
  EXPECT_EQ(names[0]["fails"], 0);
  EXPECT_DOUBLE_EQ(names[0]["rps"].get<double>(), 0);
  EXPECT_NEAR(names[0]["avg"].get<double>(), 10, 0.1);
  EXPECT_EQ(names[1]["name"], "/slow");
  EXPECT_EQ(names[1]["reqs"], 5);
  EXPECT_EQ(names[1]["fails"], 5);
  EXPECT_DOUBLE_EQ(names[1]["rps"].get<double>(), 5);
  EXPECT_NEAR(names[1]["avg"].get<double>(), 120, 0.5);
  EXPECT_DOUBLE_EQ(names[1]["max"].get<double>(), 200);

  EXPECT_DOUBLE_EQ(t2["progress"]["fraction"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(t2["progress"]["time_left_s"].get<double>(), 6);
  EXPECT_TRUE(t1["progress"]["fraction"].is_null());
  EXPECT_TRUE(t2["spans"].is_null());
  EXPECT_FALSE(t2["paused"].get<bool>());
}

TEST_F(ModelTest, NoRequestInTheSecondMeansNullLatency) {
  Request("/a", "GET", 5);
  metrics::Snapshot first = Take();
  metrics::Snapshot second = Take();
  nlohmann::json t = MakeTick(second, &first, At(2, 1));
  EXPECT_TRUE(t["latency_ms"].is_null());
  EXPECT_DOUBLE_EQ(t["rps"].get<double>(), 0);
  EXPECT_EQ(t["names"][0]["reqs"], 1);
}

TEST_F(ModelTest, RatesDivideByTheIntervalBetweenTheData) {
  for (int i = 0; i < 10; ++i) Request("/a", "GET", 5);
  metrics::Snapshot first = Take();
  for (int i = 0; i < 10; ++i) Request("/a", "GET", 5);
  metrics::Snapshot second = Take();
  nlohmann::json t = MakeTick(second, &first, At(3, 2));
  EXPECT_DOUBLE_EQ(t["rps"].get<double>(), 5);
}

TEST_F(ModelTest, ErrorsChecksAndTheNameLimit) {
  Request("/x", "GET", 1, true, "1211");
  Request("/x", "GET", 1, true, "1211");
  Request("/y", "GET", 1, true, "1050");
  shard_.Add(b::kChecks, shard_.Intern({{"check", "ok"}}), 1);
  shard_.Add(b::kChecks, shard_.Intern({{"check", "ok"}}), 0);
  shard_.Add(b::kChecks, shard_.Intern({{"check", "other"}}), 1);
  for (int i = 0; i < 250; ++i) Request("/n" + std::to_string(i), "GET", 1);
  nlohmann::json t = MakeTick(Take(), nullptr, At(1));
  EXPECT_EQ(t["errors"]["1211"], 2);
  EXPECT_EQ(t["errors"]["1050"], 1);
  EXPECT_EQ(t["checks"]["passes"], 2);
  EXPECT_EQ(t["checks"]["fails"], 1);
  ASSERT_EQ(t["names"].size(), kMaxNames);
  EXPECT_EQ(t["names"][0]["name"], "/x");  // 2 reqs: first
}

TEST_F(ModelTest, UserStringsAreJsonTextOnly) {
  Request("<script>alert(1)</script>\"\n", "GET", 1);
  std::string line = Serialize(MakeTick(Take(), nullptr, At(1)));
  EXPECT_EQ(line.find('\n'), std::string::npos);  // one SSE data line
  nlohmann::json back = nlohmann::json::parse(line);
  EXPECT_EQ(back["names"][0]["name"], "<script>alert(1)</script>\"\n");
}

TEST(ThresholdsJsonTest, ListsEveryExpressionWithItsState) {
  metrics::Registry registry = metrics::Registry::WithBuiltins();
  metrics::ThresholdSet set;
  set.AddFlag("http_req_duration:p(95)<1");
  set.AddFlag("http_req_failed:rate<0.5");
  set.Validate(registry);
  metrics::Shard shard(registry);
  shard.Add(b::kHttpReqDuration, metrics::Shard::kNoTags, 50 * kMs);
  shard.Add(b::kHttpReqFailed, metrics::Shard::kNoTags, 0);
  const metrics::Shard* one[] = {&shard};
  set.Evaluate(metrics::Snapshot::Merge(registry, one), 1'000'000'000);
  nlohmann::json j = ThresholdsJson(set);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["metric"], "http_req_duration");
  EXPECT_EQ(j[0]["expr"], "p(95)<1");
  EXPECT_FALSE(j[0]["ok"].get<bool>());
  EXPECT_EQ(j[1]["metric"], "http_req_failed");
  EXPECT_TRUE(j[1]["ok"].get<bool>());
}

}  // namespace
}  // namespace stampede::ui
