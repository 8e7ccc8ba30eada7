#include "metrics/threshold.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "metrics/shard.h"

namespace stampede::metrics {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Phase = ThresholdSet::Phase;

constexpr int64_t kSecond = 1'000'000'000;

// The message of the ConfigError that `f` throws; fails the test if none.
template <typename F>
std::string ErrorOf(F&& f) {
  try {
    f();
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError thrown";
  return "";
}

// ---- expressions -----------------------------------------------------------

TEST(ThresholdExpressionTest, EveryOperator) {
  struct Case {
    const char* text;
    ThresholdOp op;
  };
  const Case cases[] = {
      {"avg<5", ThresholdOp::kLess},      {"avg<=5", ThresholdOp::kLessEqual},
      {"avg>5", ThresholdOp::kGreater},   {"avg>=5", ThresholdOp::kGreaterEqual},
      {"avg==5", ThresholdOp::kEqual},    {"avg===5", ThresholdOp::kEqual},
      {"avg!=5", ThresholdOp::kNotEqual},
  };
  for (const Case& c : cases) {
    const ThresholdExpression e = ParseThresholdExpression(c.text, "m");
    EXPECT_EQ(e.op, c.op) << c.text;
    EXPECT_EQ(e.aggregation, Aggregation::kAvg) << c.text;
    EXPECT_EQ(e.value, 5) << c.text;
  }
  ThresholdExpression e = ParseThresholdExpression("avg<5", "m");
  EXPECT_TRUE(e.Passes(4.9));
  EXPECT_FALSE(e.Passes(5));
  e = ParseThresholdExpression("avg<=5", "m");
  EXPECT_TRUE(e.Passes(5));
  EXPECT_FALSE(e.Passes(5.1));
  e = ParseThresholdExpression("avg>5", "m");
  EXPECT_TRUE(e.Passes(5.1));
  EXPECT_FALSE(e.Passes(5));
  e = ParseThresholdExpression("avg>=5", "m");
  EXPECT_TRUE(e.Passes(5));
  EXPECT_FALSE(e.Passes(4.9));
  e = ParseThresholdExpression("avg===5", "m");
  EXPECT_TRUE(e.Passes(5));
  EXPECT_FALSE(e.Passes(5.1));
  e = ParseThresholdExpression("avg!=5", "m");
  EXPECT_TRUE(e.Passes(4));
  EXPECT_FALSE(e.Passes(5));
}

TEST(ThresholdExpressionTest, AggregationsPercentilesAndWhitespace) {
  ThresholdExpression e = ParseThresholdExpression("p(99.9)<800", "m");
  EXPECT_EQ(e.aggregation, Aggregation::kPercentile);
  EXPECT_DOUBLE_EQ(e.percentile, 99.9);
  EXPECT_EQ(e.value, 800);

  e = ParseThresholdExpression("  p( 95 )   <=\t 500.5  ", "m");
  EXPECT_EQ(e.aggregation, Aggregation::kPercentile);
  EXPECT_EQ(e.percentile, 95);
  EXPECT_EQ(e.op, ThresholdOp::kLessEqual);
  EXPECT_EQ(e.value, 500.5);

  EXPECT_EQ(ParseThresholdExpression("p(0)<1", "m").percentile, 0);
  EXPECT_EQ(ParseThresholdExpression("p(100)<1", "m").percentile, 100);
  EXPECT_EQ(ParseThresholdExpression("min > 1", "m").aggregation, Aggregation::kMin);
  EXPECT_EQ(ParseThresholdExpression("max<1", "m").aggregation, Aggregation::kMax);
  EXPECT_EQ(ParseThresholdExpression("med<1", "m").aggregation, Aggregation::kMed);
  EXPECT_EQ(ParseThresholdExpression("count>10", "m").aggregation, Aggregation::kCount);
  EXPECT_EQ(ParseThresholdExpression("rate < 0.01", "m").aggregation, Aggregation::kRate);
  EXPECT_EQ(ParseThresholdExpression("value!=3", "m").aggregation, Aggregation::kValue);
  EXPECT_EQ(ParseThresholdExpression("count>1e3", "m").value, 1000);
  EXPECT_EQ(ParseThresholdExpression("value>-2.5", "m").value, -2.5);
}

TEST(ThresholdExpressionTest, MalformedExpressionsGiveOneLineErrors) {
  struct Case {
    const char* text;
    const char* hint;
  };
  const Case cases[] = {
      {"p(95)<>500", "expected <aggregation> <operator> <number>, e.g. p(95)<500"},
      {"avg<", "expected <aggregation> <operator> <number>"},
      {"<5", "expected <aggregation> <operator> <number>"},
      {"avg 5", "expected <aggregation> <operator> <number>"},
      {"avg=5", "expected <aggregation> <operator> <number>"},
      {"avg<5ms", "expected <aggregation> <operator> <number>"},
      {"", "expected <aggregation> <operator> <number>"},
      {"p95<500", "unknown aggregation \"p95\""},
      {"foo(1)<2", "unknown aggregation \"foo(1)\""},
      {"p(101)<5", "from 0 to 100"},
      {"p(x)<5", "from 0 to 100"},
  };
  for (const Case& c : cases) {
    const std::string msg = ErrorOf([&] { ParseThresholdExpression(c.text, "http_req_duration"); });
    EXPECT_THAT(
        msg, HasSubstr(std::string("invalid threshold \"") + c.text + "\" on http_req_duration: "));
    EXPECT_THAT(msg, HasSubstr(c.hint));
    EXPECT_THAT(msg, Not(HasSubstr("\n")));
  }
  EXPECT_EQ(ErrorOf([] { ParseThresholdExpression("p(95)<>500", "http_req_duration"); }),
            "invalid threshold \"p(95)<>500\" on http_req_duration: expected <aggregation> "
            "<operator> <number>, e.g. p(95)<500");
}

TEST(ThresholdExpressionTest, AggregationsAllowedPerMetricTypeAsInK6) {
  EXPECT_TRUE(IsValidAggregation(MetricType::kTrend, Aggregation::kPercentile));
  EXPECT_TRUE(IsValidAggregation(MetricType::kTrend, Aggregation::kMed));
  EXPECT_FALSE(IsValidAggregation(MetricType::kTrend, Aggregation::kCount));
  EXPECT_FALSE(IsValidAggregation(MetricType::kTrend, Aggregation::kRate));
  EXPECT_TRUE(IsValidAggregation(MetricType::kCounter, Aggregation::kCount));
  EXPECT_TRUE(IsValidAggregation(MetricType::kCounter, Aggregation::kRate));
  EXPECT_FALSE(IsValidAggregation(MetricType::kCounter, Aggregation::kValue));
  EXPECT_TRUE(IsValidAggregation(MetricType::kRate, Aggregation::kRate));
  EXPECT_FALSE(IsValidAggregation(MetricType::kRate, Aggregation::kCount));
  EXPECT_TRUE(IsValidAggregation(MetricType::kGauge, Aggregation::kValue));
  EXPECT_FALSE(IsValidAggregation(MetricType::kGauge, Aggregation::kMin));
  EXPECT_FALSE(IsValidAggregation(MetricType::kGauge, Aggregation::kMax));
}

// ---- definitions -----------------------------------------------------------

TEST(ThresholdSetTest, ParsesK6ThresholdsOption) {
  const Registry registry = Registry::WithBuiltins();
  const nlohmann::json options = nlohmann::json::parse(R"({
    "http_req_duration": ["p(95)<500", " avg < 200 "],
    "http_req_duration{name:/api/products,status:200}": ["p(99.9)<=800"],
    "http_req_duration{group:::checkout}": ["max<2000"],
    "http_req_failed": [{"threshold": "rate<0.01", "abortOnFail": true, "delayAbortEval": "10s"}],
    "checks": [{"threshold": "rate>0.9", "abortOnFail": false}],
    "iterations": []
  })");
  const ThresholdSet set = ThresholdSet::FromJson(options, &registry);
  EXPECT_TRUE(set.validated());
  const auto& r = set.Results();
  ASSERT_EQ(r.size(), 6u);
  EXPECT_EQ(r[0].metric, "checks");
  EXPECT_EQ(r[1].metric, "http_req_duration");
  EXPECT_EQ(r[2].metric, "http_req_duration{group:::checkout}");
  EXPECT_EQ(r[3].metric, "http_req_duration{name:/api/products,status:200}");
  EXPECT_EQ(r[4].metric, "http_req_failed");
  EXPECT_EQ(r[5].metric, "iterations");
  ASSERT_EQ(r[1].thresholds.size(), 2u);
  EXPECT_EQ(r[1].thresholds[0].source, "p(95)<500");
  EXPECT_EQ(r[1].thresholds[1].source, " avg < 200 ");  // verbatim, as k6 names it
  EXPECT_FALSE(r[1].thresholds[0].evaluated);
  EXPECT_TRUE(r[1].thresholds[0].passed);
  EXPECT_TRUE(r[4].thresholds[0].abort_on_fail);
  EXPECT_FALSE(r[0].thresholds[0].abort_on_fail);
  EXPECT_TRUE(r[5].thresholds.empty());
}

TEST(ThresholdSetTest, LuaShapesAndDelayForms) {
  const Registry registry = Registry::WithBuiltins();
  // A lone string or object for a one-item list, an empty object for an empty
  // list; delayAbortEval as a number (ms), a numeric string (ms) or a duration.
  const nlohmann::json options = nlohmann::json::parse(R"({
    "http_req_failed": "rate<0.01",
    "checks": {"threshold": "rate>0.9", "abortOnFail": true, "delayAbortEval": 1500},
    "http_reqs": [{"threshold": "count>1", "abortOnFail": true, "delayAbortEval": "250"},
                  {"threshold": "rate>1", "abortOnFail": true, "delayAbortEval": "1m30s"}],
    "vus": {}
  })");
  ThresholdSet set = ThresholdSet::FromJson(options, &registry);
  ASSERT_EQ(set.Results().size(), 4u);
  EXPECT_EQ(set.Results()[1].metric, "http_req_failed");
  EXPECT_EQ(set.Results()[1].thresholds[0].source, "rate<0.01");

  // The delays show through ShouldAbort once everything fails: checks and
  // http_req_failed have no samples (rates pass), http_reqs is empty too, so
  // feed it a failing value.
  Shard shard(registry);
  shard.Add(builtin::kChecks, Shard::kNoTags, 0);
  const Shard* shards[] = {&shard};
  const Snapshot snapshot = Snapshot::Merge(registry, shards);
  set.Evaluate(snapshot, 1 * kSecond);  // http_reqs count 0 fails, rate 0 fails; checks 0 fails
  EXPECT_FALSE(set.ShouldAbort(200'000'000));  // 200 ms: below every delay
  EXPECT_TRUE(set.ShouldAbort(251'000'000));   // past "250" (ms)
  ThresholdSet only_checks =
      ThresholdSet::FromJson(nlohmann::json{{"checks", options["checks"]}}, &registry);
  only_checks.Evaluate(snapshot, kSecond);
  EXPECT_FALSE(only_checks.ShouldAbort(1'500'000'000));  // strictly after 1500 ms
  EXPECT_TRUE(only_checks.ShouldAbort(1'500'000'001));
}

TEST(ThresholdSetTest, MalformedDefinitionsGiveOneLineErrors) {
  const Registry registry = Registry::WithBuiltins();
  auto error = [&](const char* json) {
    return ErrorOf([&] { ThresholdSet::FromJson(nlohmann::json::parse(json), &registry); });
  };
  EXPECT_EQ(error(R"({"http_req_duration": ["rate<0.01"]})"),
            "invalid threshold \"rate<0.01\" on http_req_duration: rate is not valid on a trend "
            "metric; use avg, min, med, max or p(N)");
  EXPECT_EQ(error(R"({"http_req_failed": ["count>1"]})"),
            "invalid threshold \"count>1\" on http_req_failed: count is not valid on a rate "
            "metric; use rate");
  EXPECT_THAT(error(R"({"vus": ["max<10"]})"),
              HasSubstr("max is not valid on a gauge metric; use value"));
  EXPECT_THAT(error(R"({"http_reqs": ["p(95)<1"]})"),
              HasSubstr("p(N) is not valid on a counter metric; use count or rate"));
  EXPECT_THAT(error(R"({"http_req_duration{name:/api}": ["value<1"]})"),
              HasSubstr("on http_req_duration{name:/api}: value is not valid on a trend"));
  EXPECT_EQ(error(R"({"http_req_durations": ["p(95)<500"]})"),
            "invalid threshold \"p(95)<500\" on http_req_durations: no metric named "
            "\"http_req_durations\"; use a built-in metric such as http_req_duration or one the "
            "script defines");
  EXPECT_THAT(error(R"({"my_trend{name:/x}": []})"),
              HasSubstr("invalid thresholds on my_trend{name:/x}: no metric named \"my_trend\""));
  EXPECT_THAT(error(R"({"http_req_duration": ["p(95)<>500"]})"),
              HasSubstr("invalid threshold \"p(95)<>500\" on http_req_duration: expected"));
  EXPECT_THAT(error(R"({"http_req_duration": [500]})"),
              HasSubstr("invalid threshold on http_req_duration: expected a string such as"));
  EXPECT_THAT(error(R"({"http_req_duration": [{"abortOnFail": true}]})"),
              HasSubstr("invalid threshold on http_req_duration: expected a string such as"));
  EXPECT_EQ(error(R"({"http_req_duration": [{"threshold": "p(95)<1", "abortOnFail": "yes"}]})"),
            "invalid abortOnFail of threshold \"p(95)<1\" on http_req_duration: expected true or "
            "false");
  EXPECT_THAT(
      error(R"({"http_req_duration": [{"threshold": "p(95)<1", "delayAbortEval": "10q"}]})"),
      HasSubstr("invalid delayAbortEval of threshold \"p(95)<1\" on http_req_duration"));
  EXPECT_THAT(error(R"({"http_req_duration": 5})"),
              HasSubstr("invalid thresholds on http_req_duration: expected a list"));
  EXPECT_THAT(error(R"(["p(95)<500"])"), HasSubstr("invalid thresholds: expected a table"));
  EXPECT_THAT(error(R"({"http_req_duration{name": ["p(95)<500"]})"),
              HasSubstr("invalid metric \"http_req_duration{name\""));
  for (const char* json :
       {R"({"http_req_duration": ["rate<0.01"]})", R"({"nope": ["p(95)<500"]})",
        R"({"http_req_duration": [{"threshold": "p(95)<1", "delayAbortEval": "10q"}]})"}) {
    EXPECT_THAT(error(json), Not(HasSubstr("\n"))) << json;
  }
}

TEST(ThresholdSetTest, CustomMetricsDefinedBeforeValidation) {
  Registry registry = Registry::WithBuiltins();
  const nlohmann::json options = {{"cart_latency", {"p(90)<300"}}, {"orders", {"count>0"}}};
  ThresholdSet set = ThresholdSet::FromJson(options, nullptr);  // syntax only
  EXPECT_FALSE(set.validated());
  EXPECT_THAT(ErrorOf([&] { set.Validate(registry); }), HasSubstr("no metric named"));
  registry.Define("cart_latency", MetricType::kTrend, ValueType::kTime);
  registry.Define("orders", MetricType::kCounter);
  set.Validate(registry);
  EXPECT_TRUE(set.validated());
}

TEST(ThresholdFlagTest, SplitsAtTheFirstColonOutsideBraces) {
  ThresholdConfig c = ParseThresholdFlag("http_req_duration:p(95)<500");
  EXPECT_EQ(c.metric, "http_req_duration");
  EXPECT_EQ(c.source, "p(95)<500");
  EXPECT_FALSE(c.abort_on_fail);
  EXPECT_FALSE(c.delay_abort_eval);

  c = ParseThresholdFlag("http_req_duration{group:::checkout}:p(95) < 500");
  EXPECT_EQ(c.metric, "http_req_duration{group:::checkout}");
  EXPECT_EQ(c.source, "p(95) < 500");
  EXPECT_EQ(ParseMetricSelector(c.metric).filter, (std::vector<TagPair>{{"group", "::checkout"}}));

  c = ParseThresholdFlag(" http_req_duration{name:/api/products,status:200} : avg<3 ");
  EXPECT_EQ(c.metric, "http_req_duration{name:/api/products,status:200}");
  EXPECT_EQ(c.source, "avg<3");

  for (const char* bad : {"http_req_duration", ":p(95)<5", "http_req_duration:", ""}) {
    const std::string msg = ErrorOf([&] { ParseThresholdFlag(bad); });
    EXPECT_EQ(msg, std::string("invalid --threshold \"") + bad +
                       "\": expected <metric>:<expression>, e.g. http_req_duration:p(95)<500 or "
                       "http_req_duration{name:/api}:p(99)<800");
  }
  EXPECT_THAT(ErrorOf([] { ParseThresholdFlag("http_req_duration:p95<5"); }),
              HasSubstr("invalid threshold \"p95<5\" on http_req_duration: unknown aggregation"));
  EXPECT_THAT(ErrorOf([] { ParseThresholdFlag("http_req_duration{name}:p(95)<5"); }),
              HasSubstr("invalid metric"));

  // Flags add to a set; a key given twice gathers its thresholds.
  const Registry registry = Registry::WithBuiltins();
  ThresholdSet set =
      ThresholdSet::FromJson(nlohmann::json{{"http_req_duration", {"p(95)<500"}}}, &registry);
  set.AddFlag("http_req_duration:avg<100");
  set.AddFlag("http_reqs:count>0");
  EXPECT_FALSE(set.validated());
  set.Validate(registry);
  ASSERT_EQ(set.Results().size(), 2u);
  EXPECT_EQ(set.Results()[0].thresholds.size(), 2u);
  EXPECT_EQ(set.Results()[0].thresholds[1].source, "avg<100");
}

// ---- evaluation ------------------------------------------------------------

class ThresholdEvalTest : public ::testing::Test {
 protected:
  // A 10 s run on two shards: 5 requests, durations 100, 200, 300, 400 ms on
  // name=/ and 1000 ms on name=/api (failed); 5000 bytes received; 7 VUs.
  Snapshot Run() {
    Shard a(registry_), b(registry_);
    const TagSetId a_home = a.Intern({{"name", "/"}, {"status", "200"}});
    const TagSetId b_home = b.Intern({{"status", "200"}, {"name", "/"}});
    const TagSetId b_api = b.Intern({{"name", "/api"}, {"status", "500"}, {"group", "::cart"}});
    auto request = [](Shard& s, TagSetId t, double ms, bool failed) {
      s.Add(builtin::kHttpReqs, t, 1);
      s.Add(builtin::kHttpReqDuration, t, ms * 1e6);
      s.Add(builtin::kHttpReqFailed, t, failed ? 1 : 0);
    };
    request(a, a_home, 100, false);
    request(a, a_home, 200, false);
    request(b, b_home, 300, false);
    request(b, b_home, 400, false);
    request(b, b_api, 1000, true);
    a.Add(builtin::kDataReceived, Shard::kNoTags, 2000);
    b.Add(builtin::kDataReceived, Shard::kNoTags, 3000);
    a.Add(builtin::kVus, Shard::kNoTags, 7);
    const Shard* shards[] = {&a, &b};
    Snapshot s = Snapshot::Merge(registry_, shards);
    s.set_elapsed_ns(10 * kSecond);
    return s;
  }

  ThresholdSet Set(const char* json) {
    return ThresholdSet::FromJson(nlohmann::json::parse(json), &registry_);
  }

  static const ThresholdResult& Find(const ThresholdSet& set, std::string_view metric,
                                     std::string_view source) {
    for (const MetricThresholdResults& m : set.Results()) {
      if (m.metric != metric) continue;
      for (const ThresholdResult& r : m.thresholds) {
        if (r.source == source) return r;
      }
    }
    ADD_FAILURE() << "no threshold " << source << " on " << metric;
    static const ThresholdResult none;
    return none;
  }

  Registry registry_ = Registry::WithBuiltins();
};

TEST_F(ThresholdEvalTest, TrendsCompareMilliseconds) {
  ThresholdSet set = Set(R"({"http_req_duration": [
      "p(95)<1500", "avg<300", "max<=1000", "min==100", "med<350", "p(99.9)>990"]})");
  set.Evaluate(Run(), 10 * kSecond);
  const ThresholdResult& p95 = Find(set, "http_req_duration", "p(95)<1500");
  EXPECT_TRUE(p95.evaluated);
  EXPECT_TRUE(p95.passed);
  // 5 samples, linear interpolation: p(95) = 400 + 0.8 * (1000 - 400) = 880 ms.
  EXPECT_NEAR(*p95.observed, 880, 880 * 0.006);
  const ThresholdResult& avg = Find(set, "http_req_duration", "avg<300");
  EXPECT_FALSE(avg.passed);
  EXPECT_DOUBLE_EQ(*avg.observed, 400);                             // (100+200+300+400+1000)/5 ms
  EXPECT_TRUE(Find(set, "http_req_duration", "max<=1000").passed);  // min and max are exact
  EXPECT_TRUE(Find(set, "http_req_duration", "min==100").passed);
  EXPECT_TRUE(Find(set, "http_req_duration", "med<350").passed);
  EXPECT_NEAR(*Find(set, "http_req_duration", "med<350").observed, 300, 300 * 0.006);
  EXPECT_TRUE(Find(set, "http_req_duration", "p(99.9)>990").passed);
  EXPECT_THAT(set.FailedMetrics(), ElementsAre("http_req_duration"));
  EXPECT_FALSE(set.AllPassed());
}

TEST_F(ThresholdEvalTest, SubMetricsFilterByTags) {
  ThresholdSet set = Set(R"({
      "http_req_duration{name:/api}": ["max<500"],
      "http_req_duration{name:/}": ["max<500", "avg==250"],
      "http_req_duration{group:::cart}": ["min>=1000"],
      "http_req_failed{name:/}": ["rate==0"],
      "http_reqs{status:200}": ["count==4"]})");
  set.Evaluate(Run(), 10 * kSecond);
  const ThresholdResult& api = Find(set, "http_req_duration{name:/api}", "max<500");
  EXPECT_FALSE(api.passed);
  EXPECT_DOUBLE_EQ(*api.observed, 1000);
  EXPECT_TRUE(Find(set, "http_req_duration{name:/}", "max<500").passed);
  EXPECT_DOUBLE_EQ(*Find(set, "http_req_duration{name:/}", "max<500").observed, 400);
  EXPECT_TRUE(Find(set, "http_req_duration{name:/}", "avg==250").passed);
  EXPECT_TRUE(Find(set, "http_req_duration{group:::cart}", "min>=1000").passed);
  EXPECT_TRUE(Find(set, "http_req_failed{name:/}", "rate==0").passed);
  EXPECT_TRUE(Find(set, "http_reqs{status:200}", "count==4").passed);
  EXPECT_THAT(set.FailedMetrics(), ElementsAre("http_req_duration{name:/api}"));
}

TEST_F(ThresholdEvalTest, RatesCountersAndGauges) {
  ThresholdSet set = Set(R"({
      "http_req_failed": ["rate<0.1", "rate<=0.2"],
      "http_reqs": ["count==5", "rate>0.4", "rate>=1"],
      "data_received": ["count>=5000", "rate==500"],
      "vus": ["value==7", "value>7"]})");
  set.Evaluate(Run(), 10 * kSecond);
  const ThresholdResult& failed = Find(set, "http_req_failed", "rate<0.1");
  EXPECT_FALSE(failed.passed);
  EXPECT_DOUBLE_EQ(*failed.observed, 0.2);
  EXPECT_TRUE(Find(set, "http_req_failed", "rate<=0.2").passed);
  EXPECT_TRUE(Find(set, "http_reqs", "count==5").passed);
  // Counter rate is per second over the elapsed time given to Evaluate.
  EXPECT_DOUBLE_EQ(*Find(set, "http_reqs", "rate>0.4").observed, 0.5);
  EXPECT_TRUE(Find(set, "http_reqs", "rate>0.4").passed);
  EXPECT_FALSE(Find(set, "http_reqs", "rate>=1").passed);
  EXPECT_TRUE(Find(set, "data_received", "count>=5000").passed);  // bytes
  EXPECT_TRUE(Find(set, "data_received", "rate==500").passed);    // bytes per second
  EXPECT_TRUE(Find(set, "vus", "value==7").passed);
  EXPECT_FALSE(Find(set, "vus", "value>7").passed);
  EXPECT_THAT(set.FailedMetrics(), ElementsAre("http_req_failed", "http_reqs", "vus"));

  set.Evaluate(Run(), 5 * kSecond);  // same counts over 5 s: 1 request per second
  EXPECT_TRUE(Find(set, "http_reqs", "rate>=1").passed);
}

TEST_F(ThresholdEvalTest, TimeCountersAndGaugesAreMilliseconds) {
  const MetricId waited = registry_.Define("waited", MetricType::kCounter, ValueType::kTime);
  const MetricId lag = registry_.Define("lag", MetricType::kGauge, ValueType::kTime);
  Shard shard(registry_);
  shard.Add(waited, Shard::kNoTags, 1.5e9);  // 1.5 s
  shard.Add(lag, Shard::kNoTags, 2e6);       // 2 ms
  const Shard* shards[] = {&shard};
  ThresholdSet set = Set(R"({"waited": ["count==1500", "rate==750"], "lag": ["value==2"]})");
  set.Evaluate(Snapshot::Merge(registry_, shards), 2 * kSecond);
  EXPECT_TRUE(set.AllPassed());
  EXPECT_DOUBLE_EQ(*Find(set, "waited", "rate==750").observed, 750);
}

TEST_F(ThresholdEvalTest, EmptyMetricsFollowK6) {
  ThresholdSet set = Set(R"({
      "checks": ["rate>0.9"],
      "iterations": ["count>10", "count<10"],
      "iteration_duration": ["p(95)<500", "avg>0"],
      "http_req_duration{name:/none}": ["max<1"],
      "vus_max": ["value==0"]})");
  const Snapshot snapshot = Run();

  // During the run, metrics without samples are skipped.
  set.Evaluate(snapshot, 10 * kSecond, Phase::kDuringRun);
  for (const MetricThresholdResults& m : set.Results()) {
    for (const ThresholdResult& r : m.thresholds) {
      EXPECT_FALSE(r.evaluated) << m.metric << " " << r.source;
      EXPECT_TRUE(r.passed) << m.metric << " " << r.source;
    }
  }
  EXPECT_TRUE(set.AllPassed());

  // At the end they are evaluated on zero values; a rate without samples passes.
  set.Evaluate(snapshot, 10 * kSecond, Phase::kEndOfTest);
  const ThresholdResult& checks = Find(set, "checks", "rate>0.9");
  EXPECT_TRUE(checks.evaluated);
  EXPECT_TRUE(checks.passed);
  EXPECT_FALSE(checks.observed);
  EXPECT_FALSE(Find(set, "iterations", "count>10").passed);
  EXPECT_EQ(Find(set, "iterations", "count>10").observed, 0.0);
  EXPECT_TRUE(Find(set, "iterations", "count<10").passed);
  EXPECT_TRUE(Find(set, "iteration_duration", "p(95)<500").passed);
  EXPECT_FALSE(Find(set, "iteration_duration", "avg>0").passed);
  EXPECT_TRUE(Find(set, "http_req_duration{name:/none}", "max<1").passed);
  EXPECT_TRUE(Find(set, "vus_max", "value==0").passed);
  EXPECT_THAT(set.FailedMetrics(), ElementsAre("iteration_duration", "iterations"));

  // An empty Snapshot (no definitions at all) behaves the same.
  set.Evaluate(Snapshot(), 0, Phase::kEndOfTest);
  EXPECT_THAT(set.FailedMetrics(), ElementsAre("iteration_duration", "iterations"));
}

TEST_F(ThresholdEvalTest, AbortOnFailWaitsForDelayAbortEval) {
  ThresholdSet set = Set(R"({
      "http_req_failed": [{"threshold": "rate<0.1", "abortOnFail": true,
                           "delayAbortEval": "10s"}],
      "http_req_duration": ["avg<300"],
      "checks": [{"threshold": "rate>0.9", "abortOnFail": true}]})");
  EXPECT_FALSE(set.ShouldAbort(100 * kSecond));  // nothing evaluated yet
  const Snapshot snapshot = Run();               // rate 0.2 fails; avg 400 ms fails

  set.Evaluate(snapshot, 5 * kSecond, Phase::kDuringRun);
  EXPECT_FALSE(set.ShouldAbort(5 * kSecond));
  EXPECT_FALSE(set.ShouldAbort(10 * kSecond));  // k6: delay < elapsed, strictly
  EXPECT_TRUE(set.ShouldAbort(10 * kSecond + 1));
  EXPECT_TRUE(set.ShouldAbort(12 * kSecond));

  // A failing threshold without abortOnFail never aborts.
  ThresholdSet no_abort = Set(R"({"http_req_duration": ["avg<300"]})");
  no_abort.Evaluate(snapshot, 60 * kSecond, Phase::kDuringRun);
  EXPECT_FALSE(no_abort.AllPassed());
  EXPECT_FALSE(no_abort.ShouldAbort(60 * kSecond));

  // abortOnFail without a delay aborts at once; an empty metric is not
  // evaluated during the run, so it cannot abort it.
  ThresholdSet immediate = Set(R"({
      "checks": [{"threshold": "rate>0.9", "abortOnFail": true}],
      "http_req_duration": [{"threshold": "avg<300", "abortOnFail": true}]})");
  immediate.Evaluate(snapshot, kSecond, Phase::kDuringRun);
  EXPECT_TRUE(immediate.ShouldAbort(kSecond));
  ThresholdSet empty_only =
      Set(R"({"iterations": [{"threshold": "count>1", "abortOnFail": true}]})");
  empty_only.Evaluate(snapshot, kSecond, Phase::kDuringRun);
  EXPECT_FALSE(empty_only.ShouldAbort(kSecond));

  // A threshold that recovers stops asking for an abort.
  ThresholdSet recovers = Set(R"({"http_req_duration": [{"threshold": "avg<300",
                                   "abortOnFail": true, "delayAbortEval": "1m"}]})");
  recovers.Evaluate(snapshot, kSecond, Phase::kDuringRun);
  EXPECT_TRUE(recovers.ShouldAbort(61 * kSecond));
  Shard fast(registry_);
  fast.Add(builtin::kHttpReqDuration, Shard::kNoTags, 10e6);
  const Shard* shards[] = {&fast};
  recovers.Evaluate(Snapshot::Merge(registry_, shards), 61 * kSecond, Phase::kDuringRun);
  EXPECT_FALSE(recovers.ShouldAbort(61 * kSecond));
}

// ---- k6's own cases --------------------------------------------------------
// The inputs and outcomes of grafana/k6's metrics/thresholds_parser_test.go,
// metrics/thresholds_test.go and metrics/metric_test.go (TestParseMetricName),
// held against our parser. Where stampede differs on purpose, the case says
// so (see threshold.h).

bool Accepts(std::string_view text) {
  try {
    ParseThresholdExpression(text, "m");
    return true;
  } catch (const core::ConfigError&) {
    return false;
  }
}

TEST(K6CasesThresholdExpression, ParseThresholdExpression) {
  EXPECT_FALSE(Accepts("count!20"));  // unknown operator
  EXPECT_FALSE(Accepts("foo>20"));    // unknown method
  EXPECT_FALSE(Accepts("count>abc"));  // non-numerical value
  const ThresholdExpression e = ParseThresholdExpression("count>20", "m");
  EXPECT_EQ(e.aggregation, Aggregation::kCount);
  EXPECT_EQ(e.op, ThresholdOp::kGreater);
  EXPECT_EQ(e.value, 20);
}

TEST(K6CasesThresholdExpression, AggregationMethods) {
  struct Case {
    const char* lhs;
    Aggregation aggregation;
    double percentile;
  };
  const Case ok[] = {
      {"count", Aggregation::kCount, 0},     {"rate", Aggregation::kRate, 0},
      {"value", Aggregation::kValue, 0},     {"avg", Aggregation::kAvg, 0},
      {"min", Aggregation::kMin, 0},         {"max", Aggregation::kMax, 0},
      {"med", Aggregation::kMed, 0},         {"p(99)", Aggregation::kPercentile, 99},
      {"p(99.9)", Aggregation::kPercentile, 99.9}, {"p(0)", Aggregation::kPercentile, 0},
      {"p(100)", Aggregation::kPercentile, 100},
  };
  for (const Case& c : ok) {
    const ThresholdExpression e = ParseThresholdExpression(std::string(c.lhs) + "<1", "m");
    EXPECT_EQ(e.aggregation, c.aggregation) << c.lhs;
    EXPECT_DOUBLE_EQ(e.percentile, c.percentile) << c.lhs;
  }
  for (const char* bad : {"foo", "p()", "p(99", "p(foo)", "p(-1)", "p(101)", "p(NaN)", "p(+Inf)"}) {
    EXPECT_FALSE(Accepts(std::string(bad) + "<1")) << bad;
  }
}

TEST(K6CasesThresholdExpression, ScanOperatorsAndTrimming) {
  struct Case {
    const char* text;
    ThresholdOp op;
  };
  const Case ok[] = {
      {"avg<=1", ThresholdOp::kLessEqual}, {"avg<1", ThresholdOp::kLess},
      {"avg>=1", ThresholdOp::kGreaterEqual}, {"avg>1", ThresholdOp::kGreater},
      {"avg===1", ThresholdOp::kEqual},    {"avg==1", ThresholdOp::kEqual},
      {"avg!=1", ThresholdOp::kNotEqual},  {"  avg  <=1", ThresholdOp::kLessEqual},
      {"avg<=  1  ", ThresholdOp::kLessEqual},
  };
  for (const Case& c : ok) {
    const ThresholdExpression e = ParseThresholdExpression(c.text, "m");
    EXPECT_EQ(e.op, c.op) << c.text;
    EXPECT_EQ(e.value, 1) << c.text;
  }
  EXPECT_FALSE(Accepts("avg!1"));
}

// The expressions of thresholds_test.go (TestThresholdRun, TestThresholdsParse,
// TestThresholdsValidate, the JSON cases): all valid syntax.
TEST(K6CasesThresholdExpression, ThresholdsTestExpressions) {
  for (const char* text :
       {"rate<0.01", "rate>0.01", "rate>=0.01", "rate<=0.01", "rate==0.01", "rate===0.01",
        "rate!=0.01", "p(95)<200", "p(95)<500", "count>20", "med<27.2", "avg<27.2", "min<27.2",
        "max<27.2", "value<10", "p(99.9)<100", "count<2000", "med>27.2"}) {
    EXPECT_TRUE(Accepts(text)) << text;
  }
  EXPECT_FALSE(Accepts("rate&0.01"));
  EXPECT_FALSE(Accepts("foo&0"));
}

// Numbers are Go's strconv.ParseFloat, k6's reader for both sides.
TEST(K6CasesThresholdExpression, NumbersAsGoParseFloat) {
  EXPECT_EQ(ParseThresholdExpression("count>1_000", "m").value, 1000);
  EXPECT_EQ(ParseThresholdExpression("count>1_000.5e1_0", "m").value, 1000.5e10);
  EXPECT_EQ(ParseThresholdExpression("count>0x1p-2", "m").value, 0.25);
  EXPECT_EQ(ParseThresholdExpression("count>-0X1.8P1", "m").value, -3);
  EXPECT_EQ(ParseThresholdExpression("count>0x_1p0", "m").value, 1);
  EXPECT_EQ(ParseThresholdExpression("count>+.5", "m").value, 0.5);
  EXPECT_EQ(ParseThresholdExpression("count>5.", "m").value, 5);
  EXPECT_EQ(ParseThresholdExpression("count>1e-400", "m").value, 0);  // underflow: Go gives 0
  EXPECT_EQ(ParseThresholdExpression("p(9_9)<1", "m").percentile, 99);
  for (const char* bad :
       {"count>+-5", "count>-+5", "count>--5", "count>1__0", "count>_1", "count>1_",
        "count>1_.5", "count>0x10", "count>0x", "count>0xp1", "count>1e", "count>1e+",
        "count>.", "count>1e400", "count>0x1p99999", "count>1.2.3", "count>1 0"}) {
    EXPECT_FALSE(Accepts(bad)) << bad;
  }
  // stampede: finite values only (k6's ParseFloat takes these).
  for (const char* refused : {"count>Inf", "count>+Inf", "count>-infinity", "count>NaN"}) {
    EXPECT_FALSE(Accepts(refused)) << refused;
  }
  // stampede: blanks inside p( ) are allowed (k6 refuses them).
  EXPECT_EQ(ParseThresholdExpression("p( 95 )<1", "m").percentile, 95);
}

bool AcceptsKey(const std::string& key) {
  try {
    ThresholdSet set;
    set.Add(ThresholdConfig{key, "count>0", false, std::nullopt});
    return true;
  } catch (const core::ConfigError&) {
    return false;
  }
}

TEST(K6CasesMetricName, ParseMetricName) {
  struct Case {
    const char* key;
    std::vector<TagPair> tags;
  };
  const Case ok[] = {
      {"test_metric", {}},
      {"test_metric{abc:123}", {{"abc", "123"}}},
      {"test_metric{abc:123,easyas:doremi}", {{"abc", "123"}, {"easyas", "doremi"}}},
      {"test_metric{abc:123, easyas:doremi}", {{"abc", "123"}, {"easyas", "doremi"}}},
      {"test_metric{group:::mygroup}", {{"group", "::mygroup"}}},
      {"http_req_duration{name:http://${}.com}", {{"name", "http://${}.com"}}},
      {"http_req_duration{name:http://${}.com,url:ssh://github.com:grafana/k6}",
       {{"name", "http://${}.com"}, {"url", "ssh://github.com:grafana/k6"}}},
  };
  for (const Case& c : ok) {
    EXPECT_TRUE(AcceptsKey(c.key)) << c.key;
    EXPECT_TRUE(ParseThresholdFlag(std::string(c.key) + ":count>0").metric == c.key) << c.key;
    EXPECT_EQ(ParseMetricSelector(c.key).filter, c.tags) << c.key;
  }
  for (const char* bad :
       {"test_metric{easyas}", "test_metric{easyas:}", "test_metric{abc:123,easyas:}",
        "test_metric{abc:123,easyas:doremi", "test_metricabc:123,easyas:doremi}",
        "test_metric}abc:123,easyas:doremi}", "test_metric}abc{bar", "test_metric{foo:ba}r",
        // The brief's example, and what k6 refuses through the same rule.
        "http_req_duration{env:}", "http_req_duration{status:200,}", "http_req_duration{}",
        "http_req_duration{ }", "http_req_duration{,status:200}"}) {
    EXPECT_FALSE(AcceptsKey(bad)) << bad;
    // As a flag the broken braces may move the split point: refused either way.
    EXPECT_FALSE(ErrorOf([&] { ParseThresholdFlag(std::string(bad) + ":count>0"); }).empty())
        << bad;
    EXPECT_THAT(ErrorOf([&] {
                  ThresholdSet::FromJson(nlohmann::json{{bad, {"count>0"}}}, nullptr);
                }),
                HasSubstr("invalid metric"))
        << bad;
  }
}

// k6's TestAddSubmetric: how the tag text becomes tags (quotes and blanks
// around keys and values removed). Only the cases that ParseMetricName also
// takes apply to thresholds.
TEST(K6CasesMetricName, SubmetricTags) {
  EXPECT_EQ(ParseMetricSelector("m{a:1}").filter, (std::vector<TagPair>{{"a", "1"}}));
  EXPECT_EQ(ParseMetricSelector("m{ a : 1 }").filter, (std::vector<TagPair>{{"a", "1"}}));
  EXPECT_EQ(ParseMetricSelector("m{a:1,b:2}").filter,
            (std::vector<TagPair>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ParseMetricSelector("m{ a : 1, b : 2 }").filter,
            (std::vector<TagPair>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ParseMetricSelector("m{a : '1' , b : \"2\"}").filter,
            (std::vector<TagPair>{{"a", "1"}, {"b", "2"}}));
  EXPECT_EQ(ParseMetricSelector("m{a:\"\",b: ''}").filter,
            (std::vector<TagPair>{{"a", ""}, {"b", ""}}));
}

}  // namespace
}  // namespace stampede::metrics
