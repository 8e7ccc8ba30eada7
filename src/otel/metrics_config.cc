#include "otel/metrics_config.h"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "core/duration.h"
#include "core/error.h"

namespace stampede::otel {
namespace {

using Env = std::map<std::string, std::string>;

std::string Trimmed(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A variable's trimmed value; "" when unset or empty (the spec: empty = unset).
std::string Value(const Env& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? std::string() : Trimmed(it->second);
}

[[noreturn]] void Invalid(const std::string& name, const std::string& value,
                          const std::string& fix) {
  throw core::ConfigError("invalid " + name + "=\"" + value + "\": " + fix);
}

bool K6Bool(const std::string& name, const std::string& value) {
  std::string v = Lower(value);
  if (v == "true" || v == "1") return true;
  if (v == "false" || v == "0") return false;
  Invalid(name, value, "expected true or false");
}

// Milliseconds as text, from a k6 duration ("10s", "500ms", a bare number of
// seconds as k6 takes it).
std::string K6DurationMillis(const std::string& name, const std::string& value) {
  try {
    auto ns = core::ParseDuration(value, name);
    if (ns.count() <= 0) Invalid(name, value, "give a positive duration such as 10s");
    return std::to_string(std::max<int64_t>(1, ns.count() / 1'000'000));
  } catch (const core::ConfigError&) {
    Invalid(name, value, "give a duration such as 10s or 500ms");
  }
}

int64_t Millis(const Env& env, const std::string& name, int64_t fallback) {
  std::string v = Value(env, name);
  if (v.empty()) return fallback;
  int64_t out = 0;
  for (char c : v) {
    if (c < '0' || c > '9' || out > 1'000'000'000'000) {
      Invalid(name, v, "expected a whole number of milliseconds, e.g. 10000");
    }
    out = out * 10 + (c - '0');
  }
  if (out <= 0) Invalid(name, v, "expected a positive number of milliseconds, e.g. 10000");
  return out;
}

// Percent-encodes what OTEL_RESOURCE_ATTRIBUTES' decoding would read as
// syntax: '%', ',', '=' and control characters.
std::string EncodeAttributeValue(std::string_view v) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : v) {
    if (c == '%' || c == ',' || c == '=' || c < 0x20 || c == 0x7f) {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

}  // namespace

Env TranslateK6OtelEnv(Env env, bool k6_output, std::vector<std::string>& notes) {
  // Sets `standard` from a k6 variable unless a standard variable that says
  // the same thing (`also`) is set.
  auto put = [&](const std::string& k6_name, const std::string& standard, const std::string& value,
                 std::initializer_list<const char*> also = {}) {
    std::vector<std::string> names{standard};
    for (const char* a : also) names.emplace_back(a);
    for (const std::string& n : names) {
      if (!Value(env, n).empty()) {
        notes.push_back(k6_name + " is ignored: " + n + " is set too, and the standard " +
                        "OpenTelemetry variable wins");
        return;
      }
    }
    env[standard] = value;
  };
  auto k6 = [&](const char* name) { return Value(env, name); };

  if (std::string v = k6("K6_OTEL_SERVICE_NAME"); !v.empty()) {
    put("K6_OTEL_SERVICE_NAME", "OTEL_SERVICE_NAME", v);
  }
  if (std::string v = k6("K6_OTEL_SERVICE_VERSION"); !v.empty()) {
    std::string attrs = Value(env, "OTEL_RESOURCE_ATTRIBUTES");
    if (attrs.find("service.version=") != std::string::npos) {
      notes.push_back(
          "K6_OTEL_SERVICE_VERSION is ignored: OTEL_RESOURCE_ATTRIBUTES sets service.version, and "
          "the standard OpenTelemetry variable wins");
    } else {
      // Percent-encoded: OTEL_RESOURCE_ATTRIBUTES values are percent-decoded,
      // so a raw ',' would add an attribute and a raw '%' would make the
      // whole variable (the user's attributes too) be discarded.
      env["OTEL_RESOURCE_ATTRIBUTES"] =
          (attrs.empty() ? "" : attrs + ",") + "service.version=" + EncodeAttributeValue(v);
    }
  }
  if (std::string v = k6("K6_OTEL_EXPORT_INTERVAL"); !v.empty()) {
    put("K6_OTEL_EXPORT_INTERVAL", "OTEL_METRIC_EXPORT_INTERVAL",
        K6DurationMillis("K6_OTEL_EXPORT_INTERVAL", v));
  }
  if (std::string v = k6("K6_OTEL_FLUSH_INTERVAL"); !v.empty()) {
    K6DurationMillis("K6_OTEL_FLUSH_INTERVAL", v);  // validated; stampede snapshots every 1 s
  }

  // Protocol: K6_OTEL_EXPORTER_PROTOCOL, else K6_OTEL_EXPORTER_TYPE (grpc |
  // http), else k6's default (grpc) when the k6 output was asked for.
  std::string protocol;
  std::string protocol_from;
  if (std::string v = k6("K6_OTEL_EXPORTER_PROTOCOL"); !v.empty()) {
    protocol = Lower(v);
    protocol_from = "K6_OTEL_EXPORTER_PROTOCOL";
    if (protocol != "grpc" && protocol != "http/protobuf" && protocol != "http/json") {
      Invalid(protocol_from, v, "expected grpc, http/protobuf or http/json");
    }
  } else if (std::string t = k6("K6_OTEL_EXPORTER_TYPE"); !t.empty()) {
    protocol_from = "K6_OTEL_EXPORTER_TYPE";
    std::string type = Lower(t);
    if (type == "grpc") {
      protocol = "grpc";
    } else if (type == "http") {
      protocol = "http/protobuf";
    } else {
      Invalid(protocol_from, t, "expected grpc or http");
    }
  } else if (k6_output) {
    protocol = "grpc";  // k6's default exporter type
    protocol_from = "the k6 output's default (grpc)";
  }
  const std::string std_protocol = !Value(env, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL").empty()
                                       ? Value(env, "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL")
                                       : Value(env, "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (!protocol.empty()) {
    if (!std_protocol.empty()) {
      if (protocol_from.rfind("K6_", 0) == 0) {
        notes.push_back(protocol_from + " is ignored: OTEL_EXPORTER_OTLP_PROTOCOL is set too, and "
                        "the standard OpenTelemetry variable wins");
      }
      protocol = Lower(std_protocol);
    } else {
      env["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = protocol;
    }
  } else {
    protocol = std_protocol.empty() ? "http/protobuf" : Lower(std_protocol);
  }
  const bool grpc = protocol == "grpc";

  // Endpoint: k6 takes a bare host:port.
  std::string endpoint_var = grpc ? "K6_OTEL_GRPC_EXPORTER_ENDPOINT" : "K6_OTEL_HTTP_EXPORTER_ENDPOINT";
  std::string endpoint = k6(endpoint_var.c_str());
  if (endpoint.empty()) {
    endpoint_var = "K6_OTEL_EXPORTER_OTLP_ENDPOINT";
    endpoint = k6("K6_OTEL_EXPORTER_OTLP_ENDPOINT");
  }
  const std::string insecure_var =
      grpc ? "K6_OTEL_GRPC_EXPORTER_INSECURE" : "K6_OTEL_HTTP_EXPORTER_INSECURE";
  const std::string insecure_text = k6(insecure_var.c_str());
  const bool insecure = !insecure_text.empty() && K6Bool(insecure_var, insecure_text);
  if (!endpoint.empty()) {
    if (endpoint.find("://") != std::string::npos) {
      Invalid(endpoint_var, endpoint,
              "k6 takes a bare host:port here (e.g. localhost:4317); for a URL use "
              "OTEL_EXPORTER_OTLP_ENDPOINT");
    }
    std::string url;
    if (grpc) {
      url = (insecure ? "http://" : "https://") + endpoint;
    } else {
      std::string path = k6("K6_OTEL_HTTP_EXPORTER_URL_PATH");
      if (path.empty()) path = "/v1/metrics";
      if (path.front() != '/') path = "/" + path;
      url = (insecure ? "http://" : "https://") + endpoint + path;
    }
    put(endpoint_var, "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", url, {"OTEL_EXPORTER_OTLP_ENDPOINT"});
  } else if (!insecure_text.empty() && grpc) {
    put(insecure_var, "OTEL_EXPORTER_OTLP_METRICS_INSECURE", insecure ? "true" : "false",
        {"OTEL_EXPORTER_OTLP_INSECURE"});
  }
  if (std::string v = k6("K6_OTEL_HEADERS"); !v.empty()) {
    put("K6_OTEL_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS", v, {"OTEL_EXPORTER_OTLP_HEADERS"});
  }
  if (std::string v = k6("K6_OTEL_TLS_CERTIFICATE"); !v.empty()) {
    put("K6_OTEL_TLS_CERTIFICATE", "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", v,
        {"OTEL_EXPORTER_OTLP_CERTIFICATE"});
  }
  if (std::string v = k6("K6_OTEL_TLS_CLIENT_CERTIFICATE"); !v.empty()) {
    put("K6_OTEL_TLS_CLIENT_CERTIFICATE", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_CERTIFICATE", v,
        {"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"});
  }
  if (std::string v = k6("K6_OTEL_TLS_CLIENT_KEY"); !v.empty()) {
    put("K6_OTEL_TLS_CLIENT_KEY", "OTEL_EXPORTER_OTLP_METRICS_CLIENT_KEY", v,
        {"OTEL_EXPORTER_OTLP_CLIENT_KEY"});
  }
  if (std::string v = k6("K6_OTEL_TLS_INSECURE_SKIP_VERIFY"); !v.empty() &&
                                                               K6Bool("K6_OTEL_TLS_INSECURE_SKIP_VERIFY", v)) {
    throw core::ConfigError(
        "K6_OTEL_TLS_INSECURE_SKIP_VERIFY=true is not supported: stampede always verifies the "
        "collector's certificate; give its CA with OTEL_EXPORTER_OTLP_CERTIFICATE=ca.pem");
  }
  return env;
}

MetricsConfig ParseMetricsConfig(const Env& raw_env, bool otel_flag, bool k6_output) {
  MetricsConfig c;
  bool any_k6 = false;
  for (const auto& [k, v] : raw_env) {
    if (k.rfind("K6_OTEL_", 0) == 0 && !Trimmed(v).empty()) any_k6 = true;
  }
  Env env = any_k6 || k6_output ? TranslateK6OtelEnv(raw_env, k6_output, c.notes) : raw_env;
  if (any_k6 && !otel_flag && !k6_output) {
    c.notes.push_back(
        "K6_OTEL_* variables are set but no OpenTelemetry output was asked for: add --otel "
        "(or --out opentelemetry) to export metrics");
  }
  if (std::string p = Value(env, "K6_OTEL_METRIC_PREFIX"); !p.empty()) c.k6_prefix = p;

  // Which exporter: OTEL_METRICS_EXPORTER (one at a time), default otlp when
  // --otel was given.
  const std::string var = Value(env, "OTEL_METRICS_EXPORTER");
  std::string kind;
  {
    std::string rest = var;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string token = Lower(Trimmed(rest.substr(0, comma)));
      rest = comma == std::string::npos ? std::string() : rest.substr(comma + 1);
      if (token.empty()) continue;
      if (token != "otlp" && token != "prometheus" && token != "console" && token != "none") {
        Invalid("OTEL_METRICS_EXPORTER", var, "stampede supports otlp, prometheus, console or none");
      }
      if (!kind.empty() && kind != token) {
        Invalid("OTEL_METRICS_EXPORTER", var,
                "stampede exports metrics to one exporter at a time (use --prometheus for "
                "/metrics alongside OTLP); give one of otlp, prometheus, console or none");
      }
      kind = token;
    }
  }
  if (kind.empty()) kind = (otel_flag || k6_output) ? "otlp" : "none";
  {
    std::string disabled = Lower(Value(env, "OTEL_SDK_DISABLED"));
    if (disabled == "true") kind = "none";
  }

  if (kind == "otlp" || kind == "console") {
    Env for_otlp = env;
    for_otlp["OTEL_METRICS_EXPORTER"] = kind;
    OtlpConfig oc = ParseOtlpConfig(for_otlp, Signal::kMetrics);
    for (std::string& w : oc.warnings) c.notes.push_back(std::move(w));
    oc.warnings.clear();
    if (oc.exporter != ExporterKind::kNone) c.otlp = std::move(oc);
  } else if (kind == "prometheus") {
    std::string host = Value(env, "OTEL_EXPORTER_PROMETHEUS_HOST");
    std::string port = Value(env, "OTEL_EXPORTER_PROMETHEUS_PORT");
    if (host.empty() || host == "localhost") host = "127.0.0.1";
    if (port.empty()) port = "9464";
    for (char ch : port) {
      if (ch < '0' || ch > '9') {
        Invalid("OTEL_EXPORTER_PROMETHEUS_PORT", port, "expected a port number such as 9464");
      }
    }
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    c.prometheus_address = host + ":" + port;
  }

  c.interval = std::chrono::milliseconds(Millis(env, "OTEL_METRIC_EXPORT_INTERVAL", 10000));
  c.timeout = std::chrono::milliseconds(Millis(env, "OTEL_METRIC_EXPORT_TIMEOUT", 30000));
  if (std::string t = Value(env, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"); !t.empty()) {
    std::string v = Lower(t);
    if (v == "cumulative") {
      c.temporality = MetricsTemporality::kCumulative;
    } else if (v == "delta") {
      c.temporality = MetricsTemporality::kDelta;
    } else if (v == "lowmemory") {
      c.temporality = MetricsTemporality::kLowMemory;
    } else {
      Invalid("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", t,
              "expected cumulative, delta or lowmemory");
    }
  }
  if (std::string a = Value(env, "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION");
      !a.empty()) {
    std::string v = Lower(a);
    if (v == "base2_exponential_bucket_histogram") {
      c.aggregation = HistogramAggregation::kBase2Exponential;
    } else if (v == "explicit_bucket_histogram") {
      c.aggregation = HistogramAggregation::kExplicitBucket;
    } else {
      Invalid("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", a,
              "expected base2_exponential_bucket_histogram or explicit_bucket_histogram");
    }
  }
  return c;
}

}  // namespace stampede::otel
