// OTLP exporter configuration from the OpenTelemetry environment variables,
// exactly as the OTel specification defines them (otel-spec.md §4):
//
//   OTEL_EXPORTER_OTLP_{,TRACES_,METRICS_}{ENDPOINT,PROTOCOL,HEADERS,TIMEOUT,
//     COMPRESSION,INSECURE,CERTIFICATE,CLIENT_KEY,CLIENT_CERTIFICATE}
//   OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER, OTEL_SDK_DISABLED,
//   OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*.
//
// Rules:
//   - a per-signal variable (OTEL_EXPORTER_OTLP_TRACES_*) wins over the
//     generic one (OTEL_EXPORTER_OTLP_*); an empty value counts as unset;
//   - the generic endpoint, for HTTP, is a base URL that gets `v1/traces` (or
//     `v1/metrics`) appended; a per-signal endpoint is used as-is, except that
//     an empty path becomes `/`; defaults http://localhost:4318 (HTTP) and
//     http://localhost:4317 (gRPC);
//   - protocol `http/protobuf` (default), `http/json` or `grpc`;
//   - headers `k=v,k=v`, keys and values percent-decoded and trimmed;
//   - timeout: integer milliseconds, default 10000;
//   - compression `gzip` or `none` (default none);
//   - TLS: an `https` scheme; for gRPC an endpoint without a scheme uses TLS
//     unless INSECURE is true; `http` is always plain text;
//   - OTEL_RESOURCE_ATTRIBUTES `k=v,k=v` percent-decoded; on a decode error the
//     whole variable is discarded with a warning (in `warnings`);
//     OTEL_SERVICE_NAME wins over its service.name; default service.name is
//     `stampede`;
//   - booleans: `true` (any case) is true; anything other than `false`/empty
//     is false with a warning;
//   - OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER: `otlp` (default),
//     `console` or `none`, any case. The spec allows a comma-separated list;
//     stampede exports to one exporter at a time, so a list that names two
//     different exporters (`otlp,console`) is a ConfigError; repeats are fine.
//
// Failure: a bad value throws core::ConfigError whose one-line message names
// the variable and the fix. Warnings are returned, not printed: the caller
// logs them (cold path, any thread; pure function of `env`).
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stampede::otel {

enum class Signal { kTraces, kMetrics };
enum class OtlpProtocol { kHttpProtobuf, kHttpJson, kGrpc };
enum class OtlpCompression { kNone, kGzip };
// OTEL_TRACES_EXPORTER / OTEL_METRICS_EXPORTER values stampede understands.
enum class ExporterKind { kOtlp, kNone, kConsole };

// Batch span processor settings (OTEL_BSP_*).
struct BspConfig {
  std::chrono::milliseconds schedule_delay{5000};   // OTEL_BSP_SCHEDULE_DELAY
  std::chrono::milliseconds export_timeout{30000};  // OTEL_BSP_EXPORT_TIMEOUT
  size_t max_queue_size = 2048;                     // OTEL_BSP_MAX_QUEUE_SIZE
  size_t max_export_batch_size = 512;               // OTEL_BSP_MAX_EXPORT_BATCH_SIZE (≤ queue)
};

struct OtlpConfig {
  Signal signal = Signal::kTraces;
  ExporterKind exporter = ExporterKind::kOtlp;
  OtlpProtocol protocol = OtlpProtocol::kHttpProtobuf;
  // The URL to use. HTTP: the full URL including the signal path
  // (http://localhost:4318/v1/traces). gRPC: the endpoint as configured
  // (http://localhost:4317, https://host:4317 or host:4317).
  std::string endpoint;
  // gRPC only: `host:port` for the channel (scheme and path stripped).
  std::string grpc_target;
  bool use_tls = false;   // https scheme, or gRPC without scheme and !insecure
  bool insecure = false;  // OTEL_EXPORTER_OTLP_INSECURE as given
  std::vector<std::pair<std::string, std::string>> headers;  // decoded, in order
  std::chrono::milliseconds timeout{10000};                  // per export attempt
  OtlpCompression compression = OtlpCompression::kNone;
  std::string certificate_file;         // PEM CA bundle to trust (empty: system)
  std::string client_key_file;          // PEM, mTLS
  std::string client_certificate_file;  // PEM, mTLS
  // Resource: service.name first, then OTEL_RESOURCE_ATTRIBUTES in order
  // (duplicate keys: the last wins).
  std::string service_name = "stampede";
  std::vector<std::pair<std::string, std::string>> resource_attributes;
  BspConfig bsp;
  // Human-readable warnings about ignored values, one line each.
  std::vector<std::string> warnings;
};

// Builds the configuration for `signal` from `env` (variable name → value; the
// caller passes the process environment, tests a literal map). Throws
// core::ConfigError on a bad value.
OtlpConfig ParseOtlpConfig(const std::map<std::string, std::string>& env, Signal signal);

// The process environment as a map (for ParseOtlpConfig). Cold path.
std::map<std::string, std::string> ProcessEnvironment();

// Percent-decodes `in` (`%2C` → `,`). Returns false on a malformed escape
// (`%` not followed by two hex digits). `+` is left as is.
bool PercentDecode(std::string_view in, std::string& out);

const char* ProtocolName(OtlpProtocol p);  // "http/protobuf", "http/json", "grpc"

}  // namespace stampede::otel
