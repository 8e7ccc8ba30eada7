#include "otel/otlp_grpc_exporter.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <vector>

#include "core/error.h"
#include "otel/otlp_http_exporter.h"  // kOtlpUserAgent
#include "otel/proto_reader.h"

namespace stampede::otel {
namespace {

std::string ReadPem(const std::string& path, const char* variable) {
  if (path.empty()) return {};
  std::ifstream f(path, std::ios::binary);
  if (!f.good()) {
    throw core::ConfigError(std::string("cannot read ") + variable + " file \"" + path +
                            "\": " + std::strerror(errno) + "; give the path of a PEM file");
  }
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

const char* CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN_CODE";
  }
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

std::optional<int64_t> RetryDelayFromStatusDetails(std::string_view status_bytes) {
  ProtoReader status(status_bytes);
  ProtoField f;
  while (status.Next(f)) {
    if (f.number != 3 || f.wire_type != WireType::kLengthDelimited) continue;  // details (Any)
    std::string_view type_url, value;
    ProtoReader any(f.bytes);
    ProtoField a;
    while (any.Next(a)) {
      if (a.wire_type != WireType::kLengthDelimited) continue;
      if (a.number == 1) type_url = a.bytes;
      if (a.number == 2) value = a.bytes;
    }
    if (any.error() || !EndsWith(type_url, "google.rpc.RetryInfo")) continue;
    ProtoReader retry_info(value);
    ProtoField r;
    int64_t seconds = 0, nanos = 0;
    while (retry_info.Next(r)) {
      if (r.number != 1 || r.wire_type != WireType::kLengthDelimited) continue;  // retry_delay
      ProtoReader duration(r.bytes);
      ProtoField d;
      while (duration.Next(d)) {
        if (d.wire_type != WireType::kVarint) continue;
        if (d.number == 1) seconds = d.AsInt64();
        if (d.number == 2) nanos = d.AsInt32();
      }
      if (duration.error()) return std::nullopt;
    }
    if (retry_info.error()) return std::nullopt;
    const int64_t ns = seconds * 1'000'000'000 + nanos;
    return ns < 0 ? 0 : ns;
  }
  return std::nullopt;
}

struct OtlpGrpcExporter::Impl {
  std::string endpoint;
  std::string method;
  bool gzip = false;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<grpc::GenericStub> stub;
};

OtlpGrpcExporter::OtlpGrpcExporter(const OtlpConfig& config) : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.endpoint = config.endpoint;
  m.method = config.signal == Signal::kTraces
                 ? "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
                 : "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
  m.gzip = config.compression == OtlpCompression::kGzip;
  for (const auto& [k, v] : config.headers) {
    std::string key = k;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    m.metadata.emplace_back(std::move(key), v);
  }

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (config.use_tls) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadPem(config.certificate_file, "OTEL_EXPORTER_OTLP_CERTIFICATE");
    ssl.pem_private_key = ReadPem(config.client_key_file, "OTEL_EXPORTER_OTLP_CLIENT_KEY");
    ssl.pem_cert_chain =
        ReadPem(config.client_certificate_file, "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetUserAgentPrefix(std::string(kOtlpUserAgent));
  m.channel = grpc::CreateCustomChannel(config.grpc_target, creds, args);
  m.stub = std::make_unique<grpc::GenericStub>(m.channel);
}

OtlpGrpcExporter::~OtlpGrpcExporter() = default;

std::string OtlpGrpcExporter::endpoint() const { return impl_->endpoint; }

ExportResult OtlpGrpcExporter::Export(std::string_view body, int64_t timeout_ns) {
  Impl& m = *impl_;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::nanoseconds(std::max<int64_t>(timeout_ns, 1'000'000)));
  for (const auto& [k, v] : m.metadata) context.AddMetadata(k, v);
  if (m.gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);

  grpc::Slice slice(body.data(), body.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;

  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  m.stub->UnaryCall(&context, m.method, grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = std::move(s);
                      done = true;
                      cv.notify_one();
                    });
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });  // the deadline bounds the call
  }

  if (status.ok()) {
    ExportResult r = ExportResult::Ok();
    std::vector<grpc::Slice> slices;
    if (response.Dump(&slices).ok()) {
      std::string bytes;
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
      if (auto ps = ParsePartialSuccess(bytes)) {
        r.rejected = ps->rejected;
        r.message = ps->error_message;
      }
    }
    return r;
  }

  const grpc::StatusCode code = status.error_code();
  std::string what = std::string("gRPC ") + CodeName(code);
  if (!status.error_message().empty()) what += ": " + status.error_message();
  std::optional<int64_t> retry_delay = RetryDelayFromStatusDetails(status.error_details());
  switch (code) {
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      return ExportResult::Retryable(static_cast<int>(code), std::move(what), retry_delay);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (retry_delay.has_value()) {
        return ExportResult::Retryable(static_cast<int>(code), std::move(what), retry_delay);
      }
      return ExportResult::Failed(static_cast<int>(code), what + " (no RetryInfo: not retried)");
    default:
      return ExportResult::Failed(static_cast<int>(code), std::move(what));
  }
}

}  // namespace stampede::otel
