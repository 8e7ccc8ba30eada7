// libFuzzer target for the OpenTelemetry environment configuration
// (src/otel/otlp_config.h ParseOtlpConfig, src/otel/metrics_config.h
// ParseMetricsConfig / TranslateK6OtelEnv). Both take the environment as a
// map (the seam the tests use), so no setenv is needed.
//
// Input: byte 0 flags (bit 0 --otel, bit 1 --out opentelemetry, bit 2
// metrics signal for ParseOtlpConfig); then lines separated by '\n', each
// "<b><value>": byte b picks the variable (b % the table size below; b >=
// 0xf0 makes the rest of the line "NAME=VALUE" with a free name), the rest of
// the line is its value ('\r' in the value stands for nothing special).
//
// Invariants (a broken one aborts; a ConfigError is a normal refusal, any
// other exception is a finding):
//   - parsing is a pure function: the same map parses to the same result;
//   - traces / metrics config: a non-empty endpoint; gRPC has a grpc_target;
//     HTTP endpoints start with http:// or https:// and use_tls iff https;
//     timeout >= 0; bsp batch <= queue; service_name non-empty; no empty
//     header or resource keys;
//   - metrics: interval > 0, timeout >= 0; an otlp config is kOtlp or
//     kConsole; TranslateK6OtelEnv leaves every standard variable that was
//     already set as it was.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "core/error.h"
#include "otel/metrics_config.h"
#include "otel/otlp_config.h"

namespace stampede::otel {
namespace {

using ::stampede::fuzz::Require;

constexpr const char* kNames[] = {
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_EXPORTER",
    "OTEL_METRICS_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
    "OTEL_EXPORTER_OTLP_METRICS_INSECURE",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_METRIC_EXPORT_INTERVAL",
    "OTEL_METRIC_EXPORT_TIMEOUT",
    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
    "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION",
    "OTEL_EXPORTER_PROMETHEUS_HOST",
    "OTEL_EXPORTER_PROMETHEUS_PORT",
    "K6_OTEL_SERVICE_NAME",
    "K6_OTEL_SERVICE_VERSION",
    "K6_OTEL_METRIC_PREFIX",
    "K6_OTEL_FLUSH_INTERVAL",
    "K6_OTEL_EXPORT_INTERVAL",
    "K6_OTEL_EXPORTER_TYPE",
    "K6_OTEL_EXPORTER_PROTOCOL",
    "K6_OTEL_EXPORTER_OTLP_ENDPOINT",
    "K6_OTEL_GRPC_EXPORTER_ENDPOINT",
    "K6_OTEL_HTTP_EXPORTER_ENDPOINT",
    "K6_OTEL_GRPC_EXPORTER_INSECURE",
    "K6_OTEL_HTTP_EXPORTER_INSECURE",
    "K6_OTEL_HTTP_EXPORTER_URL_PATH",
    "K6_OTEL_HEADERS",
    "K6_OTEL_TLS_CERTIFICATE",
    "K6_OTEL_TLS_CLIENT_CERTIFICATE",
    "K6_OTEL_TLS_CLIENT_KEY",
    "K6_OTEL_TLS_INSECURE_SKIP_VERIFY",
};
constexpr size_t kNameCount = sizeof(kNames) / sizeof(kNames[0]);

bool SameOtlp(const OtlpConfig& a, const OtlpConfig& b) {
  return a.signal == b.signal && a.exporter == b.exporter && a.protocol == b.protocol &&
         a.endpoint == b.endpoint && a.grpc_target == b.grpc_target && a.use_tls == b.use_tls &&
         a.insecure == b.insecure && a.headers == b.headers && a.timeout == b.timeout &&
         a.compression == b.compression && a.certificate_file == b.certificate_file &&
         a.service_name == b.service_name && a.resource_attributes == b.resource_attributes &&
         a.bsp.max_queue_size == b.bsp.max_queue_size &&
         a.bsp.max_export_batch_size == b.bsp.max_export_batch_size &&
         a.bsp.schedule_delay == b.bsp.schedule_delay && a.warnings == b.warnings;
}

void CheckOtlp(const OtlpConfig& c) {
  if (c.exporter == ExporterKind::kOtlp) {
    Require(!c.endpoint.empty(), "an empty endpoint");
    if (c.protocol == OtlpProtocol::kGrpc) {
      Require(!c.grpc_target.empty(), "gRPC without a target", c.endpoint);
    } else {
      const bool https = c.endpoint.starts_with("https://");
      Require(https || c.endpoint.starts_with("http://"), "an HTTP endpoint without http(s)://",
              c.endpoint);
      Require(c.use_tls == https, "use_tls differs from the scheme", c.endpoint);
    }
  }
  Require(c.timeout.count() >= 0, "a negative timeout");
  Require(c.bsp.max_export_batch_size <= c.bsp.max_queue_size, "batch larger than the queue");
  Require(c.bsp.schedule_delay.count() >= 0 && c.bsp.export_timeout.count() >= 0,
          "a negative BSP time");
  Require(!c.service_name.empty(), "an empty service name");
  for (const auto& [k, v] : c.headers) Require(!k.empty(), "an empty header name");
  for (const auto& [k, v] : c.resource_attributes) Require(!k.empty(), "an empty resource key");
}

using ::stampede::fuzz::Refused;

}  // namespace
}  // namespace stampede::otel

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::otel;
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::map<std::string, std::string> env;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    if (line.empty()) continue;
    const uint8_t b = static_cast<uint8_t>(line[0]);
    line.remove_prefix(1);
    if (b >= 0xf0) {
      const size_t eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      env[std::string(line.substr(0, eq))] = std::string(line.substr(eq + 1));
    } else {
      env[kNames[b % kNameCount]] = std::string(line);
    }
  }
  const bool otel_flag = flags & 1;
  const bool k6_output = flags & 2;
  const Signal signal = (flags & 4) ? Signal::kMetrics : Signal::kTraces;

  OtlpConfig c1, c2;
  if (!Refused([&] { c1 = ParseOtlpConfig(env, signal); })) {
    CheckOtlp(c1);
    c2 = ParseOtlpConfig(env, signal);
    Require(SameOtlp(c1, c2), "ParseOtlpConfig is not a pure function");
  }

  std::vector<std::string> notes;
  std::map<std::string, std::string> translated;
  if (!Refused([&] { translated = TranslateK6OtelEnv(env, k6_output, notes); })) {
    for (const auto& [k, v] : env) {
      // Set means non-blank: a blank value counts as unset.
      const bool blank = std::all_of(v.begin(), v.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) != 0;
      });
      if (k.starts_with("OTEL_") && !blank) {
        auto it = translated.find(k);
        // K6_OTEL_SERVICE_VERSION is appended to OTEL_RESOURCE_ATTRIBUTES.
        // (Appended to the value trimmed, as every variable is read.)
        std::string_view trimmed = v;
        while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.back()))) {
          trimmed.remove_suffix(1);
        }
        while (!trimmed.empty() && std::isspace(static_cast<unsigned char>(trimmed.front()))) {
          trimmed.remove_prefix(1);
        }
        const bool same = it != translated.end() &&
                          (it->second == v || (k == "OTEL_RESOURCE_ATTRIBUTES" &&
                                               it->second.starts_with(trimmed)));
        Require(same, "TranslateK6OtelEnv changed a standard variable that was set", k);
      }
    }
    // K6_OTEL_SERVICE_VERSION arrives as service.version, whatever it holds.
    auto version = env.find("K6_OTEL_SERVICE_VERSION");
    auto attrs = env.find("OTEL_RESOURCE_ATTRIBUTES");
    OtlpConfig t;
    if (version != env.end() && (attrs == env.end() || attrs->second.empty()) &&
        !Refused([&] { t = ParseOtlpConfig(translated, Signal::kMetrics); })) {
      std::string_view want = version->second;
      // Trimmed as every variable is (isspace).
      auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
      while (!want.empty() && space(want.front())) want.remove_prefix(1);
      while (!want.empty() && space(want.back())) want.remove_suffix(1);
      if (!want.empty()) {
        bool found = false;
        for (const auto& [key, value] : t.resource_attributes) {
          if (key == "service.version") found = value == want;
        }
        Require(found, "K6_OTEL_SERVICE_VERSION did not become service.version", want);
      }
    }
  }

  MetricsConfig m;
  if (!Refused([&] { m = ParseMetricsConfig(env, otel_flag, k6_output); })) {
    Require(m.interval.count() > 0, "a non-positive export interval");
    Require(m.timeout.count() >= 0, "a negative export timeout");
    if (m.otlp) {
      Require(m.otlp->exporter == ExporterKind::kOtlp || m.otlp->exporter == ExporterKind::kConsole,
              "a metrics exporter that is neither otlp nor console");
      Require(m.otlp->signal == Signal::kMetrics, "metrics config for another signal");
      CheckOtlp(*m.otlp);
    }
  }
  return 0;
}
