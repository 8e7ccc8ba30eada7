#include "otel/otlp_http_exporter.h"

#include <curl/curl.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "otel/otlp_json.h"
#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

// The spec's limit on the response a client parses.
constexpr size_t kMaxResponseBytes = 4u << 20;

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

void RequireReadable(const std::string& path, const char* variable) {
  if (path.empty()) return;
  std::ifstream f(path);
  if (!f.good()) {
    throw core::ConfigError(std::string("cannot read ") + variable + " file \"" + path +
                            "\": " + std::strerror(errno) + "; give the path of a PEM file");
  }
}

size_t OnBody(char* data, size_t size, size_t nmemb, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t n = size * nmemb;
  if (out->size() < kMaxResponseBytes)
    out->append(data, std::min(n, kMaxResponseBytes - out->size()));
  return n;  // read and discard the rest: keeps the connection reusable
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The message of an error answer: a google.rpc.Status (protobuf or JSON),
// otherwise the start of the body text.
std::string ErrorDetail(std::string_view content_type, const std::string& body) {
  if (body.empty()) return {};
  if (StartsWith(content_type, "application/json")) {
    auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) {
      return j["message"].get<std::string>();
    }
  } else if (StartsWith(content_type, "application/x-protobuf") ||
             StartsWith(content_type, "application/protobuf")) {
    if (auto st = ParseRpcStatus(body)) return st->message;
    return {};
  }
  // Plain text from a proxy or a non-OTLP server: its first line, short.
  std::string line = body.substr(0, body.find_first_of("\r\n"));
  if (line.size() > 200) line.resize(200);
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return line;
}

}  // namespace

struct OtlpHttpExporter::Impl {
  std::string url;
  OtlpProtocol protocol;
  Signal signal;
  bool gzip = false;
  CURL* curl = nullptr;
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  std::string response;
  std::string json;        // transcoded body (http/json)
  std::string compressed;  // gzip body
  z_stream zs{};
  bool zs_ready = false;

  ~Impl() {
    if (zs_ready) deflateEnd(&zs);
    if (headers != nullptr) curl_slist_free_all(headers);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }

  // Compresses `in` into `compressed` as one gzip member. Returns false on a
  // zlib error (then the body is sent uncompressed).
  bool Gzip(std::string_view in) {
    if (!zs_ready) {
      if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
          Z_OK) {
        return false;
      }
      zs_ready = true;
    } else if (deflateReset(&zs) != Z_OK) {
      return false;
    }
    compressed.resize(deflateBound(&zs, in.size()) + 32);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = reinterpret_cast<Bytef*>(compressed.data());
    zs.avail_out = static_cast<uInt>(compressed.size());
    if (deflate(&zs, Z_FINISH) != Z_STREAM_END) return false;
    compressed.resize(compressed.size() - zs.avail_out);
    return true;
  }

  ExportResult Classify(CURLcode rc);
};

OtlpHttpExporter::OtlpHttpExporter(const OtlpConfig& config) : impl_(std::make_unique<Impl>()) {
  GlobalInitOnce();
  Impl& m = *impl_;
  m.url = config.endpoint;
  m.protocol = config.protocol;
  m.signal = config.signal;
  m.gzip = config.compression == OtlpCompression::kGzip;
  if (m.protocol == OtlpProtocol::kGrpc) {
    throw core::ConfigError(
        "OtlpHttpExporter needs OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf "
        "or http/json");
  }
  RequireReadable(config.certificate_file, "OTEL_EXPORTER_OTLP_CERTIFICATE");
  RequireReadable(config.client_certificate_file, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
  RequireReadable(config.client_key_file, "OTEL_EXPORTER_OTLP_CLIENT_KEY");

  m.curl = curl_easy_init();
  if (m.curl == nullptr) throw core::ConfigError("cannot initialise libcurl for OTLP/HTTP");
  CURL* c = m.curl;
  curl_easy_setopt(c, CURLOPT_URL, m.url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are threaded
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, m.error);
  curl_easy_setopt(c, CURLOPT_USERAGENT, std::string(kOtlpUserAgent).c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &m.response);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");  // any encoding curl can decode
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  if (!config.certificate_file.empty()) {
    curl_easy_setopt(c, CURLOPT_CAINFO, config.certificate_file.c_str());
  }
  if (!config.client_certificate_file.empty()) {
    curl_easy_setopt(c, CURLOPT_SSLCERT, config.client_certificate_file.c_str());
    curl_easy_setopt(c, CURLOPT_SSLKEY, config.client_key_file.c_str());
  }

  auto add = [&m](const std::string& line) {
    curl_slist* next = curl_slist_append(m.headers, line.c_str());
    if (next == nullptr) throw core::ConfigError("out of memory building OTLP headers");
    m.headers = next;
  };
  add(m.protocol == OtlpProtocol::kHttpJson ? "Content-Type: application/json"
                                            : "Content-Type: application/x-protobuf");
  if (m.gzip) add("Content-Encoding: gzip");
  add("Expect:");  // no 100-continue round trip for large bodies
  for (const auto& [k, v] : config.headers) {
    if (k.find_first_of(":\r\n") != std::string::npos ||
        v.find_first_of("\r\n") != std::string::npos) {
      throw core::ConfigError("invalid OTEL_EXPORTER_OTLP_HEADERS entry \"" + k +
                              "\": header names cannot contain ':' or line breaks");
    }
    add(k + ": " + v);
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, m.headers);
}

OtlpHttpExporter::~OtlpHttpExporter() = default;

std::string OtlpHttpExporter::endpoint() const { return impl_->url; }

ExportResult OtlpHttpExporter::Export(std::string_view body, int64_t timeout_ns) {
  Impl& m = *impl_;
  std::string_view payload = body;
  if (m.protocol == OtlpProtocol::kHttpJson) {
    m.json.clear();
    const bool transcoded = m.signal == Signal::kMetrics ? AppendMetricsRequestJson(body, m.json)
                                                         : AppendTraceRequestJson(body, m.json);
    if (!transcoded) m.json.clear();
    if (m.json.empty()) {
      return ExportResult::Failed(0,
                                  "cannot transcode the request to OTLP/JSON (malformed protobuf)");
    }
    payload = m.json;
  }
  if (m.gzip) {
    if (!m.Gzip(payload)) return ExportResult::Failed(0, "gzip compression failed");
    payload = m.compressed;
  }
  m.response.clear();
  m.error[0] = '\0';
  const long timeout_ms = std::max<long>(1, static_cast<long>(timeout_ns / 1'000'000));
  curl_easy_setopt(m.curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(m.curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(m.curl, CURLOPT_POSTFIELDS, payload.data());
  curl_easy_setopt(m.curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload.size()));
  CURLcode rc = curl_easy_perform(m.curl);
  return m.Classify(rc);
}

ExportResult OtlpHttpExporter::Impl::Classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK:
      break;
    case CURLE_COULDNT_CONNECT: {
      long os_errno = 0;
      curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
      if (os_errno == ECONNREFUSED || os_errno == 0)
        return ExportResult::Retryable(0, "connection refused");
      return ExportResult::Retryable(
          0, std::string("cannot connect: ") + std::strerror(static_cast<int>(os_errno)));
    }
    case CURLE_OPERATION_TIMEDOUT:
      return ExportResult::Retryable(0, "timed out waiting for the answer");
    case CURLE_COULDNT_RESOLVE_HOST:
      return ExportResult::Retryable(0, "cannot resolve the host name");
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return ExportResult::Retryable(0, "connection closed without an answer");
    default:
      // TLS and certificate problems, bad URLs...: retrying cannot help.
      return ExportResult::Failed(0, std::string(curl_easy_strerror(rc)) +
                                         (error[0] != '\0' ? std::string(": ") + error : ""));
  }

  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  const char* ct = nullptr;
  curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
  std::string_view content_type = ct != nullptr ? ct : "";

  if (status >= 200 && status < 300) {
    ExportResult r = ExportResult::Ok();
    r.status = static_cast<int>(status);
    if (response.empty()) return r;
    if (StartsWith(content_type, "application/json")) {
      auto j = nlohmann::json::parse(response, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("partialSuccess") && j["partialSuccess"].is_object()) {
        const auto& ps = j["partialSuccess"];
        for (const char* key : {"rejectedSpans", "rejectedDataPoints"}) {
          if (!ps.contains(key)) continue;
          if (ps[key].is_string()) {
            r.rejected = std::strtoll(ps[key].get<std::string>().c_str(), nullptr, 10);
          } else if (ps[key].is_number()) {
            r.rejected = ps[key].get<int64_t>();
          }
        }
        if (ps.contains("errorMessage") && ps["errorMessage"].is_string()) {
          r.message = ps["errorMessage"].get<std::string>();
        }
      }
    } else if (auto ps = ParsePartialSuccess(response)) {
      r.rejected = ps->rejected;
      r.message = ps->error_message;
    }
    return r;
  }

  std::string what = "HTTP " + std::to_string(status);
  std::string detail = ErrorDetail(content_type, response);
  if (!detail.empty()) what += ": " + detail;
  if (status == 429 || status == 502 || status == 503 || status == 504) {
    std::optional<int64_t> retry_after;
    curl_off_t seconds = 0;
    // CURLINFO_RETRY_AFTER understands both forms (delta-seconds, HTTP-date).
    if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &seconds) == CURLE_OK && seconds > 0) {
      retry_after = static_cast<int64_t>(seconds) * 1'000'000'000;
    }
    return ExportResult::Retryable(static_cast<int>(status), std::move(what), retry_after);
  }
  return ExportResult::Failed(static_cast<int>(status), std::move(what));
}

}  // namespace stampede::otel
