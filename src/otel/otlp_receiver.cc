#include "otel/otlp_receiver.h"

#include "core/ascii.h"

#include <grpc/grpc.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/support/byte_buffer.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "core/quote.h"
#include "core/thread_name.h"
#include "otel/export_retry.h"
#include "otel/otlp_config.h"
#include "otel/otlp_http_exporter.h"
#include "otel/otlp_json_decode.h"
#include "otel/otlp_schema.h"
#include "otel/proto_reader.h"
#include "otel/proto_writer.h"

namespace stampede::otel {
namespace {

using core::EqualsIgnoreCase;
constexpr auto Trim = core::TrimSpaces;

constexpr std::string_view kTraceExportMethod =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
constexpr std::string_view kMetricsExportMethod =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";
constexpr std::string_view kLogsExportMethod =
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

void Add(std::atomic<uint64_t>& counter, uint64_t n = 1) {
  counter.fetch_add(n, std::memory_order_relaxed);
}

// --- FilterTraceRequest: the schema walk -----------------------------------------

using schema::Field;
using schema::Msg;

// A known field must come with its wire type (never packed: the trace request
// has no repeated scalars). Fields not in the schema, such as
// Resource.entity_refs (Development), are skipped unchecked.
bool WireFits(const Field& field, WireType w) { return w == schema::WireTypeOf(field.kind); }

std::string_view WireName(WireType w) {
  switch (w) {
    case WireType::kVarint:
      return "varint";
    case WireType::kFixed64:
      return "64-bit";
    case WireType::kLengthDelimited:
      return "length-delimited";
    case WireType::kFixed32:
      return "32-bit";
  }
  return "?";
}

// Visits the fields of `bytes` with their raw encoding (tag included), for
// copying fields through unchanged. Returns false on malformed input.
template <typename Fn>
bool ForEachField(std::string_view bytes, Fn&& fn) {
  ProtoReader r(bytes);
  ProtoField f;
  size_t before = 0;
  while (r.Next(f)) {
    const size_t after = bytes.size() - r.remaining();
    fn(f, bytes.substr(before, after - before));
    before = after;
  }
  return !r.error();
}

// ProtoReader that remembers where the field being read starts, so that a
// malformed field can be located in the error message.
class FieldCursor {
 public:
  explicit FieldCursor(std::string_view bytes) : reader_(bytes), size_(bytes.size()) {}
  bool Next(ProtoField& f) {
    start_ = size_ - reader_.remaining();
    return reader_.Next(f);
  }
  bool error() const { return reader_.error(); }
  size_t start() const { return start_; }  // of the last field read or tried

 private:
  ProtoReader reader_;
  size_t size_;
  size_t start_ = 0;
};

// Walks an ExportTraceServiceRequest. Pass 1 (Check) validates it and
// decides, span by span, which are kept; pass 2 (Rewrite, only when some but
// not all are kept) copies the request without the dropped spans. Both passes
// visit spans in the same order.
class TraceWalker {
 public:
  explicit TraceWalker(const std::function<bool(const TraceId&)>& accept) : accept_(accept) {}

  bool Check(std::string_view request, FilteredTraceRequest& out) {
    out = FilteredTraceRequest{};
    if (!Message(request, Msg::kRequest, 0)) return false;
    out.spans = keep_.size();
    out.kept = static_cast<uint64_t>(std::count(keep_.begin(), keep_.end(), true));
    return true;
  }

  // Appends the request without the spans Check() dropped.
  void Rewrite(std::string_view request, ProtoWriter& w) {
    size_t span = 0;
    ForEachField(request, [&](const ProtoField& f, std::string_view raw) {
      if (f.number != 1) {
        w.AppendRaw(raw);
        return;
      }
      const size_t resource_mark = w.size();
      const ProtoWriter::Bookmark resource = w.BeginMessage(1, f.bytes.size());
      bool resource_kept = false;
      ForEachField(f.bytes, [&](const ProtoField& rf, std::string_view rraw) {
        if (rf.number != 2) {
          w.AppendRaw(rraw);  // resource, schema_url, unknown: as received
          return;
        }
        const size_t scope_mark = w.size();
        const ProtoWriter::Bookmark scope = w.BeginMessage(2, rf.bytes.size());
        bool scope_kept = false;
        ForEachField(rf.bytes, [&](const ProtoField& sf, std::string_view sraw) {
          if (sf.number != 2) {
            w.AppendRaw(sraw);  // scope, schema_url, unknown: as received
          } else if (keep_[span++]) {
            w.AppendRaw(sraw);
            scope_kept = true;
          }
        });
        if (scope_kept) {
          w.EndMessage(scope);
          resource_kept = true;
        } else {
          w.Truncate(scope_mark);
        }
      });
      if (resource_kept) {
        w.EndMessage(resource);
      } else {
        w.Truncate(resource_mark);
      }
    });
  }

  const std::string& error() const { return error_; }

 private:
  struct Segment {
    std::string_view name;
    int64_t index;  // -1: a singular field
  };

  // A checked span: does accept_trace take its trace id (the last one on the
  // wire, as protobuf reads a repeated singular field)?
  bool Accepted(std::string_view span) const {
    if (!accept_) return true;
    TraceId id;
    ProtoReader r(span);
    ProtoField f;
    while (r.Next(f)) {
      if (f.number == 1 && f.bytes.size() == id.bytes.size()) {
        std::memcpy(id.bytes.data(), f.bytes.data(), id.bytes.size());
      }
    }
    return accept_(id);
  }

  // Checks one message against its rules, recursively. `depth`: messages
  // between this one and the request (the request is 0, ResourceSpans 1).
  bool Message(std::string_view bytes, Msg msg, int depth) {
    if (depth > schema::kMaxNesting) return Fail("nested more than 64 messages deep");
    const std::span<const Field> rules = schema::Fields(msg);
    uint32_t seen = 0;
    uint32_t counts[schema::kMaxFields] = {};
    FieldCursor r(bytes);
    ProtoField f;
    while (r.Next(f)) {
      size_t i = 0;
      while (i < rules.size() && rules[i].number != f.number) ++i;
      if (i == rules.size()) continue;  // unknown field: skipped
      const Field& rule = rules[i];
      seen |= 1u << i;
      path_.push_back({rule.proto_name, rule.repeated ? static_cast<int64_t>(counts[i]++) : -1});
      if (!WireFits(rule, f.wire_type)) return WrongWire(f.wire_type, rule);
      if (rule.kind == schema::Kind::kMessage) {
        if (!Message(f.bytes, rule.message, depth + 1)) return false;
        if (rule.message == Msg::kSpan) keep_.push_back(Accepted(f.bytes));
      }
      // Ids have their exact length; an id that is not required (the parent
      // span id) may also be empty.
      const size_t length = schema::IdLength(rule.kind);
      const bool empty_ok = !rule.required;
      if (length != 0 && f.bytes.size() != length && !(empty_ok && f.bytes.empty())) {
        return Fail(std::to_string(f.bytes.size()) + " bytes, expected " + std::to_string(length) +
                    (empty_ok ? " or none" : ""));
      }
      path_.pop_back();
    }
    if (r.error()) return Malformed(r.start());
    for (size_t i = 0; i < rules.size(); ++i) {
      if (rules[i].required && (seen & (1u << i)) == 0) {
        path_.push_back({rules[i].proto_name, -1});
        return Fail("missing");
      }
    }
    return true;
  }

  bool Malformed(size_t offset) {
    return Fail("malformed protobuf: truncated or invalid field at byte " + std::to_string(offset));
  }

  bool WrongWire(WireType got, const Field& want) {
    return Fail("wrong wire type (" + std::string(WireName(got)) + ", expected " +
                std::string(WireName(schema::WireTypeOf(want.kind))) + ")");
  }

  bool Fail(const std::string& what) {
    std::string path;
    for (const Segment& s : path_) {
      if (!path.empty()) path += '.';
      path += s.name;
      if (s.index >= 0) path += '[' + std::to_string(s.index) + ']';
    }
    error_ = path.empty() ? what : path + ": " + what;
    return false;
  }

  const std::function<bool(const TraceId&)>& accept_;
  std::vector<bool> keep_;  // per span, in wire order
  std::vector<Segment> path_;
  std::string error_;
};

// --- HTTP helpers ------------------------------------------------------------------


enum class Encoding { kProtobuf, kJson, kOther };

// The media type of a Content-Type value, parameters (charset) ignored.
Encoding EncodingOf(std::optional<std::string_view> content_type) {
  if (!content_type) return Encoding::kOther;
  const std::string_view media = Trim(content_type->substr(0, content_type->find(';')));
  if (EqualsIgnoreCase(media, "application/x-protobuf")) return Encoding::kProtobuf;
  if (EqualsIgnoreCase(media, "application/json")) return Encoding::kJson;
  return Encoding::kOther;
}

// Error messages travel in a google.rpc.Status, whose message is a proto3
// string (must be UTF-8: Go clients refuse anything else) and in JSON; they
// quote client input, so keep them printable ASCII and short.
std::string Printable(std::string_view s) {
  constexpr size_t kMax = 512;
  std::string out;
  out.reserve(std::min(s.size(), kMax));
  for (char c : s.substr(0, kMax)) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(b >= 0x20 && b < 0x7F ? c : '?');
  }
  if (s.size() > kMax) out += "...";
  return out;
}

http::ServerResponse Success(Encoding e) {
  // An empty ExportTraceServiceResponse (partial_success unset) in the
  // request's encoding.
  if (e == Encoding::kJson) return http::ServerResponse::Text(200, "application/json", "{}");
  return http::ServerResponse::Text(200, "application/x-protobuf", "");
}

// A google.rpc.Status body in the request's encoding (protobuf unless JSON).
http::ServerResponse Failure(int status, Encoding e, RpcCode code, std::string_view message) {
  const std::string text = Printable(message);
  if (e == Encoding::kJson) {
    const nlohmann::json body = {{"code", static_cast<int>(code)}, {"message", text}};
    return http::ServerResponse::Text(status, "application/json", body.dump());
  }
  ProtoWriter w;
  w.VarintField(1, static_cast<uint64_t>(code));
  w.StringField(2, text);
  return http::ServerResponse::Text(status, "application/x-protobuf", std::string(w.view()));
}

enum class Inflated { kOk, kTooLarge, kMalformed };

// Inflates a gzip body (several members allowed, as gzip(1) writes and
// Go's reader reads) into `out`, stopping as soon as more than `max_out`
// bytes come out: a bomb costs at most max_out + one chunk of work.
Inflated Gunzip(std::string_view in, size_t max_out, std::string& out, std::string& error) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    error = "gzip: cannot initialise zlib";
    return Inflated::kMalformed;
  }
  struct Ender {
    z_stream* zs;
    ~Ender() { inflateEnd(zs); }
  } ender{&zs};
  // The limit + 1 byte of room: filling it proves the body is too large.
  const size_t cap = max_out == SIZE_MAX ? max_out : max_out + 1;
  out.clear();
  size_t used = 0;
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  size_t in_left = in.size();
  for (;;) {
    if (used == out.size()) {
      if (out.size() >= cap) return Inflated::kTooLarge;
      out.resize(std::min(cap, std::max<size_t>(64 << 10, out.size() * 2)));
    }
    // zlib counts in uInt: feed at most 1 GiB per call.
    const uInt in_chunk = static_cast<uInt>(std::min<size_t>(in_left, 1u << 30));
    const uInt out_chunk = static_cast<uInt>(std::min<size_t>(out.size() - used, 1u << 30));
    zs.avail_in = in_chunk;
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = out_chunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    in_left -= in_chunk - zs.avail_in;
    used += out_chunk - zs.avail_out;
    if (used > max_out) return Inflated::kTooLarge;
    if (rc == Z_STREAM_END) {
      if (in_left == 0) break;
      // Another member follows.
      if (inflateReset(&zs) != Z_OK) {
        error = "gzip: cannot reset zlib";
        return Inflated::kMalformed;
      }
      continue;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // room needed: grow
    if (rc == Z_BUF_ERROR) {
      error = "gzip: the body ends before the compressed data does";
    } else {
      error = std::string("gzip: ") + (zs.msg != nullptr ? zs.msg : "invalid compressed data");
    }
    return Inflated::kMalformed;
  }
  out.resize(used);
  return Inflated::kOk;
}

enum class Endpoint { kTraces, kMetrics, kLogs };

std::optional<Endpoint> EndpointOfPath(std::string_view path) {
  if (path == "/v1/traces") return Endpoint::kTraces;
  if (path == "/v1/metrics") return Endpoint::kMetrics;
  if (path == "/v1/logs") return Endpoint::kLogs;
  return std::nullopt;
}

std::string ShortQuoted(std::string_view s) {
  if (s.size() > 100) return core::QuoteInput(s.substr(0, 100)) + "...";
  return core::QuoteInput(s);
}

}  // namespace

// --- FilterTraceRequest ---------------------------------------------------------------

bool FilterTraceRequest(std::string_view request, const std::function<bool(const TraceId&)>& accept,
                        FilteredTraceRequest& out, std::string& error) {
  TraceWalker walker(accept);
  if (!walker.Check(request, out)) {
    error = walker.error();
    return false;
  }
  if (out.kept > 0 && out.kept < out.spans) {
    ProtoWriter w(request.size());
    walker.Rewrite(request, w);
    out.rewritten.assign(w.view());
  }
  return true;
}

// --- OtlpRequestHandler ----------------------------------------------------------------

OtlpRequestHandler::OtlpRequestHandler(const ReceiverOptions& options, ForwardFn forward)
    : max_decoded_bytes_(options.max_decoded_bytes),
      accept_trace_(options.accept_trace),
      on_spans_(options.on_spans),
      forward_(std::move(forward)) {}

bool OtlpRequestHandler::Traces(std::string_view request, std::string& error) {
  FilteredTraceRequest filtered;
  if (!FilterTraceRequest(request, accept_trace_, filtered, error)) return false;
  // Counted before delivery, so that whoever sees on_spans sees the counts.
  Add(trace_requests_);
  Add(spans_received_, filtered.spans);
  Add(spans_kept_, filtered.kept);
  Add(spans_foreign_, filtered.spans - filtered.kept);
  if (filtered.spans > 0 && forward_) forward_(request, filtered.spans);
  if (filtered.kept > 0 && on_spans_) {
    on_spans_(filtered.kept == filtered.spans ? request : std::string_view(filtered.rewritten),
              filtered.kept);
  }
  return true;
}

http::ServerResponse OtlpRequestHandler::HandleHttp(const http::ServerRequest& request) {
  Add(requests_);
  const Encoding encoding = EncodingOf(request.Header("Content-Type"));
  const std::optional<Endpoint> endpoint = EndpointOfPath(request.path);
  if (!endpoint) {
    Add(bad_requests_);
    return Failure(404, encoding, RpcCode::kNotFound,
                   "no OTLP endpoint at " + ShortQuoted(request.path) +
                       "; OTLP/HTTP paths are /v1/traces, /v1/metrics and /v1/logs");
  }
  if (request.method != "POST") {
    Add(bad_requests_);
    http::ServerResponse r = Failure(405, encoding, RpcCode::kUnimplemented,
                                     "method " + ShortQuoted(request.method) + " not allowed on " +
                                         request.path + "; OTLP/HTTP exports are POST requests");
    r.headers.emplace_back("Allow", "POST");
    return r;
  }
  if (encoding == Encoding::kOther) {
    Add(bad_requests_);
    const auto type = request.Header("Content-Type");
    return Failure(415, encoding, RpcCode::kInvalidArgument,
                   (type ? "unsupported Content-Type " + ShortQuoted(*type)
                         : std::string("missing Content-Type")) +
                       "; use application/x-protobuf or application/json");
  }

  std::string_view body = request.body;
  std::string inflated;
  const std::string_view content_encoding = Trim(request.Header("Content-Encoding").value_or(""));
  if (EqualsIgnoreCase(content_encoding, "gzip") || EqualsIgnoreCase(content_encoding, "x-gzip")) {
    std::string error;
    switch (Gunzip(request.body, max_decoded_bytes_, inflated, error)) {
      case Inflated::kOk:
        body = inflated;
        break;
      case Inflated::kTooLarge:
        Add(too_large_);
        return Failure(413, encoding, RpcCode::kResourceExhausted,
                       "request body over " + std::to_string(max_decoded_bytes_) +
                           " bytes once inflated; send smaller batches");
      case Inflated::kMalformed:
        Add(bad_requests_);
        return Failure(400, encoding, RpcCode::kInvalidArgument, error);
    }
  } else if (!content_encoding.empty() && !EqualsIgnoreCase(content_encoding, "identity")) {
    Add(bad_requests_);
    return Failure(
        415, encoding, RpcCode::kInvalidArgument,
        "unsupported Content-Encoding " + ShortQuoted(content_encoding) + "; use gzip or none");
  } else if (body.size() > max_decoded_bytes_) {
    Add(too_large_);
    return Failure(413, encoding, RpcCode::kResourceExhausted,
                   "request body over " + std::to_string(max_decoded_bytes_) + " bytes");
  }

  if (*endpoint != Endpoint::kTraces) {
    // Accepted so that an SDK exporting every signal here logs no errors;
    // stampede keeps only spans. Both responses are empty messages.
    Add(*endpoint == Endpoint::kMetrics ? metrics_requests_ : logs_requests_);
    return Success(encoding);
  }

  std::string protobuf;
  std::string error;
  if (encoding == Encoding::kJson) {
    if (!TraceRequestJsonToProtobuf(body, protobuf, error)) {
      Add(bad_requests_);
      return Failure(400, encoding, RpcCode::kInvalidArgument, "invalid OTLP/JSON: " + error);
    }
    body = protobuf;
  }
  if (!Traces(body, error)) {
    Add(bad_requests_);
    return Failure(400, encoding, RpcCode::kInvalidArgument,
                   "invalid ExportTraceServiceRequest: " + error);
  }
  return Success(encoding);
}

OtlpRequestHandler::GrpcAnswer OtlpRequestHandler::HandleGrpc(std::string_view method,
                                                              std::string_view message) {
  Add(requests_);
  if (method == kTraceExportMethod) {
    std::string error;
    if (!Traces(message, error)) {
      Add(bad_requests_);
      return {RpcCode::kInvalidArgument, Printable("invalid ExportTraceServiceRequest: " + error)};
    }
    return {};
  }
  if (method == kMetricsExportMethod) {
    Add(metrics_requests_);
    return {};
  }
  if (method == kLogsExportMethod) {
    Add(logs_requests_);
    return {};
  }
  Add(bad_requests_);
  return {RpcCode::kUnimplemented,
          Printable("unknown method " + ShortQuoted(method) + "; this OTLP receiver serves " +
                    std::string(kTraceExportMethod) + " (and discards metrics and logs)")};
}

ReceiverStats OtlpRequestHandler::stats() const {
  ReceiverStats s;
  s.requests = requests_.load(std::memory_order_relaxed);
  s.trace_requests = trace_requests_.load(std::memory_order_relaxed);
  s.spans_received = spans_received_.load(std::memory_order_relaxed);
  s.spans_kept = spans_kept_.load(std::memory_order_relaxed);
  s.spans_foreign = spans_foreign_.load(std::memory_order_relaxed);
  s.bad_requests = bad_requests_.load(std::memory_order_relaxed);
  s.too_large = too_large_.load(std::memory_order_relaxed);
  s.metrics_requests = metrics_requests_.load(std::memory_order_relaxed);
  s.logs_requests = logs_requests_.load(std::memory_order_relaxed);
  return s;
}

// --- Forwarder -----------------------------------------------------------------------------

// The forwarding thread: a bounded queue of request copies in front of one
// OtlpHttpExporter, sent one at a time with ExportWithRetry (the same retry
// loop as stampede's own span export). The receiving threads only queue.
class OtlpReceiver::Forwarder {
 public:
  explicit Forwarder(const ReceiverOptions& options)
      : timeout_(options.forward_timeout),
        max_queue_bytes_(options.forward_queue_bytes),
        warn_(options.warn ? options.warn : DefaultWarn()) {
    const std::string& url = options.forward_url;
    const bool http = url.size() > 7 && EqualsIgnoreCase(url.substr(0, 7), "http://");
    const bool https = url.size() > 8 && EqualsIgnoreCase(url.substr(0, 8), "https://");
    if (!http && !https) {
      throw core::ConfigError(options.forward_option_name + " " + core::QuoteInput(url) +
                              ": expected an OTLP/HTTP traces URL such as "
                              "http://127.0.0.1:4318/v1/traces");
    }
    OtlpConfig config;
    config.signal = Signal::kTraces;
    config.protocol = OtlpProtocol::kHttpProtobuf;
    config.endpoint = url;
    config.use_tls = https;
    config.timeout = timeout_;
    exporter_ = std::make_unique<OtlpHttpExporter>(config);
    endpoint_ = exporter_->endpoint();
    jitter_ = 0x9E3779B97F4A7C15ull ^
              static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    if (jitter_ == 0) jitter_ = 1;
    thread_ = std::thread([this] {
      core::NameThisThread("stampede-fwd");
      Run();
    });
  }

  ~Forwarder() { Stop(std::chrono::milliseconds(0)); }

  // Any thread. Copies `request`; drops it (counted) when the queue is full.
  static std::function<void(std::string_view)> DefaultWarn() {
    return [](std::string_view line) { core::Warn("{}", line); };
  }

  void Enqueue(std::string_view request, uint64_t spans) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_ && queued_bytes_ + request.size() <= max_queue_bytes_) {
        queue_.push_back(Item{std::string(request), spans});
        queued_bytes_ += request.size();
        cv_.notify_one();
        return;
      }
    }
    Add(dropped_, spans);
  }

  // Owner thread. Sends what is queued until `flush` has passed, drops the
  // rest, joins. Idempotent.
  void Stop(std::chrono::milliseconds flush) {
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return;
      if (!stopping_) {
        stopping_ = true;
        shutdown_deadline_ = std::chrono::steady_clock::now() + flush;
      }
    }
    cv_.notify_all();
    thread_.join();
  }

  uint64_t forwarded() const { return forwarded_.load(std::memory_order_relaxed); }
  uint64_t failed() const { return failed_.load(std::memory_order_relaxed); }
  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Item {
    std::string request;
    uint64_t spans;
  };

  void Run() {
    for (;;) {
      Item item;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and drained
        if (stopping_ && Clock::now() >= shutdown_deadline_) {
          for (const Item& left : queue_) Add(dropped_, left.spans);
          queue_.clear();
          queued_bytes_ = 0;
          return;
        }
        item = std::move(queue_.front());
        queue_.pop_front();
        queued_bytes_ -= item.request.size();
      }
      Send(item);
    }
  }

  void Send(const Item& item) {
    const RetryOutcome out = ExportWithRetry(
        *exporter_, item.request, item.spans,
        RetryPolicy{.deadline = Clock::now() + timeout_,
                    .attempt_timeout = timeout_,
                    .max_attempts = 5,
                    .initial_backoff = std::chrono::milliseconds(100),
                    .max_backoff = std::chrono::seconds(2)},
        RetryHooks{.jitter_state = &jitter_,
                   .wait_until = [this](Clock::time_point t) { return WaitUntil(t); },
                   .shutdown_deadline = [this] { return ShutdownDeadline(); },
                   .abandon = nullptr,
                   .on_request = nullptr,
                   .on_backoff = nullptr});
    switch (out.kind) {
      case RetryOutcome::Kind::kExported:
        Add(forwarded_, item.spans - out.rejected);
        Add(failed_, out.rejected);
        if (out.rejected > 0) {
          WarnOnce("partial", "forwarding spans to " + endpoint_ + ": the collector rejected " +
                                  std::to_string(out.rejected) + " spans: " + out.message);
        }
        return;
      case RetryOutcome::Kind::kFailed:
        Add(failed_, item.spans);
        WarnOnce(out.message, "forwarding spans to " + endpoint_ + " failed: " + out.message +
                                  " (counted; receiving goes on)");
        return;
      case RetryOutcome::Kind::kNotSent:
        Add(dropped_, item.spans);
        return;
    }
  }

  Clock::time_point ShutdownDeadline() {
    std::lock_guard lock(mu_);
    return shutdown_deadline_;
  }

  bool WaitUntil(Clock::time_point until) {
    std::unique_lock lock(mu_);
    for (;;) {
      if (shutdown_deadline_ < until) return false;
      if (Clock::now() >= until) return true;
      cv_.wait_until(lock, until);
    }
  }

  // Forwarding thread only. A bounded set of causes: a collector with
  // ever-changing messages cannot flood the log.
  void WarnOnce(const std::string& cause, const std::string& line) {
    if (warned_.size() >= 16 || !warned_.insert(cause).second) return;
    warn_(line);
  }

  const std::chrono::milliseconds timeout_;
  const size_t max_queue_bytes_;
  const std::function<void(std::string_view)> warn_;
  std::unique_ptr<OtlpHttpExporter> exporter_;
  std::string endpoint_;
  uint64_t jitter_ = 1;
  std::set<std::string> warned_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  size_t queued_bytes_ = 0;
  bool stopping_ = false;
  Clock::time_point shutdown_deadline_ = Clock::time_point::max();
  std::thread thread_;

  std::atomic<uint64_t> forwarded_{0}, failed_{0}, dropped_{0};
};

// --- gRPC -----------------------------------------------------------------------------------

namespace {

// One unary Export call on the generic service: read the one message, answer.
class ExportReactor final : public grpc::ServerGenericBidiReactor {
 public:
  ExportReactor(grpc::GenericCallbackServerContext* context, OtlpRequestHandler& handler)
      : context_(context), handler_(handler) {
    const std::string& method = context_->method();
    if (method != kTraceExportMethod && method != kMetricsExportMethod &&
        method != kLogsExportMethod) {
      // Answered without reading: whatever the client streams is not ours.
      Reply(handler_.HandleGrpc(method, {}));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client half-closed without a message, or the call was cancelled
      // (grpc already answered RESOURCE_EXHAUSTED for an oversized message).
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    std::vector<grpc::Slice> slices;
    std::string bytes;
    if (request_.Dump(&slices).ok()) {
      for (const grpc::Slice& s : slices) {
        bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
      }
    }
    Reply(handler_.HandleGrpc(context_->method(), bytes));
  }

  void OnDone() override { delete this; }

 private:
  void Reply(const OtlpRequestHandler::GrpcAnswer& answer) {
    if (answer.code != RpcCode::kOk) {
      Finish(grpc::Status(static_cast<grpc::StatusCode>(answer.code), answer.message));
      return;
    }
    // An empty Export*ServiceResponse: a valid, zero-length buffer (a default
    // ByteBuffer is "invalid" and would fail the write).
    grpc::Slice empty;
    response_ = grpc::ByteBuffer(&empty, 1);
    StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }

  grpc::GenericCallbackServerContext* context_;
  OtlpRequestHandler& handler_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
};

std::string BindHint(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address already in use; choose another port (or port 0 for a free one)";
    case EACCES:
      return "permission denied; choose a port above 1023";
    case EADDRNOTAVAIL:
      return "address not available on this machine; use 127.0.0.1, 0.0.0.0 or a local "
             "interface's address";
    default:
      return std::string(strerror(err));
  }
}

// grpc does not say why a port failed to bind: try the bind ourselves to
// find the errno. 0 when the bind works (the cause was something else).
int ProbeBind(const http::ListenAddress& where) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(where.port);
  if (getaddrinfo(where.host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return EADDRNOTAVAIL;
  }
  int err = 0;
  const int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
  } else {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0) err = errno;
    ::close(fd);
  }
  freeaddrinfo(res);
  return err;
}

}  // namespace

class OtlpReceiver::GrpcListener {
 public:
  GrpcListener(const ReceiverOptions& options, OtlpRequestHandler& handler) : service_(handler) {
    const std::string& text = options.grpc_address;
    const http::ListenAddress where = http::ParseListenAddress(text, options.grpc_option_name);
    const bool v6 = where.host.find(':') != std::string::npos;
    const std::string host = v6 ? "[" + where.host + "]" : where.host;
    // grpc logs a multi-line error of its own when the bind fails: for a
    // fixed port, find out first (a free port stays free for the instant
    // between the probe and grpc's bind, barring a race with another process).
    if (where.port != 0) {
      if (const int err = ProbeBind(where); err != 0) {
        throw core::ConfigError(options.grpc_option_name + " " + text + ": " + BindHint(err));
      }
    }
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(host + ":" + std::to_string(where.port),
                             grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(&service_);
    builder.SetMaxReceiveMessageSize(
        static_cast<int>(std::min<size_t>(options.max_body_bytes, INT_MAX)));
    // grpc sets SO_REUSEPORT by default, which would let a second receiver
    // (or another grpc server) share the port silently.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) {
      if (server_ != nullptr) server_->Shutdown();
      const int err = ProbeBind(where);
      throw core::ConfigError(options.grpc_option_name + " " + text + ": " +
                              (err != 0 ? BindHint(err) : "grpc cannot listen there"));
    }
    bound_ = host + ":" + std::to_string(port);
    if (!http::IsLoopbackHost(where.host)) {
      core::Warn("{}", http::ExposureWarning(options.grpc_option_name, bound_,
                                             "; it takes spans from anyone who reaches it"));
    }
  }

  ~GrpcListener() { Stop(); }

  const std::string& bound() const { return bound_; }

  void Stop() {
    if (server_ == nullptr) return;
    // Calls still running after the grace period are cancelled.
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
    server_->Wait();
    server_.reset();
  }

 private:
  class Service final : public grpc::CallbackGenericService {
   public:
    explicit Service(OtlpRequestHandler& handler) : handler_(handler) {}
    grpc::ServerGenericBidiReactor* CreateReactor(
        grpc::GenericCallbackServerContext* context) override {
      return new ExportReactor(context, handler_);  // deletes itself in OnDone()
    }

   private:
    OtlpRequestHandler& handler_;
  };

  Service service_;
  std::unique_ptr<grpc::Server> server_;
  std::string bound_;
};

// --- OtlpReceiver ------------------------------------------------------------------------

OtlpReceiver::OtlpReceiver(ReceiverOptions options) : options_(std::move(options)) {
  if (options_.http_address.empty() && options_.grpc_address.empty()) {
    throw core::ConfigError(options_.http_option_name +
                            ": no address to listen on; give one such as 127.0.0.1:4318");
  }
  OtlpRequestHandler::ForwardFn forward;
  if (!options_.forward_url.empty()) {
    forwarder_ = std::make_unique<Forwarder>(options_);
    forward = [f = forwarder_.get()](std::string_view request, uint64_t spans) {
      f->Enqueue(request, spans);
    };
  }
  handler_ = std::make_unique<OtlpRequestHandler>(options_, std::move(forward));
  if (!options_.http_address.empty()) {
    http::ServerOptions server_options;
    server_options.address = options_.http_address;
    server_options.option_name = options_.http_option_name;
    server_options.max_body_bytes = options_.max_body_bytes;
    server_options.thread_name = "stampede-otlp";
    server_options.exposure_note = "; it takes spans from anyone who reaches it";
    http_ = std::make_unique<http::Server>(
        std::move(server_options),
        [h = handler_.get()](const http::ServerRequest& r) { return h->HandleHttp(r); });
    http_bound_ = http_->address();
    RefuseForwardingToItself();
  }
  if (!options_.grpc_address.empty()) {
    grpc_ = std::make_unique<GrpcListener>(options_, *handler_);
    grpc_bound_ = grpc_->bound();
  }
}

OtlpReceiver::~OtlpReceiver() { Stop(); }

// A forward URL naming our own HTTP listener would send every request back
// to us, forever. Only the obvious spellings of loopback are recognised.
void OtlpReceiver::RefuseForwardingToItself() const {
  if (options_.forward_url.empty() || http_bound_.empty()) return;
  std::string_view rest = options_.forward_url;
  rest.remove_prefix(rest.find("://") + 3);  // the scheme was checked by Forwarder
  const std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  const size_t colon = authority.rfind(':');
  if (colon == std::string_view::npos) return;
  const std::string_view host = authority.substr(0, colon);
  const std::string_view port = authority.substr(colon + 1);
  const std::string_view bound_port =
      std::string_view(http_bound_).substr(http_bound_.rfind(':') + 1);
  const std::string_view bound_host =
      std::string_view(http_bound_).substr(0, http_bound_.rfind(':'));
  const bool loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]" ||
                        EqualsIgnoreCase(host, bound_host);
  if (loopback && port == bound_port) {
    throw core::ConfigError(options_.forward_option_name + " " + options_.forward_url +
                            ": that is this receiver's own " + options_.http_option_name +
                            " address (" + http_bound_ +
                            "); forwarding there would loop; give the real collector's URL");
  }
}

void OtlpReceiver::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Listeners first: nothing new reaches the forwarder while it drains.
  if (http_) http_->Stop();
  if (grpc_) grpc_->Stop();
  if (forwarder_) forwarder_->Stop(options_.forward_flush_timeout);
}

ReceiverStats OtlpReceiver::stats() const {
  ReceiverStats s = handler_->stats();
  if (forwarder_) {
    s.forwarded_spans = forwarder_->forwarded();
    s.forward_failed_spans = forwarder_->failed();
    s.forward_dropped_spans = forwarder_->dropped();
  }
  return s;
}

}  // namespace stampede::otel
