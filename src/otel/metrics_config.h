// Metrics export configuration from the OpenTelemetry environment variables
// (otel-spec.md §4), plus k6's OpenTelemetry output variables so a k6 user's
// command line carries over:
//
//   OTEL_METRICS_EXPORTER           otlp | prometheus | console | none (one at a time)
//   OTEL_METRIC_EXPORT_INTERVAL     ms; stampede's default 10000 (the spec's 60000
//                                   is too coarse for tests that last minutes)
//   OTEL_METRIC_EXPORT_TIMEOUT      ms; default 30000
//   OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE  cumulative (default) | delta | lowmemory
//   OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION
//                                   base2_exponential_bucket_histogram (stampede's
//                                   default) | explicit_bucket_histogram
//   OTEL_EXPORTER_PROMETHEUS_HOST / _PORT   (default localhost:9464; localhost binds 127.0.0.1)
//   OTEL_EXPORTER_OTLP_{,METRICS_}*  as for traces (ParseOtlpConfig, Signal::kMetrics)
//
// k6 (grafana k6's `--out opentelemetry` output): K6_OTEL_SERVICE_NAME,
// K6_OTEL_SERVICE_VERSION, K6_OTEL_METRIC_PREFIX, K6_OTEL_FLUSH_INTERVAL
// (accepted; stampede snapshots every second anyway), K6_OTEL_EXPORT_INTERVAL,
// K6_OTEL_EXPORTER_TYPE (grpc | http) and K6_OTEL_EXPORTER_PROTOCOL (grpc |
// http/protobuf | http/json), K6_OTEL_EXPORTER_OTLP_ENDPOINT and
// K6_OTEL_GRPC_EXPORTER_ENDPOINT / K6_OTEL_HTTP_EXPORTER_ENDPOINT (a bare
// host:port, as k6 takes it), K6_OTEL_GRPC_EXPORTER_INSECURE /
// K6_OTEL_HTTP_EXPORTER_INSECURE, K6_OTEL_HTTP_EXPORTER_URL_PATH,
// K6_OTEL_HEADERS, K6_OTEL_TLS_CERTIFICATE, K6_OTEL_TLS_CLIENT_CERTIFICATE,
// K6_OTEL_TLS_CLIENT_KEY. Each is translated to the standard variable it
// means; where the standard variable is set too, the standard one wins and a
// note says so. As in k6, the k6 exporter type defaults to grpc when the k6
// output is asked for (`--out opentelemetry`) and no protocol is given.
// K6_OTEL_TLS_INSECURE_SKIP_VERIFY is refused (stampede always verifies the
// collector; give its CA with OTEL_EXPORTER_OTLP_CERTIFICATE).
//
// Failure: a bad value throws core::ConfigError naming the variable and the
// fix. Cold path; pure function of its inputs.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "otel/metrics_encoder.h"  // MetricsTemporality, HistogramAggregation
#include "otel/otlp_config.h"

namespace stampede::otel {

struct MetricsConfig {
  // OTLP (or console) export of metrics; absent: none. Its `exporter` is
  // kOtlp or kConsole.
  std::optional<OtlpConfig> otlp;
  std::chrono::milliseconds interval{10000};
  std::chrono::milliseconds timeout{30000};
  MetricsTemporality temporality = MetricsTemporality::kCumulative;
  HistogramAggregation aggregation = HistogramAggregation::kBase2Exponential;
  // Prometheus /metrics from OTEL_METRICS_EXPORTER=prometheus: host:port.
  // Empty: not asked for by the environment (--prometheus may still ask).
  std::string prometheus_address;
  // K6_OTEL_METRIC_PREFIX when given (the k6 family's prefix).
  std::optional<std::string> k6_prefix;
  // Warnings and notes to print, one line each.
  std::vector<std::string> notes;
};

// `otel_flag`: --otel (or --out opentelemetry) was given, which turns OTLP
// metrics on unless OTEL_METRICS_EXPORTER says otherwise; without it, only
// OTEL_METRICS_EXPORTER (or a K6_OTEL_* variable with `k6_output`) turns
// export on. `k6_output`: --out opentelemetry / experimental-opentelemetry.
MetricsConfig ParseMetricsConfig(const std::map<std::string, std::string>& env, bool otel_flag,
                                 bool k6_output);

// The environment with the K6_OTEL_* variables translated to the standard
// ones they mean (standard variables already set win; `notes` says so).
// Exposed for tests.
std::map<std::string, std::string> TranslateK6OtelEnv(std::map<std::string, std::string> env,
                                                      bool k6_output,
                                                      std::vector<std::string>& notes);

}  // namespace stampede::otel
