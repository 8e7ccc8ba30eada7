#include "otel/otlp_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"

namespace stampede::otel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using Env = std::map<std::string, std::string>;

OtlpConfig Traces(const Env& env) { return ParseOtlpConfig(env, Signal::kTraces); }

std::string ErrorOf(const Env& env, Signal signal = Signal::kTraces) {
  try {
    ParseOtlpConfig(env, signal);
  } catch (const core::ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(OtlpConfigTest, DefaultsAreHttpProtobufToLocalhost4318) {
  OtlpConfig c = Traces({});
  EXPECT_EQ(c.exporter, ExporterKind::kOtlp);
  EXPECT_EQ(c.protocol, OtlpProtocol::kHttpProtobuf);
  EXPECT_EQ(c.endpoint, "http://localhost:4318/v1/traces");
  EXPECT_FALSE(c.use_tls);
  EXPECT_EQ(c.timeout, std::chrono::milliseconds(10000));
  EXPECT_EQ(c.compression, OtlpCompression::kNone);
  EXPECT_THAT(c.headers, IsEmpty());
  EXPECT_EQ(c.service_name, "stampede");
  EXPECT_THAT(c.resource_attributes, ElementsAre(Pair("service.name", "stampede")));
  EXPECT_EQ(c.bsp.schedule_delay, std::chrono::milliseconds(5000));
  EXPECT_EQ(c.bsp.export_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.bsp.max_queue_size, 2048u);
  EXPECT_EQ(c.bsp.max_export_batch_size, 512u);
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(OtlpConfigTest, MetricsDefaultPath) {
  EXPECT_EQ(ParseOtlpConfig({}, Signal::kMetrics).endpoint, "http://localhost:4318/v1/metrics");
}

TEST(OtlpConfigTest, GrpcDefaultsToLocalhost4317) {
  OtlpConfig c = Traces({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}});
  EXPECT_EQ(c.protocol, OtlpProtocol::kGrpc);
  EXPECT_EQ(c.endpoint, "http://localhost:4317");
  EXPECT_EQ(c.grpc_target, "localhost:4317");
  EXPECT_FALSE(c.use_tls);
}

TEST(OtlpConfigTest, GenericHttpEndpointGetsSignalPathAppended) {
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"}}).endpoint,
            "http://collector:4318/v1/traces");
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"}}).endpoint,
            "http://collector:4318/v1/traces");
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://gw/otlp"}}).endpoint,
            "https://gw/otlp/v1/traces");
  EXPECT_EQ(
      ParseOtlpConfig({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base/"}}, Signal::kMetrics)
          .endpoint,
      "http://c:4318/base/v1/metrics");
}

TEST(OtlpConfigTest, PerSignalEndpointIsUsedAsIsAndWins) {
  Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"},
          {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:9999/custom/path"}};
  EXPECT_EQ(Traces(env).endpoint, "http://traces:9999/custom/path");
  // The metrics signal does not see the traces variable.
  EXPECT_EQ(ParseOtlpConfig(env, Signal::kMetrics).endpoint, "http://generic:4318/v1/metrics");
}

TEST(OtlpConfigTest, PerSignalEndpointWithEmptyPathGetsSlash) {
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://traces:4318"}}).endpoint,
            "http://traces:4318/");
}

TEST(OtlpConfigTest, EmptyValueCountsAsUnset) {
  Env env{{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4318"},
          {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", ""}};
  EXPECT_EQ(Traces(env).endpoint, "http://generic:4318/v1/traces");
}

TEST(OtlpConfigTest, HttpsMeansTls) {
  EXPECT_TRUE(Traces({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4318"}}).use_tls);
}

TEST(OtlpConfigTest, GrpcEndpointForms) {
  OtlpConfig plain = Traces(
      {{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317"}});
  EXPECT_EQ(plain.grpc_target, "c:4317");
  EXPECT_FALSE(plain.use_tls);
  OtlpConfig tls = Traces(
      {{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4317"}});
  EXPECT_TRUE(tls.use_tls);
  EXPECT_EQ(tls.endpoint, "https://c:4317");  // no path appended for gRPC
  // No scheme: TLS unless INSECURE.
  OtlpConfig bare =
      Traces({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317"}});
  EXPECT_TRUE(bare.use_tls);
  EXPECT_EQ(bare.grpc_target, "c:4317");
  OtlpConfig insecure = Traces({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                                {"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4317"},
                                {"OTEL_EXPORTER_OTLP_TRACES_INSECURE", "TRUE"}});
  EXPECT_FALSE(insecure.use_tls);
  EXPECT_TRUE(insecure.insecure);
  // INSECURE does not override an https scheme.
  EXPECT_TRUE(Traces({{"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"},
                      {"OTEL_EXPORTER_OTLP_ENDPOINT", "https://c:4317"},
                      {"OTEL_EXPORTER_OTLP_INSECURE", "true"}})
                  .use_tls);
}

TEST(OtlpConfigTest, HttpEndpointNeedsAScheme) {
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_ENDPOINT"));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://c"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http:///v1"}}), HasSubstr("no host"));
}

TEST(OtlpConfigTest, Protocols) {
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}}).protocol,
            OtlpProtocol::kHttpJson);
  // Per-signal wins.
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"},
                    {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"}})
                .protocol,
            OtlpProtocol::kGrpc);
  std::string e = ErrorOf({{"OTEL_EXPORTER_OTLP_PROTOCOL", "thrift"}});
  EXPECT_THAT(e, HasSubstr("OTEL_EXPORTER_OTLP_PROTOCOL=\"thrift\""));
  EXPECT_THAT(e, HasSubstr("http/protobuf, http/json or grpc"));
  EXPECT_EQ(e.find('\n'), std::string::npos);  // one line
}

TEST(OtlpConfigTest, HeadersArePercentDecodedAndTrimmed) {
  OtlpConfig c = Traces({{"OTEL_EXPORTER_OTLP_HEADERS",
                          "api-key=secret, x-tenant = a%2Cb%3Dc ,,authorization=Basic%20Zm9v"}});
  EXPECT_THAT(c.headers, ElementsAre(Pair("api-key", "secret"), Pair("x-tenant", "a,b=c"),
                                     Pair("authorization", "Basic Zm9v")));
}

TEST(OtlpConfigTest, PerSignalHeadersReplaceGenericOnes) {
  OtlpConfig c =
      Traces({{"OTEL_EXPORTER_OTLP_HEADERS", "a=1"}, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "b=2"}});
  EXPECT_THAT(c.headers, ElementsAre(Pair("b", "2")));
}

TEST(OtlpConfigTest, BadHeadersAreAConfigError) {
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_HEADERS", "novalue"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_HEADERS"));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "k=%zz"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_TRACES_HEADERS"));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_HEADERS", "=v"}}), HasSubstr("empty key"));
}

TEST(OtlpConfigTest, TimeoutInMilliseconds) {
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}}).timeout,
            std::chrono::milliseconds(2500));
  EXPECT_EQ(
      Traces({{"OTEL_EXPORTER_OTLP_TIMEOUT", "2500"}, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "700"}})
          .timeout,
      std::chrono::milliseconds(700));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_TIMEOUT", "10s"}}),
              HasSubstr("integer number of milliseconds"));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_TIMEOUT", "-1"}}),
              HasSubstr("OTEL_EXPORTER_OTLP_TIMEOUT"));
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_TIMEOUT", "0"}}), HasSubstr(">= 1"));
}

TEST(OtlpConfigTest, Compression) {
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"}}).compression,
            OtlpCompression::kGzip);
  EXPECT_EQ(Traces({{"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"},
                    {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "none"}})
                .compression,
            OtlpCompression::kNone);
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"}}), HasSubstr("gzip or none"));
}

TEST(OtlpConfigTest, CertificatesPerSignalWin) {
  OtlpConfig c = Traces({{"OTEL_EXPORTER_OTLP_CERTIFICATE", "/generic/ca.pem"},
                         {"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", "/traces/ca.pem"},
                         {"OTEL_EXPORTER_OTLP_CLIENT_KEY", "/k.pem"},
                         {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", "/c.pem"}});
  EXPECT_EQ(c.certificate_file, "/traces/ca.pem");
  EXPECT_EQ(c.client_key_file, "/k.pem");
  EXPECT_EQ(c.client_certificate_file, "/c.pem");
  EXPECT_THAT(ErrorOf({{"OTEL_EXPORTER_OTLP_CLIENT_KEY", "/k.pem"}}), HasSubstr("needs both"));
}

TEST(OtlpConfigTest, InvalidBooleanWarnsAndIsFalse) {
  OtlpConfig c = Traces({{"OTEL_EXPORTER_OTLP_INSECURE", "yes"}});
  EXPECT_FALSE(c.insecure);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("OTEL_EXPORTER_OTLP_INSECURE"));
  EXPECT_THAT(Traces({{"OTEL_EXPORTER_OTLP_INSECURE", "false"}}).warnings, IsEmpty());
}

TEST(OtlpConfigTest, ExporterSelection) {
  EXPECT_EQ(Traces({{"OTEL_TRACES_EXPORTER", "none"}}).exporter, ExporterKind::kNone);
  EXPECT_EQ(Traces({{"OTEL_TRACES_EXPORTER", "console"}}).exporter, ExporterKind::kConsole);
  EXPECT_EQ(Traces({{"OTEL_TRACES_EXPORTER", "otlp"}}).exporter, ExporterKind::kOtlp);
  EXPECT_EQ(Traces({{"OTEL_TRACES_EXPORTER", " Console ,console"}}).exporter,
            ExporterKind::kConsole);  // a list may repeat one exporter
  EXPECT_THAT(ErrorOf({{"OTEL_TRACES_EXPORTER", "console, otlp"}}),
              HasSubstr("invalid OTEL_TRACES_EXPORTER=\"console, otlp\": stampede exports to one "
                        "exporter at a time; give one of otlp, console or none"));
  EXPECT_THAT(ErrorOf({{"OTEL_TRACES_EXPORTER", "otlp,none"}}),
              HasSubstr("one exporter at a time"));
  EXPECT_EQ(Traces({{"OTEL_METRICS_EXPORTER", "none"}}).exporter, ExporterKind::kOtlp);
  EXPECT_EQ(ParseOtlpConfig({{"OTEL_METRICS_EXPORTER", "none"}}, Signal::kMetrics).exporter,
            ExporterKind::kNone);
  EXPECT_EQ(Traces({{"OTEL_SDK_DISABLED", "true"}}).exporter, ExporterKind::kNone);
  EXPECT_THAT(ErrorOf({{"OTEL_TRACES_EXPORTER", "zipkin"}}),
              HasSubstr("OTEL_TRACES_EXPORTER=\"zipkin\""));
}

TEST(OtlpConfigTest, ServiceNameAndResourceAttributes) {
  OtlpConfig c = Traces({{"OTEL_RESOURCE_ATTRIBUTES",
                          "deployment.environment=staging,service.name=from-attrs,"
                          "team=a%2Cb,note=x%3Dy"}});
  EXPECT_EQ(c.service_name, "from-attrs");
  EXPECT_THAT(c.resource_attributes, ElementsAre(Pair("service.name", "from-attrs"),
                                                 Pair("deployment.environment", "staging"),
                                                 Pair("team", "a,b"), Pair("note", "x=y")));
  // OTEL_SERVICE_NAME takes precedence.
  OtlpConfig d = Traces({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs,k=v"},
                         {"OTEL_SERVICE_NAME", "checkout-load"}});
  EXPECT_EQ(d.service_name, "checkout-load");
  EXPECT_THAT(d.resource_attributes,
              ElementsAre(Pair("service.name", "checkout-load"), Pair("k", "v")));
}

TEST(OtlpConfigTest, DuplicateResourceKeysLastWins) {
  OtlpConfig c = Traces({{"OTEL_RESOURCE_ATTRIBUTES", "k=1,j=2,k=3"}});
  EXPECT_THAT(c.resource_attributes,
              ElementsAre(Pair("service.name", "stampede"), Pair("k", "3"), Pair("j", "2")));
}

TEST(OtlpConfigTest, ResourceAttributesDecodeErrorDiscardsWholeVariable) {
  OtlpConfig c =
      Traces({{"OTEL_RESOURCE_ATTRIBUTES", "good=1,bad=%G1"}, {"OTEL_SERVICE_NAME", "svc"}});
  EXPECT_THAT(c.resource_attributes, ElementsAre(Pair("service.name", "svc")));
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("OTEL_RESOURCE_ATTRIBUTES ignored"));
  OtlpConfig d = Traces({{"OTEL_RESOURCE_ATTRIBUTES", "good=1,noequals"}});
  EXPECT_THAT(d.resource_attributes, ElementsAre(Pair("service.name", "stampede")));
  EXPECT_EQ(d.warnings.size(), 1u);
}

TEST(OtlpConfigTest, BatchSpanProcessorSettings) {
  OtlpConfig c = Traces({{"OTEL_BSP_SCHEDULE_DELAY", "200"},
                         {"OTEL_BSP_EXPORT_TIMEOUT", "1500"},
                         {"OTEL_BSP_MAX_QUEUE_SIZE", "10000"},
                         {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096"}});
  EXPECT_EQ(c.bsp.schedule_delay, std::chrono::milliseconds(200));
  EXPECT_EQ(c.bsp.export_timeout, std::chrono::milliseconds(1500));
  EXPECT_EQ(c.bsp.max_queue_size, 10000u);
  EXPECT_EQ(c.bsp.max_export_batch_size, 4096u);  // larger than 512 is allowed
  EXPECT_THAT(c.warnings, IsEmpty());
}

TEST(OtlpConfigTest, BatchLargerThanQueueIsCappedWithAWarning) {
  OtlpConfig c = Traces({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5000"}});
  EXPECT_EQ(c.bsp.max_export_batch_size, 2048u);
  ASSERT_EQ(c.warnings.size(), 1u);
  EXPECT_THAT(c.warnings[0], HasSubstr("OTEL_BSP_MAX_QUEUE_SIZE"));
}

TEST(OtlpConfigTest, BadBatchSettingsAreConfigErrors) {
  EXPECT_THAT(ErrorOf({{"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"}}),
              HasSubstr("OTEL_BSP_MAX_EXPORT_BATCH_SIZE=\"0\": expected a positive integer"));
  EXPECT_THAT(ErrorOf({{"OTEL_BSP_SCHEDULE_DELAY", "5s"}}), HasSubstr("OTEL_BSP_SCHEDULE_DELAY"));
  EXPECT_THAT(ErrorOf({{"OTEL_BSP_MAX_QUEUE_SIZE", "many"}}), HasSubstr("OTEL_BSP_MAX_QUEUE_SIZE"));
}

TEST(OtlpConfigTest, PercentDecode) {
  std::string out;
  EXPECT_TRUE(PercentDecode("a%20b%2c%2C", out));
  EXPECT_EQ(out, "a b,,");
  EXPECT_FALSE(PercentDecode("%", out));
  EXPECT_FALSE(PercentDecode("%2", out));
  EXPECT_FALSE(PercentDecode("%x1", out));
  EXPECT_TRUE(PercentDecode("a+b", out));
  EXPECT_EQ(out, "a+b");
}

// Found by tests/fuzz/otel_env_fuzz: `service.name=` (empty) in
// OTEL_RESOURCE_ATTRIBUTES gave the resource an empty service.name.
TEST(OtlpConfigTest, EmptyServiceNameAttributeKeepsTheDefault) {
  OtlpConfig c = Traces({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=,k=v"}});
  EXPECT_EQ(c.service_name, "stampede");
  EXPECT_THAT(c.resource_attributes,
              ElementsAre(Pair("service.name", "stampede"), Pair("k", "v")));
  c = Traces({{"OTEL_RESOURCE_ATTRIBUTES", "service.name=%20"}});
  EXPECT_EQ(c.service_name, " ");  // not empty: kept as given
}

}  // namespace
}  // namespace stampede::otel
