#include "otel/otlp_receiver.h"

#include <curl/curl.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/byte_buffer.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "child_process.h"
#include "core/error.h"
#include "otel/otlp_encoder.h"
#include "otel/otlp_json.h"
#include "otel/proto_reader.h"
#include "otel/proto_writer.h"
#include "otel/test_spans.h"

namespace stampede::otel {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using testing::HexOf;
using testing::MakeTraceId;
using testing::SampleHttpSpan;
using Clock = std::chrono::steady_clock;

constexpr std::string_view kTraceMethod =
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

// --- Request builders -----------------------------------------------------------------

// One span per seed; a span's trace id is MakeTraceId(seed).
std::string SpanChunk(std::initializer_list<uint8_t> seeds) {
  ProtoWriter w;
  for (uint8_t seed : seeds) {
    SampleHttpSpan span(seed);
    EncodeSpan(span.data, w);
  }
  return std::string(w.view());
}

// ExportTraceServiceRequest with one resource and scope holding the spans.
std::string Request(std::initializer_list<uint8_t> seeds, std::string_view service = "svc") {
  const std::string chunk = SpanChunk(seeds);
  const KeyValue resource[] = {{"service.name", AnyValue::String(service)}};
  const ExportRequestHeader header{
      .resource_attributes = resource, .scope_name = "lib", .scope_version = "1.0"};
  const std::string_view chunks[] = {chunk};
  ProtoWriter w;
  EncodeExportTraceRequest(header, chunks, w);
  return std::string(w.view());
}

// The trace ids of the spans of a protobuf request, in order (hex).
std::vector<std::string> TraceIds(std::string_view request) {
  std::vector<std::string> ids;
  const json j = json::parse(TraceRequestToJson(request));
  for (const json& rs : j.value("resourceSpans", json::array())) {
    for (const json& ss : rs.value("scopeSpans", json::array())) {
      for (const json& s : ss.value("spans", json::array())) ids.push_back(s["traceId"]);
    }
  }
  return ids;
}

std::string Hex(uint8_t seed) { return HexOf(MakeTraceId(seed).bytes); }

// Accepts the traces of the given seeds only.
std::function<bool(const TraceId&)> AcceptSeeds(std::vector<uint8_t> seeds) {
  return [seeds](const TraceId& id) {
    return std::any_of(seeds.begin(), seeds.end(), [&](uint8_t s) { return MakeTraceId(s) == id; });
  };
}

std::string Gzip(std::string_view in) {
  z_stream zs{};
  EXPECT_EQ(
      deflateInit2(&zs, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
      Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 64, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(out.size() - zs.avail_out);
  deflateEnd(&zs);
  return out;
}

// --- Clients ------------------------------------------------------------------------------

struct HttpReply {
  long status = 0;
  std::string content_type;
  std::string allow;
  std::string body;
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

size_t CollectHeader(char* data, size_t size, size_t n, void* user) {
  auto* reply = static_cast<HttpReply*>(user);
  std::string_view line(data, size * n);
  auto value_of = [&](std::string_view name) -> std::optional<std::string> {
    if (line.size() < name.size() || strncasecmp(line.data(), name.data(), name.size()) != 0) {
      return std::nullopt;
    }
    std::string_view v = line.substr(name.size());
    while (!v.empty() && (v.back() == '\r' || v.back() == '\n')) v.remove_suffix(1);
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    return std::string(v);
  };
  if (auto v = value_of("Allow:")) reply->allow = *v;
  return size * n;
}

// One request with libcurl (no Expect: 100-continue round trip).
HttpReply Http(const std::string& address, const std::string& path, std::string_view body,
               std::vector<std::string> headers, const char* method = "POST") {
  HttpReply reply;
  CURL* c = curl_easy_init();
  const std::string url = "http://" + address + path;
  curl_slist* list = nullptr;
  headers.push_back("Expect:");
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  if (std::string_view(method) != "GET") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &CollectBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, &CollectHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 20000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  const CURLcode rc = curl_easy_perform(c);
  EXPECT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply.status);
  char* type = nullptr;
  curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &type);
  if (type != nullptr) reply.content_type = type;
  curl_slist_free_all(list);
  curl_easy_cleanup(c);
  return reply;
}

HttpReply PostProtobuf(const std::string& address, std::string_view body,
                       std::vector<std::string> extra = {}) {
  extra.push_back("Content-Type: application/x-protobuf");
  return Http(address, "/v1/traces", body, extra);
}

HttpReply PostJson(const std::string& address, std::string_view body,
                   std::vector<std::string> extra = {}) {
  extra.push_back("Content-Type: application/json");
  return Http(address, "/v1/traces", body, extra);
}

struct GrpcReply {
  grpc::Status status;
  std::string body;
};

GrpcReply CallGrpc(const std::string& address, std::string_view method, std::string_view body,
                   bool gzip = false) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (gzip) context.set_compression_algorithm(GRPC_COMPRESS_GZIP);
  grpc::Slice slice(body.data(), body.size());
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  GrpcReply reply;
  stub.UnaryCall(&context, std::string(method), grpc::StubOptions(), &request, &response,
                 [&](grpc::Status s) {
                   std::lock_guard lock(mu);
                   reply.status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return done; });
  std::vector<grpc::Slice> slices;
  if (reply.status.ok() && response.Dump(&slices).ok()) {
    for (const auto& s : slices)
      reply.body.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return reply;
}

// --- What on_spans received ---------------------------------------------------------------

class Delivered {
 public:
  std::function<void(std::string_view, uint64_t)> callback() {
    return [this](std::string_view request, uint64_t spans) {
      std::lock_guard lock(mu_);
      requests_.emplace_back(request);
      spans_ += spans;
      cv_.notify_all();
    };
  }
  // Waits (bounded) until `n` spans arrived; returns the requests so far.
  std::vector<std::string> WaitForSpans(uint64_t n, milliseconds timeout = milliseconds(20000)) {
    std::unique_lock lock(mu_);
    EXPECT_TRUE(cv_.wait_for(lock, timeout, [&] { return spans_ >= n; }))
        << "got " << spans_ << " of " << n << " spans";
    return requests_;
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  uint64_t spans() {
    std::lock_guard lock(mu_);
    return spans_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> requests_;
  uint64_t spans_ = 0;
};

// Polls `condition` until true or the timeout (for counters updated on other
// threads; no fixed sleep stands in for "done").
template <typename Fn>
bool Eventually(Fn&& condition, milliseconds timeout = milliseconds(20000)) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

ReceiverOptions Loopback() {
  ReceiverOptions o;
  o.http_address = "127.0.0.1:0";
  o.grpc_address = "127.0.0.1:0";
  return o;
}

// google.rpc.Status in a protobuf error reply.
RpcStatus StatusOf(const HttpReply& r) {
  auto st = ParseRpcStatus(r.body);
  EXPECT_TRUE(st.has_value()) << "not a google.rpc.Status: " << r.body;
  return st.value_or(RpcStatus{});
}

// ==========================================================================================
// FilterTraceRequest

TEST(FilterTraceRequestTest, KeepsEverythingWithoutACopy) {
  const std::string request = Request({0x10, 0x20, 0x30});
  FilteredTraceRequest out;
  std::string error;
  ASSERT_TRUE(FilterTraceRequest(request, {}, out, error)) << error;
  EXPECT_EQ(out.spans, 3u);
  EXPECT_EQ(out.kept, 3u);
  EXPECT_TRUE(out.rewritten.empty());
  ASSERT_TRUE(FilterTraceRequest(request, AcceptSeeds({0x10, 0x20, 0x30}), out, error));
  EXPECT_EQ(out.kept, 3u);
  EXPECT_TRUE(out.rewritten.empty());
  ASSERT_TRUE(FilterTraceRequest(request, AcceptSeeds({0x99}), out, error));
  EXPECT_EQ(out.spans, 3u);
  EXPECT_EQ(out.kept, 0u);
  EXPECT_TRUE(out.rewritten.empty());
  ASSERT_TRUE(FilterTraceRequest("", {}, out, error)) << "an empty request is fine";
  EXPECT_EQ(out.spans, 0u);
}

TEST(FilterTraceRequestTest, RewritesKeepingResourcesScopesAndUnknownFieldsAsReceived) {
  // Two resources; the first has a scope with spans 0x10 (kept), 0x20
  // (foreign) and a scope with only 0x30 (foreign); the second only 0x40
  // (foreign). Unknown fields at every level.
  auto resource_spans = [](ProtoWriter& w, std::string_view service,
                           std::initializer_list<std::initializer_list<uint8_t>> scopes) {
    auto rs = w.BeginMessage(1);
    auto res = w.BeginMessage(1);
    auto kv = w.BeginMessage(1);
    w.StringField(1, "service.name");
    auto v = w.BeginMessage(2);
    w.StringField(1, service, Presence::kExplicit);
    w.EndMessage(v);
    w.EndMessage(kv);
    w.VarintField(77, 1);  // unknown, inside the resource
    w.EndMessage(res);
    for (auto seeds : scopes) {
      auto ss = w.BeginMessage(2);
      auto scope = w.BeginMessage(1);
      w.StringField(1, "lib");
      w.EndMessage(scope);
      w.AppendRaw(SpanChunk(seeds));
      w.StringField(3, "https://example.com/scope");
      w.StringField(88, "unknown in scope spans");
      w.EndMessage(ss);
    }
    w.StringField(3, "https://example.com/resource");
    w.EndMessage(rs);
  };
  ProtoWriter in;
  resource_spans(in, "a", {{0x10, 0x20}, {0x30}});
  resource_spans(in, "b", {{0x40}});
  in.StringField(99, "unknown at the top");

  FilteredTraceRequest out;
  std::string error;
  ASSERT_TRUE(FilterTraceRequest(in.view(), AcceptSeeds({0x10}), out, error)) << error;
  EXPECT_EQ(out.spans, 4u);
  EXPECT_EQ(out.kept, 1u);

  ProtoWriter expected;
  resource_spans(expected, "a", {{0x10}});
  expected.StringField(99, "unknown at the top");
  EXPECT_EQ(out.rewritten, expected.view());
  EXPECT_EQ(TraceIds(out.rewritten), std::vector<std::string>{Hex(0x10)});

  // Keeping 0x30 and 0x40 drops the first scope but keeps both resources.
  ASSERT_TRUE(FilterTraceRequest(in.view(), AcceptSeeds({0x30, 0x40}), out, error)) << error;
  EXPECT_EQ(out.kept, 2u);
  ProtoWriter expected2;
  resource_spans(expected2, "a", {{0x30}});
  resource_spans(expected2, "b", {{0x40}});
  expected2.StringField(99, "unknown at the top");
  EXPECT_EQ(out.rewritten, expected2.view());
}

// A request whose only span has `span_body` (plus valid ids unless given).
std::string RequestWithSpanBody(std::string_view span_body) {
  ProtoWriter w;
  auto rs = w.BeginMessage(1);
  auto ss = w.BeginMessage(2);
  w.BytesField(2, span_body, Presence::kExplicit);
  w.EndMessage(ss);
  w.EndMessage(rs);
  return std::string(w.view());
}

std::string ValidIds() {
  ProtoWriter w;
  w.BytesField(1, std::string(16, '\x01'));
  w.BytesField(2, std::string(8, '\x02'));
  return std::string(w.view());
}

TEST(FilterTraceRequestTest, MalformedRequestsSayWhatAndWhere) {
  struct Case {
    std::string request;
    std::string expected;
  };
  auto span = [](auto&& fill) {
    ProtoWriter w;
    fill(w);
    return RequestWithSpanBody(w.view());
  };
  const std::string good = Request({0x10, 0x20});
  const Case cases[] = {
      {good.substr(0, good.size() - 3), "malformed protobuf"},
      {std::string("\x0a\x05\x01", 3), "malformed protobuf: truncated or invalid field at byte 0"},
      {good + "\x0b",
       "malformed protobuf: truncated or invalid field at byte " + std::to_string(good.size())},
      // Field 1 of the request (resource_spans) as a varint.
      {std::string("\x08\x01", 2),
       "resource_spans[0]: wrong wire type (varint, expected length-delimited)"},
      {span([](ProtoWriter& w) {
         w.BytesField(1, std::string(15, '\x01'));
         w.BytesField(2, std::string(8, '\x02'));
       }),
       "resource_spans[0].scope_spans[0].spans[0].trace_id: 15 bytes, expected 16"},
      {span([](ProtoWriter& w) { w.BytesField(1, std::string(16, '\x01')); }),
       "spans[0].span_id: missing"},
      {span([](ProtoWriter& w) { w.BytesField(2, std::string(8, '\x01')); }),
       "spans[0].trace_id: missing"},
      {span([](ProtoWriter& w) {
         w.AppendRaw(ValidIds());
         w.BytesField(4, "abcd");
       }),
       "spans[0].parent_span_id: 4 bytes, expected 8 or none"},
      {span([](ProtoWriter& w) {
         w.AppendRaw(ValidIds());
         w.VarintField(5, 3);
       }),
       "spans[0].name: wrong wire type (varint, expected length-delimited)"},
      {span([](ProtoWriter& w) {
         w.AppendRaw(ValidIds());
         w.Fixed32Field(7, 3);
       }),
       "spans[0].start_time_unix_nano: wrong wire type (32-bit, expected 64-bit)"},
      {span([](ProtoWriter& w) {
         w.AppendRaw(ValidIds());
         auto l = w.BeginMessage(13);
         w.BytesField(1, std::string(16, '\x03'));
         w.BytesField(2, std::string(9, '\x04'));
         w.EndMessage(l);
       }),
       "spans[0].links[0].span_id: 9 bytes, expected 8"},
      {span([](ProtoWriter& w) {
         w.AppendRaw(ValidIds());
         auto kv = w.BeginMessage(9);
         w.EndMessage(kv);
         kv = w.BeginMessage(9);
         auto v = w.BeginMessage(2);
         w.StringField(4, "not a double");
         w.EndMessage(v);
         w.EndMessage(kv);
       }),
       "spans[0].attributes[1].value.double_value: wrong wire type"},
      {span([](ProtoWriter& w) {
         w.AppendRaw(ValidIds());
         auto st = w.BeginMessage(15);
         w.AppendRaw(std::string("\x12\x05xx", 4));  // truncated message
         w.EndMessage(st);
       }),
       "spans[0].status: malformed protobuf: truncated or invalid field at byte 0"},
  };
  for (const Case& c : cases) {
    FilteredTraceRequest out;
    std::string error;
    EXPECT_FALSE(FilterTraceRequest(c.request, {}, out, error)) << c.expected;
    EXPECT_NE(error.find(c.expected), std::string::npos)
        << "error: " << error << "\nexpected: " << c.expected;
  }
}

TEST(FilterTraceRequestTest, UnknownFieldsAndEmptyParentAreFine) {
  ProtoWriter w;
  w.AppendRaw(ValidIds());
  w.BytesField(4, "", Presence::kExplicit);  // an explicit empty parent: a root span
  w.Fixed64Field(99, 1);
  w.StringField(100, "future");
  FilteredTraceRequest out;
  std::string error;
  EXPECT_TRUE(FilterTraceRequest(RequestWithSpanBody(w.view()), {}, out, error)) << error;
  EXPECT_EQ(out.spans, 1u);
}

// `levels` nested AnyValue arrays in one attribute of one span.
std::string DeepAttribute(int levels) {
  ProtoWriter w;
  w.AppendRaw(ValidIds());
  auto kv = w.BeginMessage(9);
  w.StringField(1, "k");
  std::vector<ProtoWriter::Bookmark> open;
  open.push_back(w.BeginMessage(2));  // AnyValue
  for (int i = 0; i < levels; ++i) {
    open.push_back(w.BeginMessage(5));  // ArrayValue
    open.push_back(w.BeginMessage(1));  // AnyValue
  }
  w.Int64Field(3, 1, Presence::kExplicit);
  for (auto it = open.rbegin(); it != open.rend(); ++it) w.EndMessage(*it);
  w.EndMessage(kv);
  return RequestWithSpanBody(w.view());
}

TEST(FilterTraceRequestTest, NestingIsCappedLikeTheTranscoder) {
  FilteredTraceRequest out;
  std::string error;
  const std::string ok = DeepAttribute(29);  // AnyValue at depth 5 + 2*29 = 63
  EXPECT_TRUE(FilterTraceRequest(ok, {}, out, error)) << error;
  EXPECT_FALSE(TraceRequestToJson(ok).empty());
  EXPECT_FALSE(FilterTraceRequest(DeepAttribute(30), {}, out, error));
  EXPECT_NE(error.find("nested more than 64"), std::string::npos) << error;
  EXPECT_FALSE(FilterTraceRequest(DeepAttribute(20000), {}, out, error));
}

// ==========================================================================================
// OTLP/HTTP

class ReceiverTest : public ::testing::Test {
 protected:
  void Start(ReceiverOptions o) {
    o.on_spans = delivered_.callback();
    receiver_ = std::make_unique<OtlpReceiver>(std::move(o));
    address_ = receiver_->http_address();
  }
  Delivered delivered_;
  std::unique_ptr<OtlpReceiver> receiver_;
  std::string address_;
};

TEST_F(ReceiverTest, ProtobufIsAcceptedAndForeignSpansFiltered) {
  ReceiverOptions o = Loopback();
  o.accept_trace = AcceptSeeds({0x10, 0x30});
  Start(o);
  ASSERT_NE(address_.find("127.0.0.1:"), std::string::npos);
  ASSERT_NE(address_, "127.0.0.1:0");

  const HttpReply r = PostProtobuf(address_, Request({0x10, 0x20, 0x30}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_EQ(r.body, "");  // an empty ExportTraceServiceResponse
  const auto requests = delivered_.WaitForSpans(2);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(TraceIds(requests[0]), (std::vector<std::string>{Hex(0x10), Hex(0x30)}));
  // Resource and scope as sent.
  const json j = json::parse(TraceRequestToJson(requests[0]));
  EXPECT_EQ(j["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "svc");
  EXPECT_EQ(j["resourceSpans"][0]["scopeSpans"][0]["scope"]["name"], "lib");

  // All foreign: answered 200, nothing delivered.
  EXPECT_EQ(PostProtobuf(address_, Request({0x20, 0x40})).status, 200);
  // All kept: the request is passed through as received.
  const std::string all_kept = Request({0x30});
  EXPECT_EQ(PostProtobuf(address_, all_kept).status, 200);
  const auto after = delivered_.WaitForSpans(3);
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[1], all_kept);

  const ReceiverStats s = receiver_->stats();
  EXPECT_EQ(s.requests, 3u);
  EXPECT_EQ(s.trace_requests, 3u);
  EXPECT_EQ(s.spans_received, 6u);
  EXPECT_EQ(s.spans_kept, 3u);
  EXPECT_EQ(s.spans_foreign, 3u);
  EXPECT_EQ(s.bad_requests, 0u);
}

TEST_F(ReceiverTest, JsonIsAcceptedAndDeliveredAsProtobuf) {
  ReceiverOptions o = Loopback();
  o.accept_trace = AcceptSeeds({0x10});
  Start(o);
  const std::string protobuf = Request({0x10, 0x20});
  const std::string text = TraceRequestToJson(protobuf);
  const HttpReply r =
      Http(address_, "/v1/traces", text, {"Content-Type: application/json; charset=utf-8"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(json::parse(r.body), json::object());

  // The same spans through protobuf give the same bytes to on_spans.
  EXPECT_EQ(PostProtobuf(address_, protobuf).status, 200);
  const auto requests = delivered_.WaitForSpans(2);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(TraceIds(requests[0]), std::vector<std::string>{Hex(0x10)});
  EXPECT_EQ(requests[0], requests[1]);
}

TEST_F(ReceiverTest, GzipBodiesAreInflated) {
  Start(Loopback());
  const std::string protobuf = Request({0x10, 0x20});
  EXPECT_EQ(PostProtobuf(address_, Gzip(protobuf), {"Content-Encoding: gzip"}).status, 200);
  EXPECT_EQ(
      PostJson(address_, Gzip(TraceRequestToJson(protobuf)), {"Content-Encoding: GZIP"}).status,
      200);
  // Two gzip members back to back are one body (as gzip(1) concatenates).
  const std::string half = protobuf.substr(0, protobuf.size() / 2);
  const std::string rest = protobuf.substr(protobuf.size() / 2);
  EXPECT_EQ(PostProtobuf(address_, Gzip(half) + Gzip(rest), {"Content-Encoding: gzip"}).status,
            200);
  const auto requests = delivered_.WaitForSpans(6);
  ASSERT_EQ(requests.size(), 3u);
  for (const std::string& r : requests) EXPECT_EQ(r, protobuf);
}

TEST_F(ReceiverTest, GzipBombIsRefusedWhileInflating) {
  ReceiverOptions o = Loopback();
  o.max_decoded_bytes = 1 << 20;
  Start(o);
  // 64 MiB of zeros compress to about 64 KiB: under max_body_bytes, far
  // over max_decoded_bytes.
  const std::string bomb = Gzip(std::string(64u << 20, '\0'));
  ASSERT_LT(bomb.size(), 1u << 20);
  const HttpReply r = PostProtobuf(address_, bomb, {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 413);
  EXPECT_NE(StatusOf(r).message.find("once inflated"), std::string::npos);
  EXPECT_EQ(StatusOf(r).code, 8);  // RESOURCE_EXHAUSTED
  // Just over the limit is refused; exactly at it is fine.
  const std::string at_limit(1 << 20, 'x');
  EXPECT_EQ(PostJson(address_, Gzip(at_limit + "x"), {"Content-Encoding: gzip"}).status, 413);
  EXPECT_EQ(PostJson(address_, Gzip(at_limit), {"Content-Encoding: gzip"}).status, 400)
      << "inflated in full, then refused as JSON";
  EXPECT_EQ(receiver_->stats().too_large, 2u);
  EXPECT_EQ(delivered_.spans(), 0u);
}

TEST_F(ReceiverTest, ErrorsFollowTheSpec) {
  ReceiverOptions o = Loopback();
  o.max_body_bytes = 64 << 10;
  Start(o);
  const std::string good = Request({0x10});

  // Too large as received: 413 from the server before the body is read.
  EXPECT_EQ(PostProtobuf(address_, std::string(65 << 10, 'x')).status, 413);

  HttpReply r = Http(address_, "/v1/trace", good, {"Content-Type: application/x-protobuf"});
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(StatusOf(r).code, 5);
  EXPECT_NE(StatusOf(r).message.find("/v1/traces"), std::string::npos);

  r = Http(address_, "/v1/traces", "", {}, "GET");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.allow, "POST");
  r = Http(address_, "/v1/metrics", good, {"Content-Type: application/x-protobuf"}, "PUT");
  EXPECT_EQ(r.status, 405);

  r = Http(address_, "/v1/traces", good, {"Content-Type: text/plain"});
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(StatusOf(r).message.find("\"text/plain\""), std::string::npos);
  r = Http(address_, "/v1/traces", good, {"Content-Type:"});
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(StatusOf(r).message.find("missing Content-Type"), std::string::npos);
  r = PostProtobuf(address_, good, {"Content-Encoding: br"});
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(StatusOf(r).message.find("Content-Encoding \"br\""), std::string::npos);

  // Malformed protobuf: 400 with a google.rpc.Status saying where.
  r = PostProtobuf(address_, good.substr(0, good.size() - 1));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/x-protobuf");
  EXPECT_EQ(StatusOf(r).code, 3);
  EXPECT_NE(StatusOf(r).message.find("invalid ExportTraceServiceRequest: malformed protobuf: "
                                     "truncated or invalid field at byte 0"),
            std::string::npos)
      << StatusOf(r).message;
  // Malformed JSON: the Status in JSON.
  r = PostJson(address_, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xy"}]}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.content_type, "application/json");
  const json status = json::parse(r.body);
  EXPECT_EQ(status["code"], 3);
  EXPECT_EQ(status["message"],
            "invalid OTLP/JSON: resourceSpans[0].scopeSpans[0].spans[0].traceId: expected a hex "
            "string, got \"xy\"");
  // Valid JSON, but a 4-byte trace id: refused by the protobuf check.
  r = PostJson(address_, R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"01020304",)"
                         R"("spanId":"0102030405060708"}]}]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["message"].get<std::string>().find("trace_id: 4 bytes"),
            std::string::npos);
  r = PostProtobuf(address_, "not gzip", {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(StatusOf(r).message.find("gzip"), std::string::npos);
  r = PostProtobuf(address_, Gzip(good).substr(0, 20), {"Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(StatusOf(r).message.find("ends before"), std::string::npos);
  // Client bytes in a message come back printable.
  r = Http(address_, "/v1/traces", good, {"Content-Type: caf\xC3\xA9/\xFF"});
  EXPECT_EQ(r.status, 415);
  EXPECT_NE(StatusOf(r).message.find("caf?\?/?"), std::string::npos) << StatusOf(r).message;
  for (char c : StatusOf(r).message) EXPECT_TRUE(c >= 0x20 && c < 0x7F) << StatusOf(r).message;

  const ReceiverStats s = receiver_->stats();
  EXPECT_EQ(s.bad_requests, 12u);
  EXPECT_EQ(s.spans_received, 0u);
  EXPECT_EQ(delivered_.spans(), 0u);

  // After all that, the listener still works.
  EXPECT_EQ(PostProtobuf(address_, good).status, 200);
  delivered_.WaitForSpans(1);
}

TEST_F(ReceiverTest, MetricsLogsAndEmptyRequestsSucceed) {
  Start(Loopback());
  HttpReply r = Http(address_, "/v1/metrics", "\x0a\x00", {"Content-Type: application/x-protobuf"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "");
  r = Http(address_, "/v1/logs", R"({"resourceLogs":[]})", {"Content-Type: application/json"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "{}");
  r = Http(address_, "/v1/metrics", Gzip("x"),
           {"Content-Type: application/x-protobuf", "Content-Encoding: gzip"});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(PostProtobuf(address_, "").status, 200);
  EXPECT_EQ(PostJson(address_, "{}").status, 200);
  const ReceiverStats s = receiver_->stats();
  EXPECT_EQ(s.metrics_requests, 2u);
  EXPECT_EQ(s.logs_requests, 1u);
  EXPECT_EQ(s.trace_requests, 2u);
  EXPECT_EQ(s.spans_received, 0u);
  EXPECT_EQ(delivered_.requests().size(), 0u);
}

// ==========================================================================================
// OTLP/gRPC

TEST_F(ReceiverTest, GrpcExportFollowsTheSpec) {
  ReceiverOptions o = Loopback();
  o.accept_trace = AcceptSeeds({0x10});
  o.max_body_bytes = 64 << 10;
  Start(o);
  const std::string grpc_address = receiver_->grpc_address();
  ASSERT_NE(grpc_address, "127.0.0.1:0");

  GrpcReply g = CallGrpc(grpc_address, kTraceMethod, Request({0x10, 0x20}));
  EXPECT_TRUE(g.status.ok()) << g.status.error_message();
  EXPECT_EQ(g.body, "");
  auto requests = delivered_.WaitForSpans(1);
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(TraceIds(requests[0]), std::vector<std::string>{Hex(0x10)});

  g = CallGrpc(grpc_address, kTraceMethod, Request({0x10}), /*gzip=*/true);
  EXPECT_TRUE(g.status.ok()) << g.status.error_message();
  delivered_.WaitForSpans(2);

  g = CallGrpc(grpc_address, kTraceMethod, "\x0a\x05\x01");
  EXPECT_EQ(g.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(g.status.error_message().find("malformed protobuf"), std::string::npos)
      << g.status.error_message();

  g = CallGrpc(grpc_address, "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
               "\x0a\x00");
  EXPECT_TRUE(g.status.ok());
  g = CallGrpc(grpc_address, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", "");
  EXPECT_TRUE(g.status.ok());

  g = CallGrpc(grpc_address, "/opentelemetry.proto.collector.trace.v1.TraceService/Other", "");
  EXPECT_EQ(g.status.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_NE(g.status.error_message().find("TraceService/Export"), std::string::npos);

  g = CallGrpc(grpc_address, kTraceMethod, std::string(65 << 10, 'x'));
  EXPECT_EQ(g.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);

  const ReceiverStats s = receiver_->stats();
  EXPECT_EQ(s.spans_received, 3u);
  EXPECT_EQ(s.spans_kept, 2u);
  EXPECT_EQ(s.spans_foreign, 1u);
  EXPECT_EQ(s.metrics_requests, 1u);
  EXPECT_EQ(s.logs_requests, 1u);
  EXPECT_EQ(s.bad_requests, 2u);
}

TEST_F(ReceiverTest, HttpAndGrpcDeliverConcurrently) {
  Start(Loopback());
  const std::string grpc_address = receiver_->grpc_address();
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string request = Request({static_cast<uint8_t>(t * 40 + i)});
        if (t % 2 == 0) {
          EXPECT_EQ(PostProtobuf(address_, request).status, 200);
        } else {
          EXPECT_TRUE(CallGrpc(grpc_address, kTraceMethod, request).status.ok());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(delivered_.WaitForSpans(kThreads * kPerThread).size(),
            static_cast<size_t>(kThreads * kPerThread));
  EXPECT_EQ(receiver_->stats().spans_kept, static_cast<uint64_t>(kThreads * kPerThread));
}

// ==========================================================================================
// Forwarding

TEST(ReceiverForwardTest, ForwardsEverythingUnfilteredToARealCollector) {
  Delivered at_collector;
  ReceiverOptions c;
  c.http_address = "127.0.0.1:0";
  c.on_spans = at_collector.callback();
  OtlpReceiver collector(c);

  Delivered kept;
  ReceiverOptions o = Loopback();
  o.accept_trace = AcceptSeeds({0x10});
  o.on_spans = kept.callback();
  o.forward_url = "http://" + collector.http_address() + "/v1/traces";
  OtlpReceiver receiver(o);

  const std::string via_http = Request({0x10, 0x20});
  const std::string via_json = Request({0x30}, "json");
  const std::string via_grpc = Request({0x40, 0x50});
  EXPECT_EQ(PostProtobuf(receiver.http_address(), via_http).status, 200);
  EXPECT_EQ(PostJson(receiver.http_address(), TraceRequestToJson(via_json)).status, 200);
  EXPECT_TRUE(CallGrpc(receiver.grpc_address(), kTraceMethod, via_grpc).status.ok());

  const auto forwarded = at_collector.WaitForSpans(5);
  std::vector<std::string> ids;
  for (const std::string& r : forwarded) {
    for (const std::string& id : TraceIds(r)) ids.push_back(id);
  }
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected = {Hex(0x10), Hex(0x20), Hex(0x30), Hex(0x40), Hex(0x50)};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  EXPECT_EQ(kept.spans(), 1u);
  EXPECT_TRUE(Eventually([&] { return receiver.stats().forwarded_spans == 5; }));
  receiver.Stop();
  const ReceiverStats s = receiver.stats();
  EXPECT_EQ(s.forwarded_spans, 5u);
  EXPECT_EQ(s.forward_failed_spans, 0u);
  EXPECT_EQ(s.forward_dropped_spans, 0u);
}

TEST(ReceiverForwardTest, AnUnreachableCollectorNeverBlocksReceiving) {
  Delivered kept;
  std::vector<std::string> warnings;
  std::mutex warnings_mu;
  ReceiverOptions o = Loopback();
  o.on_spans = kept.callback();
  o.forward_url =
      "http://127.0.0.1:" + std::to_string(stampede::testing::UnusedPort()) + "/v1/traces";
  o.forward_timeout = milliseconds(400);
  o.forward_flush_timeout = milliseconds(200);
  o.warn = [&](std::string_view line) {
    std::lock_guard lock(warnings_mu);
    warnings.emplace_back(line);
  };
  auto receiver = std::make_unique<OtlpReceiver>(o);
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(PostProtobuf(receiver->http_address(), Request({static_cast<uint8_t>(i)})).status,
              200);
  }
  kept.WaitForSpans(kRequests);
  // Each forward attempt gives up only after its 400 ms; receiving all 20
  // did not wait for those (the forwarder has failed at most a few yet).
  EXPECT_LT(receiver->stats().forward_failed_spans, static_cast<uint64_t>(kRequests));
  EXPECT_TRUE(Eventually([&] { return receiver->stats().forward_failed_spans >= 1; }));

  const auto stop_start = Clock::now();
  receiver->Stop();
  EXPECT_LT(Clock::now() - stop_start, std::chrono::seconds(3)) << "Stop() is bounded";
  const ReceiverStats s = receiver->stats();
  EXPECT_EQ(s.forwarded_spans, 0u);
  EXPECT_EQ(s.forward_failed_spans + s.forward_dropped_spans, static_cast<uint64_t>(kRequests));
  std::lock_guard lock(warnings_mu);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("forwarding spans to http://127.0.0.1:"), std::string::npos)
      << warnings[0];
}

TEST(ReceiverForwardTest, AFullQueueDropsAndCounts) {
  ReceiverOptions o = Loopback();
  o.forward_url =
      "http://127.0.0.1:" + std::to_string(stampede::testing::UnusedPort()) + "/v1/traces";
  o.forward_queue_bytes = 1;  // nothing fits
  o.warn = [](std::string_view) {};
  OtlpReceiver receiver(o);
  EXPECT_EQ(PostProtobuf(receiver.http_address(), Request({1, 2, 3})).status, 200);
  EXPECT_EQ(receiver.stats().forward_dropped_spans, 3u);
  EXPECT_EQ(receiver.stats().spans_kept, 3u);
}

// ==========================================================================================
// Configuration errors

TEST(ReceiverConfigTest, AddressInUseIsOneLineNamingTheOption) {
  OtlpReceiver first(Loopback());
  ReceiverOptions o;
  o.http_address = first.http_address();
  try {
    OtlpReceiver second(o);
    FAIL() << "bound twice";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "--collect " + first.http_address() +
                                         ": address already in use; choose another port (or "
                                         "port 0 for a free one)");
  }
  o.http_address = "";
  o.grpc_address = first.grpc_address();
  try {
    OtlpReceiver second(o);
    FAIL() << "bound twice";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "--collect-grpc " + first.grpc_address() +
                                         ": address already in use; choose another port (or "
                                         "port 0 for a free one)");
  }
  // gRPC on a port the HTTP listener holds.
  o.grpc_address = first.http_address();
  o.grpc_option_name = "--otlp-grpc";
  EXPECT_THROW(OtlpReceiver second(o), core::ConfigError);
}

TEST(ReceiverConfigTest, ListensOnIpv6Loopback) {
  Delivered delivered;
  ReceiverOptions o;
  o.http_address = "[::1]:0";
  o.grpc_address = "[::1]:0";
  o.on_spans = delivered.callback();
  std::unique_ptr<OtlpReceiver> r;
  try {
    r = std::make_unique<OtlpReceiver>(o);
  } catch (const core::ConfigError& e) {
    GTEST_SKIP() << "no IPv6 loopback here: " << e.what();
  }
  EXPECT_EQ(r->http_address().rfind("[::1]:", 0), 0u) << r->http_address();
  EXPECT_EQ(r->grpc_address().rfind("[::1]:", 0), 0u) << r->grpc_address();
  EXPECT_EQ(PostProtobuf(r->http_address(), Request({1})).status, 200);
  EXPECT_TRUE(CallGrpc(r->grpc_address(), kTraceMethod, Request({2})).status.ok());
  delivered.WaitForSpans(2);
}

TEST(ReceiverConfigTest, BadOptions) {
  ReceiverOptions o;
  o.http_address = "";
  try {
    OtlpReceiver r(o);
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("no address to listen on"), std::string::npos);
  }
  o.http_address = "127.0.0.1:99999";
  try {
    OtlpReceiver r(o);
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--collect"), std::string::npos) << e.what();
  }
  o.http_address = "127.0.0.1:0";
  o.forward_url = "localhost:4318";
  try {
    OtlpReceiver r(o);
    FAIL();
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "--collect-forward \"localhost:4318\": expected an OTLP/HTTP traces URL such as "
              "http://127.0.0.1:4318/v1/traces");
  }
}

TEST(ReceiverConfigTest, ForwardingToItselfIsRefused) {
  // Bind a port, free it, then ask for it and name it as the forward target.
  std::string address;
  {
    OtlpReceiver probe(Loopback());
    address = probe.http_address();
  }
  const std::string port = address.substr(address.rfind(':') + 1);
  ReceiverOptions o;
  o.http_address = address;
  o.forward_url = "http://localhost:" + port + "/v1/traces";
  try {
    OtlpReceiver r(o);
    FAIL() << "forwarding to itself accepted";
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "--collect-forward " + o.forward_url +
                                         ": that is this receiver's own --collect address (" +
                                         address +
                                         "); forwarding there would loop; give the real "
                                         "collector's URL");
  }
}

TEST(ReceiverConfigTest, StopIsIdempotentAndEndsDelivery) {
  Delivered delivered;
  ReceiverOptions o = Loopback();
  o.on_spans = delivered.callback();
  OtlpReceiver r(o);
  const std::string address = r.http_address();
  EXPECT_EQ(PostProtobuf(address, Request({1})).status, 200);
  r.Stop();
  r.Stop();
  // The port is closed: a request now fails to connect.
  CURL* c = curl_easy_init();
  const std::string url = "http://" + address + "/v1/traces";
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
  EXPECT_EQ(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
  curl_easy_cleanup(c);
  EXPECT_EQ(delivered.spans(), 1u);
}

// ==========================================================================================
// Real data from the OpenTelemetry JS SDK

// Made with @opentelemetry/sdk-trace-base and otlp-transformer from
// tests/support/node_modules: a SERVER span with attributes of every JS kind,
// its CLIENT child with an event, a link and an error status (trace A), and a
// span of another trace (B). Prints the JSON body, the protobuf body (hex)
// and trace A's id.
constexpr const char* kJsSdkScript = R"JS(
const path = require('path');
const load = (m) => require(path.join(process.argv[1], 'node_modules', m));
const api = load('@opentelemetry/api');
const { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } =
    load('@opentelemetry/sdk-trace-base');
const { JsonTraceSerializer, ProtobufTraceSerializer } = load('@opentelemetry/otlp-transformer');
const { resourceFromAttributes } = load('@opentelemetry/resources');
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({
  resource: resourceFromAttributes({'service.name': 'shop-js', 'deployment.environment': 'test'}),
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const tracer = provider.getTracer('shop', '1.2.3');
const server = tracer.startSpan('GET /items/{id}', {kind: api.SpanKind.SERVER, attributes: {
  'http.request.method': 'GET', 'http.response.status_code': 200, 'ratio': 0.5, 'ok': true,
  'tags': ['a', 'b'], 'ids': [1, 2, 3], 'unicode': 'caf\u00e9'}});
const ctx = api.trace.setSpan(api.ROOT_CONTEXT, server);
const child = tracer.startSpan('SELECT items', {kind: api.SpanKind.CLIENT,
  links: [{context: server.spanContext(), attributes: {'link.kind': 'x'}}]}, ctx);
child.addEvent('rows', {count: 3});
child.setStatus({code: api.SpanStatusCode.ERROR, message: 'slow'});
child.end();
server.end();
tracer.startSpan('foreign').end();
const spans = exporter.getFinishedSpans();
console.log(Buffer.from(JsonTraceSerializer.serializeRequest(spans)).toString());
console.log(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)).toString('hex'));
console.log(server.spanContext().traceId);
)JS";

std::string FromHex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// OTLP/JSON of a protobuf request without proto3 defaults (the JS protobuf
// writes zero counts and status codes explicitly; its JSON does too, but our
// decoder omits them), so both encodings compare equal.
json Normalized(std::string_view protobuf) {
  std::function<void(json&)> strip = [&](json& j) {
    if (j.is_array()) {
      for (json& e : j) strip(e);
    } else if (j.is_object()) {
      for (auto it = j.begin(); it != j.end();) {
        strip(it.value());
        const bool zero = it.value().is_number() && it.value() == 0 && it.key() != "doubleValue";
        const bool empty =
            (it.value().is_string() && it.value() == "" && it.key() != "stringValue") ||
            (it.value().is_array() && it.value().empty());
        it = (zero || empty) ? j.erase(it) : std::next(it);
      }
    }
  };
  json j = json::parse(TraceRequestToJson(protobuf));
  strip(j);
  return j;
}

TEST(ReceiverJsSdkTest, RealProtobufAndJsonFromTheJsSdk) {
#ifndef STAMPEDE_NODE
  GTEST_SKIP() << "built without node";
#else
  if (std::string(STAMPEDE_NODE).empty() || access(STAMPEDE_NODE, X_OK) != 0) {
    GTEST_SKIP() << "node not found";
  }
  stampede::testing::EnsureNodeModules();
  stampede::testing::ChildProcess node(
      {STAMPEDE_NODE, "-e", kJsSdkScript, stampede::testing::SupportDir()});
  const std::string json_body = node.ReadLine(60000);
  const std::string protobuf_body = FromHex(node.ReadLine(10000));
  const std::string trace_a = node.ReadLine(10000);
  ASSERT_EQ(trace_a.size(), 32u);

  Delivered delivered;
  ReceiverOptions o = Loopback();
  o.accept_trace = [&](const TraceId& id) { return HexOf(id.bytes) == trace_a; };
  o.on_spans = delivered.callback();
  OtlpReceiver receiver(o);
  EXPECT_EQ(PostJson(receiver.http_address(), json_body).status, 200);
  EXPECT_EQ(PostProtobuf(receiver.http_address(), protobuf_body).status, 200);
  EXPECT_TRUE(
      CallGrpc(receiver.grpc_address(), kTraceMethod, protobuf_body, /*gzip=*/true).status.ok());
  const auto requests = delivered.WaitForSpans(6);
  ASSERT_EQ(requests.size(), 3u);
  const ReceiverStats s = receiver.stats();
  EXPECT_EQ(s.spans_received, 9u);
  EXPECT_EQ(s.spans_foreign, 3u);

  // JSON and protobuf bodies of the same spans give the same spans.
  EXPECT_EQ(Normalized(requests[0]), Normalized(requests[1]));
  EXPECT_EQ(requests[1], requests[2]);

  const json j = json::parse(TraceRequestToJson(requests[0]));
  const json& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"][0],
            json::parse(R"({"key":"service.name","value":{"stringValue":"shop-js"}})"));
  const json& ss = rs["scopeSpans"][0];
  EXPECT_EQ(ss["scope"]["name"], "shop");
  EXPECT_EQ(ss["scope"]["version"], "1.2.3");
  ASSERT_EQ(ss["spans"].size(), 2u);
  const json& child = ss["spans"][0];
  const json& server = ss["spans"][1];
  EXPECT_EQ(server["name"], "GET /items/{id}");
  EXPECT_EQ(server["kind"], 2);
  EXPECT_EQ(server["traceId"], trace_a);
  EXPECT_EQ(child["traceId"], trace_a);
  EXPECT_EQ(child["parentSpanId"], server["spanId"]);
  EXPECT_EQ(child["kind"], 3);
  EXPECT_EQ(child["status"]["code"], 2);
  EXPECT_EQ(child["status"]["message"], "slow");
  EXPECT_EQ(child["events"][0]["name"], "rows");
  EXPECT_EQ(child["events"][0]["attributes"][0]["value"]["intValue"], "3");
  EXPECT_EQ(child["links"][0]["spanId"], server["spanId"]);
  std::map<std::string, json> attributes;
  for (const json& kv : server["attributes"]) attributes[kv["key"]] = kv["value"];
  EXPECT_EQ(attributes["http.response.status_code"], json::parse(R"({"intValue":"200"})"));
  EXPECT_EQ(attributes["ratio"], json::parse(R"({"doubleValue":0.5})"));
  EXPECT_EQ(attributes["ok"], json::parse(R"({"boolValue":true})"));
  EXPECT_EQ(attributes["unicode"], json::parse("{\"stringValue\":\"caf\xC3\xA9\"}"));
  EXPECT_EQ(attributes["tags"]["arrayValue"]["values"][1]["stringValue"], "b");
  EXPECT_EQ(attributes["ids"]["arrayValue"]["values"][2]["intValue"], "3");
  const uint64_t start = std::stoull(server["startTimeUnixNano"].get<std::string>());
  const uint64_t end = std::stoull(server["endTimeUnixNano"].get<std::string>());
  EXPECT_GT(start, 1'600'000'000'000'000'000u);
  EXPECT_GE(end, start);
#endif
}

}  // namespace
}  // namespace stampede::otel
