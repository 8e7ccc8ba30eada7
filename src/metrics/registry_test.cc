#include "metrics/registry.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace stampede::metrics {
namespace {

TEST(RegistryTest, BuiltinsHaveFixedIdsAndK6Types) {
  const Registry r = Registry::WithBuiltins();
  EXPECT_EQ(r.size(), builtin::kCount);
  EXPECT_EQ(r.def(builtin::kHttpReqs).name, "http_reqs");
  EXPECT_EQ(r.def(builtin::kHttpReqs).type, MetricType::kCounter);
  EXPECT_EQ(r.def(builtin::kHttpReqDuration).name, "http_req_duration");
  EXPECT_EQ(r.def(builtin::kHttpReqDuration).type, MetricType::kTrend);
  EXPECT_EQ(r.def(builtin::kHttpReqDuration).value_type, ValueType::kTime);
  EXPECT_EQ(r.def(builtin::kHttpReqFailed).type, MetricType::kRate);
  EXPECT_EQ(r.def(builtin::kDataReceived).value_type, ValueType::kData);
  EXPECT_EQ(r.def(builtin::kVusMax).type, MetricType::kGauge);
  EXPECT_EQ(r.def(builtin::kIterationStartLag).name, "iteration_start_lag");
  EXPECT_EQ(r.def(builtin::kGroupDuration).name, "group_duration");
  EXPECT_EQ(r.def(builtin::kGroupDuration).type, MetricType::kTrend);
  EXPECT_EQ(r.def(builtin::kGroupDuration).value_type, ValueType::kTime);
  EXPECT_FALSE(r.def(builtin::kGroupDuration).custom);
  EXPECT_EQ(r.Find("checks"), builtin::kChecks);
  EXPECT_EQ(r.Find("nope"), std::nullopt);
}

TEST(RegistryTest, DefineIsIdempotentForTheSameType) {
  Registry r = Registry::WithBuiltins();
  const MetricId id = r.Define("my_trend", MetricType::kTrend, ValueType::kTime);
  EXPECT_EQ(id, builtin::kCount);
  EXPECT_EQ(r.Define("my_trend", MetricType::kTrend, ValueType::kTime), id);
  EXPECT_EQ(r.Define("http_reqs", MetricType::kCounter), builtin::kHttpReqs);
  EXPECT_EQ(r.size(), builtin::kCount + 1);
}

TEST(RegistryTest, RejectsRedefinitionWithAnotherType) {
  Registry r = Registry::WithBuiltins();
  EXPECT_THROW(r.Define("http_reqs", MetricType::kGauge), core::ConfigError);
  EXPECT_THROW(r.Define("http_req_duration", MetricType::kTrend), core::ConfigError);
  try {
    r.Define("vus", MetricType::kRate);
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("\"vus\""), std::string::npos) << e.what();
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
  }
}

TEST(RegistryTest, DefineCustomRejectsBuiltinNamesAndOtherTypes) {
  Registry r = Registry::WithBuiltins();
  const MetricId id = r.DefineCustom("my_trend", MetricType::kTrend, ValueType::kTime);
  EXPECT_EQ(id, builtin::kCount);
  EXPECT_TRUE(r.def(id).custom);
  EXPECT_EQ(r.DefineCustom("my_trend", MetricType::kTrend, ValueType::kTime), id);
  EXPECT_THROW(r.DefineCustom("my_trend", MetricType::kTrend, ValueType::kDefault),
               core::ConfigError);
  EXPECT_THROW(r.DefineCustom("my_trend", MetricType::kCounter, ValueType::kDefault),
               core::ConfigError);
  try {
    r.DefineCustom("http_reqs", MetricType::kCounter, ValueType::kDefault);  // same type: still no
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("\"http_reqs\" is a built-in"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(r.DefineCustom("bad-name", MetricType::kCounter, ValueType::kDefault),
               core::ConfigError);
  r.Define("engine_metric", MetricType::kCounter);  // the engine's own: not custom either
  EXPECT_THROW(r.DefineCustom("engine_metric", MetricType::kCounter, ValueType::kDefault),
               core::ConfigError);
  EXPECT_EQ(r.size(), builtin::kCount + 2);
}

TEST(RegistryTest, RejectsInvalidNames) {
  Registry r;
  for (const char* bad : {"", "1abc", "a-b", "a b", "a{b}", "ü"}) {
    EXPECT_THROW(r.Define(bad, MetricType::kCounter), core::ConfigError) << bad;
  }
  EXPECT_THROW(r.Define(std::string(129, 'a'), MetricType::kCounter), core::ConfigError);
  EXPECT_NO_THROW(r.Define(std::string(128, 'a'), MetricType::kCounter));
  EXPECT_NO_THROW(r.Define("_Abc_09", MetricType::kCounter));
}

TEST(MetricSelectorTest, ParsesPlainAndSubMetrics) {
  MetricSelector plain = ParseMetricSelector("http_req_duration");
  EXPECT_EQ(plain.metric, "http_req_duration");
  EXPECT_TRUE(plain.filter.empty());
  EXPECT_EQ(plain.suffix, "");

  MetricSelector sub = ParseMetricSelector("http_req_duration{ status:200 , name: '/api/x' }");
  EXPECT_EQ(sub.metric, "http_req_duration");
  ASSERT_EQ(sub.filter.size(), 2u);
  EXPECT_EQ(sub.filter[0], (TagPair{"name", "/api/x"}));
  EXPECT_EQ(sub.filter[1], (TagPair{"status", "200"}));
  EXPECT_EQ(sub.suffix, "status:200 , name: '/api/x'");

  MetricSelector url = ParseMetricSelector("http_reqs{url:http://x:8080/a}");
  ASSERT_EQ(url.filter.size(), 1u);
  EXPECT_EQ(url.filter[0].value, "http://x:8080/a");
}

TEST(MetricSelectorTest, RejectsMalformed) {
  for (const char* bad : {"", "http_reqs{", "http_reqs}", "http_reqs{name}", "http_reqs{:x}",
                          "http_reqs{}", "bad-name{a:b}", "http_req_duration{env:}",
                          "http_req_duration{env: }", "http_reqs{name:/a,env:}"}) {
    EXPECT_THROW(ParseMetricSelector(bad), core::ConfigError) << bad;
  }
  try {
    ParseMetricSelector("http_req_duration{env:}");
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("the tag \"env\" has no value"), std::string::npos)
        << e.what();
  }
  // A quoted empty value is a value (a tag set to "").
  EXPECT_EQ(ParseMetricSelector("http_reqs{env:\"\"}").filter[0].value, "");
}

}  // namespace
}  // namespace stampede::metrics
