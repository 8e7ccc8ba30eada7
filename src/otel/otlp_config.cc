#include "otel/otlp_config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>
#include <string_view>

#include "core/error.h"

extern char** environ;

namespace stampede::otel {
namespace {

using Env = std::map<std::string, std::string>;

// A variable's value together with the name it was read from, for messages.
struct Setting {
  std::string name;
  std::string value;
  bool per_signal = false;
  bool set() const { return !name.empty(); }
};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Empty values count as unset (the spec treats empty as unset for SDK vars).
Setting Get(const Env& env, const std::string& name) {
  auto it = env.find(name);
  if (it == env.end() || Trim(it->second).empty()) return {};
  return Setting{name, std::string(Trim(it->second)), false};
}

// OTEL_EXPORTER_OTLP_<SIGNAL>_<suffix> if set, else OTEL_EXPORTER_OTLP_<suffix>.
Setting GetOtlp(const Env& env, Signal signal, std::string_view suffix) {
  const char* sig = signal == Signal::kTraces ? "TRACES_" : "METRICS_";
  Setting s = Get(env, std::string("OTEL_EXPORTER_OTLP_") + sig + std::string(suffix));
  if (s.set()) {
    s.per_signal = true;
    return s;
  }
  return Get(env, std::string("OTEL_EXPORTER_OTLP_") + std::string(suffix));
}

[[noreturn]] void Invalid(const Setting& s, std::string_view expected) {
  throw core::ConfigError("invalid " + s.name + "=\"" + s.value + "\": " + std::string(expected));
}

bool ParseBool(const Setting& s, std::vector<std::string>& warnings) {
  if (!s.set()) return false;
  std::string v = Lower(s.value);
  if (v == "true") return true;
  if (v != "false") {
    warnings.push_back(s.name + "=\"" + s.value +
                       "\" is not a boolean; treated as false (use true or false)");
  }
  return false;
}

// Non-negative integer milliseconds (the unit the OTel spec uses).
int64_t ParseMillis(const Setting& s, int64_t min_value) {
  int64_t v = 0;
  const char* first = s.value.data();
  const char* last = first + s.value.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last || v < min_value) {
    Invalid(s, "expected an integer number of milliseconds >= " + std::to_string(min_value) +
                   ", e.g. 10000");
  }
  return v;
}

size_t ParseCount(const Setting& s) {
  uint64_t v = 0;
  const char* first = s.value.data();
  const char* last = first + s.value.size();
  auto [ptr, ec] = std::from_chars(first, last, v);
  if (ec != std::errc() || ptr != last || v == 0)
    Invalid(s, "expected a positive integer, e.g. 512");
  return static_cast<size_t>(v);
}

struct Url {
  std::string scheme;     // "http", "https" or "" (gRPC host:port)
  std::string authority;  // host:port
  std::string path;       // from the first '/' after the authority, may be empty
};

Url SplitUrl(const Setting& s, bool scheme_optional) {
  Url u;
  std::string_view rest = s.value;
  size_t sep = rest.find("://");
  if (sep != std::string_view::npos) {
    u.scheme = Lower(rest.substr(0, sep));
    rest.remove_prefix(sep + 3);
    if (u.scheme != "http" && u.scheme != "https") {
      Invalid(s, "the scheme must be http or https, e.g. http://localhost:4318");
    }
  } else if (!scheme_optional) {
    Invalid(s, "expected a URL with a scheme, e.g. http://localhost:4318");
  }
  size_t slash = rest.find('/');
  u.authority = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) u.path = std::string(rest.substr(slash));
  if (u.authority.empty()) Invalid(s, "the URL has no host, e.g. http://localhost:4318");
  return u;
}

// `k=v,k=v` with percent-decoded keys and values. Returns false (and leaves
// `out` unspecified) on a malformed entry.
bool ParseKeyValueList(std::string_view text, std::vector<std::pair<std::string, std::string>>& out,
                       std::string& problem) {
  out.clear();
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string_view item = Trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      problem = "entry \"" + std::string(item) + "\" has no '='";
      return false;
    }
    std::string key, value;
    if (!PercentDecode(Trim(item.substr(0, eq)), key) ||
        !PercentDecode(Trim(item.substr(eq + 1)), value)) {
      problem = "entry \"" + std::string(item) + "\" has a malformed %-escape";
      return false;
    }
    if (key.empty()) {
      problem = "entry \"" + std::string(item) + "\" has an empty key";
      return false;
    }
    out.emplace_back(std::move(key), std::move(value));
  }
  return true;
}

void SetAttribute(std::vector<std::pair<std::string, std::string>>& attrs, std::string key,
                  std::string value) {
  for (auto& [k, v] : attrs) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  attrs.emplace_back(std::move(key), std::move(value));
}

ExporterKind ParseExporterKind(const Setting& s) {
  if (!s.set()) return ExporterKind::kOtlp;
  // The spec allows a comma-separated list; stampede sends spans to one
  // exporter at a time, so a list may repeat one value but not name two.
  std::optional<ExporterKind> kind;
  std::string_view text = s.value;
  while (!text.empty()) {
    size_t comma = text.find(',');
    std::string token = Lower(Trim(text.substr(0, comma)));
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (token.empty()) continue;
    ExporterKind k;
    if (token == "otlp") {
      k = ExporterKind::kOtlp;
    } else if (token == "console") {
      k = ExporterKind::kConsole;
    } else if (token == "none") {
      k = ExporterKind::kNone;
    } else {
      Invalid(s, "stampede supports otlp, console or none");
    }
    if (kind && *kind != k) {
      Invalid(s, "stampede exports to one exporter at a time; give one of otlp, console or none");
    }
    kind = k;
  }
  return kind.value_or(ExporterKind::kOtlp);
}

}  // namespace

bool PercentDecode(std::string_view in, std::string& out) {
  out.clear();
  out.reserve(in.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

const char* ProtocolName(OtlpProtocol p) {
  switch (p) {
    case OtlpProtocol::kHttpProtobuf:
      return "http/protobuf";
    case OtlpProtocol::kHttpJson:
      return "http/json";
    case OtlpProtocol::kGrpc:
      return "grpc";
  }
  return "?";
}

std::map<std::string, std::string> ProcessEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    size_t eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

OtlpConfig ParseOtlpConfig(const std::map<std::string, std::string>& env, Signal signal) {
  OtlpConfig c;
  c.signal = signal;

  // Exporter selection.
  c.exporter = ParseExporterKind(
      Get(env, signal == Signal::kTraces ? "OTEL_TRACES_EXPORTER" : "OTEL_METRICS_EXPORTER"));
  if (ParseBool(Get(env, "OTEL_SDK_DISABLED"), c.warnings)) c.exporter = ExporterKind::kNone;

  // Protocol.
  if (Setting s = GetOtlp(env, signal, "PROTOCOL"); s.set()) {
    std::string p = Lower(s.value);
    if (p == "http/protobuf") {
      c.protocol = OtlpProtocol::kHttpProtobuf;
    } else if (p == "http/json") {
      c.protocol = OtlpProtocol::kHttpJson;
    } else if (p == "grpc") {
      c.protocol = OtlpProtocol::kGrpc;
    } else {
      Invalid(s, "expected http/protobuf, http/json or grpc");
    }
  }
  const bool grpc = c.protocol == OtlpProtocol::kGrpc;

  c.insecure = ParseBool(GetOtlp(env, signal, "INSECURE"), c.warnings);

  // Endpoint.
  Setting ep = GetOtlp(env, signal, "ENDPOINT");
  if (!ep.set()) {
    ep = Setting{"(default endpoint)", grpc ? "http://localhost:4317" : "http://localhost:4318",
                 false};
  }
  Url url = SplitUrl(ep, /*scheme_optional=*/grpc);
  if (grpc) {
    c.endpoint = ep.value;
    c.grpc_target = url.authority;
    c.use_tls = url.scheme.empty() ? !c.insecure : url.scheme == "https";
  } else {
    std::string base = url.scheme + "://" + url.authority;
    std::string path = url.path;
    if (ep.per_signal) {
      if (path.empty()) path = "/";
    } else {
      if (path.empty() || path.back() != '/') path += '/';
      path += signal == Signal::kTraces ? "v1/traces" : "v1/metrics";
    }
    c.endpoint = base + path;
    c.use_tls = url.scheme == "https";
  }

  // Headers.
  if (Setting s = GetOtlp(env, signal, "HEADERS"); s.set()) {
    std::string problem;
    if (!ParseKeyValueList(s.value, c.headers, problem)) {
      Invalid(s, problem +
                     "; expected key=value pairs separated by commas, "
                     "with ',' and '=' percent-encoded (%2C, %3D)");
    }
  }

  if (Setting s = GetOtlp(env, signal, "TIMEOUT"); s.set()) {
    c.timeout = std::chrono::milliseconds(ParseMillis(s, 1));
  }

  if (Setting s = GetOtlp(env, signal, "COMPRESSION"); s.set()) {
    std::string v = Lower(s.value);
    if (v == "gzip") {
      c.compression = OtlpCompression::kGzip;
    } else if (v == "none") {
      c.compression = OtlpCompression::kNone;
    } else {
      Invalid(s, "expected gzip or none");
    }
  }

  c.certificate_file = GetOtlp(env, signal, "CERTIFICATE").value;
  c.client_key_file = GetOtlp(env, signal, "CLIENT_KEY").value;
  c.client_certificate_file = GetOtlp(env, signal, "CLIENT_CERTIFICATE").value;
  if (c.client_key_file.empty() != c.client_certificate_file.empty()) {
    Setting s =
        GetOtlp(env, signal, c.client_key_file.empty() ? "CLIENT_CERTIFICATE" : "CLIENT_KEY");
    Invalid(s,
            "mutual TLS needs both OTEL_EXPORTER_OTLP_CLIENT_KEY and "
            "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
  }

  // Resource.
  std::vector<std::pair<std::string, std::string>> attrs;
  if (Setting s = Get(env, "OTEL_RESOURCE_ATTRIBUTES"); s.set()) {
    std::string problem;
    if (!ParseKeyValueList(s.value, attrs, problem)) {
      c.warnings.push_back("OTEL_RESOURCE_ATTRIBUTES ignored: " + problem +
                           " (percent-encode ',' and '=' in keys and values)");
      attrs.clear();
    }
  }
  std::vector<std::pair<std::string, std::string>> deduped;
  for (auto& [k, v] : attrs) SetAttribute(deduped, k, v);
  for (const auto& [k, v] : deduped) {
    // An empty service.name is no name: keep the default (found by
    // tests/fuzz/otel_env_fuzz; the resource would carry service.name "").
    if (k == "service.name" && !v.empty()) c.service_name = v;
  }
  if (Setting s = Get(env, "OTEL_SERVICE_NAME"); s.set()) c.service_name = s.value;
  c.resource_attributes.emplace_back("service.name", c.service_name);
  for (auto& [k, v] : deduped) {
    if (k != "service.name") c.resource_attributes.emplace_back(std::move(k), std::move(v));
  }

  // Batch span processor.
  if (Setting s = Get(env, "OTEL_BSP_SCHEDULE_DELAY"); s.set()) {
    c.bsp.schedule_delay = std::chrono::milliseconds(ParseMillis(s, 1));
  }
  if (Setting s = Get(env, "OTEL_BSP_EXPORT_TIMEOUT"); s.set()) {
    c.bsp.export_timeout = std::chrono::milliseconds(ParseMillis(s, 1));
  }
  if (Setting s = Get(env, "OTEL_BSP_MAX_QUEUE_SIZE"); s.set()) {
    c.bsp.max_queue_size = ParseCount(s);
  }
  if (Setting s = Get(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"); s.set()) {
    c.bsp.max_export_batch_size = ParseCount(s);
  }
  if (c.bsp.max_export_batch_size > c.bsp.max_queue_size) {
    c.warnings.push_back(
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=" + std::to_string(c.bsp.max_export_batch_size) +
        " exceeds OTEL_BSP_MAX_QUEUE_SIZE=" + std::to_string(c.bsp.max_queue_size) + "; using " +
        std::to_string(c.bsp.max_queue_size) + " (raise OTEL_BSP_MAX_QUEUE_SIZE too)");
    c.bsp.max_export_batch_size = c.bsp.max_queue_size;
  }
  return c;
}

}  // namespace stampede::otel
