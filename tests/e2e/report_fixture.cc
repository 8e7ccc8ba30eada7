// report_fixture: writes a synthetic run store with store::RunStore, for
// `stampede report`'s browser test and its size/speed budget.
//
//   report_fixture OUT.db [--seconds 30] [--rps 40] [--max-vus 50]
//                         [--service-name shop] [--service-spans 2] [--seed 1]
//                         [--no-finish]
//
// The run ramps VUs from 1 to --max-vus while http_req_duration grows past a
// knee at 60 % of them; requests go to a few names — one of them hostile
// (`<script>alert(1)</script>`) — with some 500s, 404s and refused
// connections. Every request is a CLIENT span as engine/request_spans.cc
// writes it (attributes, phase children for new connections), and the
// service (--service-name) answers with a SERVER span child plus
// --service-spans INTERNAL children (one with a hostile name), sent as the
// built-in receiver would. Metrics go in as the cumulative snapshot each
// second, so every stored figure comes through the real RunStore.
// --no-finish leaves the run as a killed one (no end, no exit code).
//
// Prints one JSON line: {"db", "names", "service", "requests", "spans"}.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "metrics/registry.h"
#include "metrics/shard.h"
#include "metrics/snapshot.h"
#include "metrics/threshold.h"
#include "otel/otlp_encoder.h"
#include "otel/proto_writer.h"
#include "otel/span.h"
#include "otel/trace_context.h"
#include "store/run_store.h"

namespace {

using stampede::otel::AnyValue;
using stampede::otel::KeyValue;
namespace mb = stampede::metrics::builtin;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kStartUnixNs = 1'767'225'600LL * kSec;  // 2026-01-01T00:00:00Z

const char* const kHostileName = "<script>alert(1)</script>";
const char* const kHostileSpan = "<img src=x onerror=alert(2)><script>alert(3)</script>";

struct Args {
  std::string out;
  int seconds = 30;
  int rps = 40;
  int max_vus = 50;
  std::string service = "shop";
  int service_spans = 2;
  uint64_t seed = 1;
  bool finish = true;
};

[[noreturn]] void Usage(const char* why) {
  std::fprintf(stderr,
               "report_fixture: %s\nusage: report_fixture OUT.db [--seconds N] [--rps N] "
               "[--max-vus N] [--service-name S] [--service-spans N] [--seed N] [--no-finish]\n",
               why);
  std::exit(2);
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage("missing value");
      return argv[++i];
    };
    if (arg == "--seconds") {
      a.seconds = std::atoi(value().c_str());
    } else if (arg == "--rps") {
      a.rps = std::atoi(value().c_str());
    } else if (arg == "--max-vus") {
      a.max_vus = std::atoi(value().c_str());
    } else if (arg == "--service-name") {
      a.service = value();
    } else if (arg == "--service-spans") {
      a.service_spans = std::atoi(value().c_str());
    } else if (arg == "--seed") {
      a.seed = std::strtoull(value().c_str(), nullptr, 10);
    } else if (arg == "--no-finish") {
      a.finish = false;
    } else if (!arg.empty() && arg[0] != '-' && a.out.empty()) {
      a.out = std::string(arg);
    } else {
      Usage("unknown argument");
    }
  }
  if (a.out.empty()) Usage("missing OUT.db");
  if (a.seconds < 1 || a.rps < 1 || a.max_vus < 1) Usage("counts must be positive");
  return a;
}

// A batch of encoded spans from one producer (resource), sent as one
// ExportTraceServiceRequest.
class Batch {
 public:
  explicit Batch(std::string service) : service_(std::move(service)) {}
  void Add(const stampede::otel::SpanData& span) { stampede::otel::EncodeSpan(span, spans_); }
  bool empty() const { return spans_.empty(); }
  std::string Take(std::string_view scope) {
    const KeyValue resource[] = {{"service.name", AnyValue::String(service_)},
                                 {"host.name", AnyValue::String("fixture-host")}};
    stampede::otel::ExportRequestHeader header;
    header.resource_attributes = resource;
    header.scope_name = scope;
    std::string_view chunk = spans_.view();
    stampede::otel::ProtoWriter out;
    stampede::otel::EncodeExportTraceRequest(header, std::span(&chunk, 1), out);
    spans_.Clear();
    return std::string(out.view());
  }

 private:
  std::string service_;
  stampede::otel::ProtoWriter spans_;
};

struct Request {
  std::string name, method, path;
  int status = 200;
  std::string error;  // transport error name; "" for a response
  int64_t start_ns = 0;
  int64_t blocked = 0, dns = 0, connect = 0, sending = 0, waiting = 0, receiving = 0;
  int64_t total() const { return blocked + dns + connect + sending + waiting + receiving; }
};

}  // namespace

int main(int argc, char** argv) {
  const Args args = Parse(argc, argv);
  std::mt19937_64 rng(args.seed);
  std::uniform_real_distribution<double> uni(0, 1);
  stampede::otel::IdGenerator ids(args.seed);

  stampede::metrics::Registry registry = stampede::metrics::Registry::WithBuiltins();
  registry.Define("http_req_looking_up", stampede::metrics::MetricType::kTrend,
                  stampede::metrics::ValueType::kTime);
  const auto spans_dropped =
      registry.DefineInternal("spans_dropped", stampede::metrics::MetricType::kCounter,
                              stampede::metrics::ValueType::kDefault);
  const auto looking_up = *registry.Find("http_req_looking_up");
  stampede::metrics::Shard shard(registry);

  const nlohmann::json thresholds_json = {
      {"http_req_duration", {"p(95)<300", "p(99)<2000"}},
      {"http_req_failed", {"rate<0.01"}},
      {"checks", {"rate>0.9"}},
  };
  stampede::metrics::ThresholdSet thresholds =
      stampede::metrics::ThresholdSet::FromJson(thresholds_json, &registry);

  stampede::store::StoreOptions options;
  options.path = args.out;
  options.max_request_spans_per_second = 1'000'000;
  options.max_service_spans_per_second = 10'000'000;
  options.max_queued_bytes = size_t{4} << 30;
  stampede::store::RunInfo info;
  info.run_id = "fixture-" + std::to_string(args.seed);
  info.stampede_version = "0.1.0";
  info.host = "fixture-host";
  info.command_line = "stampede run --out store=" + args.out + " examples/shop.lua";
  info.script_path = std::string("examples/") + kHostileName + ".lua";
  info.script_sha256 = std::string(64, '0');
  info.script_source = "-- fixture";
  info.options_json = R"({"scenarios":{"default":{"executor":"ramping-vus"}}})";
  info.thresholds_json = thresholds_json.dump();
  info.start_unix_ns = kStartUnixNs;
  auto store = std::make_unique<stampede::store::RunStore>(options, info);

  const std::vector<std::string> names = {"/api/products", "/api/products/{id}", "/api/cart",
                                          "/api/checkout", kHostileName};
  const char* const methods[] = {"GET", "GET", "POST", "POST", "GET"};
  const char* const paths[] = {"/api/products", "/api/products/42", "/api/cart", "/api/checkout",
                               "/x?q=\"><script>alert(4)</script>"};

  uint64_t requests = 0, spans = 0;
  const stampede::metrics::TagSetId check_ok =
      shard.Intern({{"check", "status is 2xx"}, {"group", ""}});
  const stampede::metrics::TagSetId check_hostile =
      shard.Intern({{"check", std::string("body has no ") + kHostileName}, {"group", "::shop"}});
  for (int s = 0; s < args.seconds; ++s) {
    const double ramp = args.seconds == 1 ? 1.0 : static_cast<double>(s) / (args.seconds - 1);
    const int vus = 1 + static_cast<int>(ramp * (args.max_vus - 1) + 0.5);
    const double knee = 0.6 * args.max_vus;
    const double over = vus > knee ? (vus - knee) / args.max_vus : 0;
    shard.Add(mb::kVus, stampede::metrics::Shard::kNoTags, vus);
    shard.Add(mb::kVusMax, stampede::metrics::Shard::kNoTags, args.max_vus);
    if (over > 0.2) shard.Add(mb::kDroppedIterations, stampede::metrics::Shard::kNoTags, 1 + s % 3);
    if (s % 7 == 3) shard.Add(spans_dropped, stampede::metrics::Shard::kNoTags, 2);

    Batch client("stampede");
    Batch service(args.service);
    const int count = args.rps;
    for (int i = 0; i < count; ++i) {
      const size_t which = static_cast<size_t>(rng() % names.size());
      Request r;
      r.name = names[which];
      r.method = methods[which];
      r.path = paths[which];
      r.start_ns = kStartUnixNs + s * kSec + static_cast<int64_t>(i) * kSec / count;
      const bool new_conn = uni(rng) < 0.05;
      if (new_conn) {
        r.dns = static_cast<int64_t>((0.2 + uni(rng)) * kMs);
        r.connect = static_cast<int64_t>((0.1 + uni(rng) * 0.5) * kMs);
      }
      if (over > 0 && uni(rng) < over) r.blocked = static_cast<int64_t>(uni(rng) * 40 * over * kMs);
      const double p = uni(rng);
      if (p < 0.01) {
        r.error = "refused";
        r.status = 0;
      } else if (p < 0.04) {
        r.status = 500;
      } else if (p < 0.05) {
        r.status = 404;
      }
      r.sending = static_cast<int64_t>((0.02 + uni(rng) * 0.05) * kMs);
      double wait_ms = 8 + uni(rng) * 10 + over * 900 * (0.5 + uni(rng));
      if (uni(rng) < 0.002) wait_ms += 1500;  // a rare outlier
      if (!r.error.empty()) wait_ms = 0;
      r.waiting = static_cast<int64_t>(wait_ms * kMs);
      r.receiving = r.error.empty() ? static_cast<int64_t>((0.05 + uni(rng) * 0.3) * kMs) : 0;

      // Metrics as engine/request_recorder.cc records them.
      const bool failed = !r.error.empty() || r.status >= 400;
      const std::string status = std::to_string(r.status);
      stampede::metrics::TagSetId tags =
          r.error.empty() ? shard.Intern({{"name", r.name},
                                          {"method", r.method},
                                          {"status", status},
                                          {"expected_response", failed ? "false" : "true"}})
                          : shard.Intern({{"name", r.name},
                                          {"method", r.method},
                                          {"status", status},
                                          {"error_code", r.error},
                                          {"expected_response", "false"}});
      const double duration_ns = static_cast<double>(r.sending + r.waiting + r.receiving);
      shard.Add(mb::kHttpReqs, tags, 1);
      shard.Add(mb::kHttpReqDuration, tags, duration_ns);
      shard.Add(mb::kHttpReqBlocked, tags, static_cast<double>(r.blocked));
      shard.Add(mb::kHttpReqConnecting, tags, static_cast<double>(r.connect));
      shard.Add(mb::kHttpReqTlsHandshaking, tags, 0);
      shard.Add(mb::kHttpReqSending, tags, static_cast<double>(r.sending));
      shard.Add(mb::kHttpReqWaiting, tags, static_cast<double>(r.waiting));
      shard.Add(mb::kHttpReqReceiving, tags, static_cast<double>(r.receiving));
      shard.Add(looking_up, tags, static_cast<double>(r.dns));
      shard.Add(mb::kHttpReqFailed, tags, failed ? 1 : 0);
      shard.Add(mb::kDataSent, tags, 180);
      shard.Add(mb::kDataReceived, tags, r.error.empty() ? 2400 : 0);
      shard.Add(mb::kIterations, stampede::metrics::Shard::kNoTags, 1);
      shard.Add(mb::kIterationDuration, stampede::metrics::Shard::kNoTags,
                static_cast<double>(r.total()));
      shard.Add(mb::kChecks, check_ok, failed ? 0 : 1);
      if (which == 4) shard.Add(mb::kChecks, check_hostile, 1);
      ++requests;

      // The CLIENT span and its phase children (engine/request_spans.cc).
      const stampede::otel::TraceId trace_id = ids.NewTraceId();
      const stampede::otel::SpanId span_id = ids.NewSpanId();
      const std::string url = "http://127.0.0.1:3000" + r.path;
      std::vector<KeyValue> attrs = {
          {"http.request.method", AnyValue::String(r.method)},
          {"url.full", AnyValue::String(url)},
          {"server.address", AnyValue::String("127.0.0.1")},
          {"server.port", AnyValue::Int(3000)},
      };
      std::string error_type = !r.error.empty() ? r.error : (r.status >= 400 ? status : "");
      if (r.status > 0) attrs.push_back({"http.response.status_code", AnyValue::Int(r.status)});
      if (!error_type.empty()) attrs.push_back({"error.type", AnyValue::String(error_type)});
      attrs.push_back(
          {"stampede.http_req_duration_ns", AnyValue::Int(static_cast<int64_t>(duration_ns))});
      if (r.blocked > 0)
        attrs.push_back({"stampede.http_req_blocked_ns", AnyValue::Int(r.blocked)});
      if (r.dns > 0) attrs.push_back({"stampede.http_req_looking_up_ns", AnyValue::Int(r.dns)});
      if (r.connect > 0) {
        attrs.push_back({"stampede.http_req_connecting_ns", AnyValue::Int(r.connect)});
      }
      attrs.push_back({"stampede.http_req_sending_ns", AnyValue::Int(r.sending)});
      attrs.push_back({"stampede.http_req_waiting_ns", AnyValue::Int(r.waiting)});
      attrs.push_back({"stampede.http_req_receiving_ns", AnyValue::Int(r.receiving)});
      attrs.push_back({"stampede.vu", AnyValue::Int(1 + i % vus)});
      attrs.push_back({"stampede.request.name", AnyValue::String(r.name)});
      // A line separator and an end tag in a value: must stay inert text.
      attrs.push_back({"stampede.note", AnyValue::String("line\xE2\x80\xA8sep </script><b>x</b>")});
      const std::string span_name = r.method + " " + r.name;
      stampede::otel::SpanData span;
      span.trace_id = trace_id;
      span.span_id = span_id;
      span.flags = 1;
      span.name = span_name;
      span.kind = stampede::otel::SpanKind::kClient;
      span.start_unix_ns = r.start_ns;
      span.end_unix_ns = r.start_ns + r.total();
      span.attributes = attrs;
      stampede::otel::SpanEvent first_byte{
          r.start_ns + r.blocked + r.dns + r.connect + r.sending + r.waiting,
          "http.response.first_byte",
          {}};
      if (r.error.empty()) span.events = std::span(&first_byte, 1);
      span.status =
          failed ? stampede::otel::StatusCode::kError : stampede::otel::StatusCode::kUnset;
      if (!r.error.empty()) span.status_message = "connect: connection refused";
      client.Add(span);
      ++spans;
      auto child = [&](const std::string& name, int64_t from, int64_t to) {
        stampede::otel::SpanData c;
        c.trace_id = trace_id;
        c.span_id = ids.NewSpanId();
        c.parent_span_id = span_id;
        c.flags = 1;
        c.name = name;
        c.kind = stampede::otel::SpanKind::kInternal;
        c.start_unix_ns = from;
        c.end_unix_ns = to;
        client.Add(c);
        ++spans;
      };
      int64_t t = r.start_ns;
      if (r.blocked > 0) child("HTTP wait_for_connection", t, t + r.blocked);
      t += r.blocked;
      if (r.dns > 0) child("DNS lookup 127.0.0.1", t, t + r.dns);
      t += r.dns;
      if (r.connect > 0) child("socket connect 127.0.0.1:3000", t, t + r.connect);
      t += r.connect;

      // The service's side: SERVER span inside the client's wait, children inside it.
      if (!r.error.empty()) continue;
      const int64_t net = std::min<int64_t>(r.waiting / 10, static_cast<int64_t>(0.3 * kMs));
      const int64_t server_start = t + r.sending + net;
      const int64_t server_end = t + r.sending + r.waiting - net;
      const stampede::otel::SpanId server_id = ids.NewSpanId();
      const std::string route = r.method + " " + (which == 4 ? std::string(kHostileName) : r.path);
      std::vector<KeyValue> sattrs = {{"http.request.method", AnyValue::String(r.method)},
                                      {"http.route", AnyValue::String(r.path)},
                                      {"http.response.status_code", AnyValue::Int(r.status)}};
      stampede::otel::SpanData server;
      server.trace_id = trace_id;
      server.span_id = server_id;
      server.parent_span_id = span_id;
      server.flags = 1;
      server.name = route;
      server.kind = stampede::otel::SpanKind::kServer;
      server.start_unix_ns = server_start;
      server.end_unix_ns = server_end;
      server.attributes = sattrs;
      server.status =
          r.status >= 500 ? stampede::otel::StatusCode::kError : stampede::otel::StatusCode::kUnset;
      service.Add(server);
      ++spans;
      const int64_t inner = (server_end - server_start) / (args.service_spans + 1);
      for (int k = 0; k < args.service_spans; ++k) {
        const std::string inner_name =
            k == 0 ? (which == 4 ? std::string(kHostileSpan) : "SELECT products")
                   : "cache get " + std::to_string(k);
        const KeyValue iattrs[] = {{"db.system", AnyValue::String("sqlite")},
                                   {"db.statement", AnyValue::String(kHostileSpan)}};
        stampede::otel::SpanData in;
        in.trace_id = trace_id;
        in.span_id = ids.NewSpanId();
        in.parent_span_id = server_id;
        in.flags = 1;
        in.name = inner_name;
        in.kind = k == 0 ? stampede::otel::SpanKind::kClient : stampede::otel::SpanKind::kInternal;
        in.start_unix_ns = server_start + inner * k + inner / 4;
        in.end_unix_ns = server_start + inner * (k + 1);
        in.attributes = iattrs;
        service.Add(in);
        ++spans;
      }
    }
    if (!client.empty()) store->AddClientSpans(client.Take("stampede"));
    if (!service.empty())
      store->AddServiceSpans(service.Take("@opentelemetry/instrumentation-http"));
    const stampede::metrics::Shard* shards[] = {&shard};
    auto snapshot = std::make_shared<stampede::metrics::Snapshot>(
        stampede::metrics::Snapshot::Merge(registry, shards));
    snapshot->set_elapsed_ns((s + 1) * kSec);
    store->AddSnapshot(snapshot, kStartUnixNs + (s + 1) * kSec);
    // A real run hands over one second per second; this one runs faster, so
    // it waits for the store to keep up rather than have it drop inputs.
    while (static_cast<int64_t>(store->stats().seconds_written) + 4 < s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (s + 1 == args.seconds && args.finish) {
      thresholds.Evaluate(*snapshot, (s + 1) * kSec);
      stampede::store::RunEnd end;
      end.final_snapshot = snapshot.get();
      end.thresholds = &thresholds;
      end.end_unix_ns = kStartUnixNs + (s + 1) * kSec;
      end.exit_code = thresholds.AllPassed() ? 0 : 99;
      end.outcome = thresholds.AllPassed() ? "passed" : "thresholds_failed";
      end.summary_json = "{}";
      store->Finish(end, 600 * kSec);
    }
  }
  const stampede::store::StoreStats stats = store->stats();
  store.reset();  // --no-finish: closes without an end, as a killed run leaves it

  nlohmann::json out = {{"db", args.out},
                        {"names", names},
                        {"service", args.service},
                        {"requests", requests},
                        {"spans", spans},
                        {"client_spans_kept", stats.client_spans_kept},
                        {"service_spans_kept", stats.service_spans_kept},
                        {"dropped_inputs", stats.dropped_inputs}};
  std::printf("%s\n", out.dump().c_str());
  return 0;
}
