#include "otel/metrics_config.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace stampede::otel {
namespace {

using Env = std::map<std::string, std::string>;

bool HasNote(const MetricsConfig& c, std::string_view part) {
  for (const std::string& n : c.notes) {
    if (n.find(part) != std::string::npos) return true;
  }
  return false;
}

TEST(MetricsConfigTest, OffUnlessAskedFor) {
  MetricsConfig c = ParseMetricsConfig({}, false, false);
  EXPECT_FALSE(c.otlp);
  EXPECT_TRUE(c.prometheus_address.empty());
  EXPECT_EQ(c.interval.count(), 10000);  // stampede's default, not the spec's 60000
  EXPECT_EQ(c.timeout.count(), 30000);
  EXPECT_EQ(c.temporality, MetricsTemporality::kCumulative);
  EXPECT_EQ(c.aggregation, HistogramAggregation::kBase2Exponential);
}

TEST(MetricsConfigTest, OtelFlagExportsOtlpToTheMetricsPath) {
  MetricsConfig c =
      ParseMetricsConfig({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}}, true, false);
  ASSERT_TRUE(c.otlp);
  EXPECT_EQ(c.otlp->exporter, ExporterKind::kOtlp);
  EXPECT_EQ(c.otlp->signal, Signal::kMetrics);
  EXPECT_EQ(c.otlp->endpoint, "http://127.0.0.1:4318/v1/metrics");
}

TEST(MetricsConfigTest, ExporterVariableSelects) {
  EXPECT_FALSE(ParseMetricsConfig({{"OTEL_METRICS_EXPORTER", "none"}}, true, false).otlp);
  EXPECT_FALSE(ParseMetricsConfig({{"OTEL_SDK_DISABLED", "true"}}, true, false).otlp);
  MetricsConfig console = ParseMetricsConfig({{"OTEL_METRICS_EXPORTER", "console"}}, false, false);
  ASSERT_TRUE(console.otlp);
  EXPECT_EQ(console.otlp->exporter, ExporterKind::kConsole);
  MetricsConfig prom = ParseMetricsConfig(
      {{"OTEL_METRICS_EXPORTER", "prometheus"}, {"OTEL_EXPORTER_PROMETHEUS_PORT", "9999"}}, false,
      false);
  EXPECT_FALSE(prom.otlp);
  EXPECT_EQ(prom.prometheus_address, "127.0.0.1:9999");
  EXPECT_THROW(ParseMetricsConfig({{"OTEL_METRICS_EXPORTER", "otlp,prometheus"}}, true, false),
               core::ConfigError);
  EXPECT_THROW(ParseMetricsConfig({{"OTEL_METRICS_EXPORTER", "zipkin"}}, true, false),
               core::ConfigError);
}

TEST(MetricsConfigTest, SdkVariables) {
  MetricsConfig c = ParseMetricsConfig(
      {{"OTEL_METRIC_EXPORT_INTERVAL", "1000"},
       {"OTEL_METRIC_EXPORT_TIMEOUT", "500"},
       {"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"},
       {"OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", "explicit_bucket_histogram"}},
      true, false);
  EXPECT_EQ(c.interval.count(), 1000);
  EXPECT_EQ(c.timeout.count(), 500);
  EXPECT_EQ(c.temporality, MetricsTemporality::kDelta);
  EXPECT_EQ(c.aggregation, HistogramAggregation::kExplicitBucket);
  try {
    ParseMetricsConfig({{"OTEL_METRIC_EXPORT_INTERVAL", "10s"}}, true, false);
    FAIL() << "no error";
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("OTEL_METRIC_EXPORT_INTERVAL"), std::string::npos);
  }
  EXPECT_THROW(ParseMetricsConfig({{"OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "x"}},
                                  true, false),
               core::ConfigError);
}

// The seed's exact k6 invocation: K6_OTEL_GRPC_EXPORTER_INSECURE=true
// K6_OTEL_METRIC_PREFIX=k6_ K6_OTEL_EXPORTER_OTLP_ENDPOINT=localhost:4317
// stampede run --out experimental-opentelemetry test.lua
TEST(MetricsConfigTest, K6InvocationMeansPlainGrpcToTheBareEndpoint) {
  MetricsConfig c = ParseMetricsConfig({{"K6_OTEL_GRPC_EXPORTER_INSECURE", "true"},
                                        {"K6_OTEL_METRIC_PREFIX", "k6_"},
                                        {"K6_OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"}},
                                       /*otel_flag=*/false, /*k6_output=*/true);
  ASSERT_TRUE(c.otlp);
  EXPECT_EQ(c.otlp->protocol, OtlpProtocol::kGrpc);
  EXPECT_EQ(c.otlp->grpc_target, "localhost:4317");
  EXPECT_FALSE(c.otlp->use_tls);
  ASSERT_TRUE(c.k6_prefix);
  EXPECT_EQ(*c.k6_prefix, "k6_");
  EXPECT_TRUE(c.notes.empty());
}

TEST(MetricsConfigTest, K6HttpTypeWithUrlPathAndTls) {
  MetricsConfig c = ParseMetricsConfig({{"K6_OTEL_EXPORTER_TYPE", "http"},
                                        {"K6_OTEL_HTTP_EXPORTER_ENDPOINT", "collector:4318"},
                                        {"K6_OTEL_HTTP_EXPORTER_URL_PATH", "/otlp/v1/metrics"},
                                        {"K6_OTEL_SERVICE_NAME", "checkout-test"},
                                        {"K6_OTEL_EXPORT_INTERVAL", "2s"}},
                                       false, true);
  ASSERT_TRUE(c.otlp);
  EXPECT_EQ(c.otlp->protocol, OtlpProtocol::kHttpProtobuf);
  EXPECT_EQ(c.otlp->endpoint, "https://collector:4318/otlp/v1/metrics");
  EXPECT_TRUE(c.otlp->use_tls);
  EXPECT_EQ(c.otlp->service_name, "checkout-test");
  EXPECT_EQ(c.interval.count(), 2000);
}

TEST(MetricsConfigTest, StandardVariablesWinOverK6OnesWithANote) {
  MetricsConfig c = ParseMetricsConfig(
      {{"K6_OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4317"},
       {"K6_OTEL_GRPC_EXPORTER_INSECURE", "true"},
       {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://127.0.0.1:5317"},
       {"K6_OTEL_SERVICE_NAME", "k6name"},
       {"OTEL_SERVICE_NAME", "stdname"}},
      false, true);
  ASSERT_TRUE(c.otlp);
  EXPECT_EQ(c.otlp->grpc_target, "127.0.0.1:5317");
  EXPECT_EQ(c.otlp->service_name, "stdname");
  EXPECT_TRUE(HasNote(c, "K6_OTEL_EXPORTER_OTLP_ENDPOINT is ignored"));
  EXPECT_TRUE(HasNote(c, "K6_OTEL_SERVICE_NAME is ignored"));
}

TEST(MetricsConfigTest, BadK6ValuesNameTheVariable) {
  for (const Env& env : std::vector<Env>{
           {{"K6_OTEL_EXPORTER_TYPE", "zipkin"}},
           {{"K6_OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4317"}},
           {{"K6_OTEL_GRPC_EXPORTER_INSECURE", "maybe"}, {"K6_OTEL_EXPORTER_OTLP_ENDPOINT", "h:1"}},
           {{"K6_OTEL_EXPORT_INTERVAL", "soon"}},
           {{"K6_OTEL_TLS_INSECURE_SKIP_VERIFY", "true"}}}) {
    try {
      ParseMetricsConfig(env, false, true);
      FAIL() << "no error for " << env.begin()->first;
    } catch (const core::ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("K6_OTEL_"), std::string::npos) << e.what();
    }
  }
}

TEST(MetricsConfigTest, K6VariablesWithoutAnOutputSayHowToTurnItOn) {
  MetricsConfig c = ParseMetricsConfig({{"K6_OTEL_METRIC_PREFIX", "k6_"}}, false, false);
  EXPECT_FALSE(c.otlp);
  EXPECT_TRUE(HasNote(c, "--out opentelemetry"));
}

// Found by tests/fuzz/otel_env_fuzz: K6_OTEL_SERVICE_VERSION was appended
// raw to OTEL_RESOURCE_ATTRIBUTES, whose values are percent-decoded: a ','
// in the version added attributes, and a '%' made the whole variable (the
// user's own attributes too) be discarded.
TEST(MetricsConfigTest, K6ServiceVersionIsEncodedIntoResourceAttributes) {
  std::vector<std::string> notes;
  Env env = TranslateK6OtelEnv({{"K6_OTEL_SERVICE_VERSION", "1.0,evil=x 50%"},
                                {"OTEL_RESOURCE_ATTRIBUTES", "team=core"}},
                               true, notes);
  EXPECT_EQ(env["OTEL_RESOURCE_ATTRIBUTES"], "team=core,service.version=1.0%2Cevil%3Dx 50%25");
  MetricsConfig c = ParseMetricsConfig({{"K6_OTEL_SERVICE_VERSION", "1.0,evil=x 50%"},
                                        {"OTEL_RESOURCE_ATTRIBUTES", "team=core"}},
                                       /*otel_flag=*/true, /*k6_output=*/true);
  ASSERT_TRUE(c.otlp);
  using Attrs = std::vector<std::pair<std::string, std::string>>;
  Attrs attrs;
  for (const auto& kv : c.otlp->resource_attributes) {
    if (kv.first != "service.name") attrs.push_back(kv);
  }
  EXPECT_EQ(attrs, (Attrs{{"team", "core"}, {"service.version", "1.0,evil=x 50%"}}));
  EXPECT_TRUE(c.otlp->warnings.empty());
}

}  // namespace
}  // namespace stampede::otel
