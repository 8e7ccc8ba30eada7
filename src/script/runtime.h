// The LuaJIT scripting layer: one lua_State per worker thread, one coroutine
// per virtual user. A blocking API call (http.*, sleep) follows the
// lua-nginx-module pattern: validate the arguments, start the operation,
// record it as the VU's pending operation (with its cleanup), and yield; the
// event loop resumes the coroutine with the result. User Lua is never called
// from a C function that may yield (check() and group() are written in Lua).
//
// script/ knows HTTP (it drives http::Client) but not metrics or OTel: what a
// VU does is reported through ScriptHost, which the engine implements.
// Thread: a Runtime and its Vus belong to one worker thread.
#pragma once

#include <nlohmann/json.hpp>

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "http/client.h"
#include "http/request_writer.h"
#include "http/response_parser.h"
#include "loop/event_loop.h"
#include "otel/trace_context.h"
#include "script/execution.h"
#include "script/response_callback.h"

struct lua_State;

namespace stampede::net {
class Resolver;
class TlsContext;
}  // namespace stampede::net

namespace stampede::script {

class Runtime;
class Vu;

// What the engine learns from the scripts. Called on the worker thread.
class ScriptHost {
 public:
  virtual ~ScriptHost() = default;
  // One HTTP request finished (each redirect hop is one request). `tags` are
  // the request's tags (name, method, status, error_code, group, scenario,
  // expected_response when judged, and the user's), valid during the call
  // only. `verdict`: the request's response callback on its status (k6's
  // expectedStatuses; default 200–399) — it feeds http_req_failed, which gets
  // no sample when kUnjudged.
  struct Tag {
    std::string_view key;
    std::string_view value;
  };
  // The request's place in its trace, for the span the host may record.
  struct RequestTrace {
    otel::TraceId trace_id;
    otel::SpanId span_id;         // its CLIENT span (the traceparent's parent id)
    otel::SpanId parent_span_id;  // the iteration span; zero for a root
    uint8_t flags = 0;
    std::string_view method;
    std::string_view url_full;    // redacted
    std::string_view server_address;
    uint16_t server_port = 0;
    std::string_view name;        // params.name, or empty
  };
  virtual void OnRequest(Vu& vu, const http::Exchange& ex, const std::vector<Tag>& tags,
                         ResponseVerdict verdict, const RequestTrace& trace) = 0;
  // check(): one check evaluated.
  virtual void OnCheck(Vu& vu, std::string_view name, bool passed,
                       const std::vector<Tag>& tags) = 0;
  // A group() or trace.span() span ended (`error`: empty, or why it failed).
  struct SpanEnd {
    otel::TraceId trace_id;
    otel::SpanId span_id;
    otel::SpanId parent_span_id;
    std::string_view name;
    int64_t start_ns = 0;
    int64_t end_ns = 0;
    std::string_view error;
  };
  virtual void OnSpanEnd(Vu& vu, const SpanEnd& span) {}
  // group() left, normally or by an error: `duration_ns` spent inside it;
  // `tags`: group (the group's own path, "::outer::inner"), scenario and the
  // scenario's tags. For k6's group_duration.
  virtual void OnGroupEnd(Vu& vu, int64_t duration_ns, const std::vector<Tag>& tags) {}
  // A custom metric's :add(value [, tags]) while a VU runs. `metric` is the
  // id RuntimeOptions::define_metric returned; `value` is what to record:
  // nanoseconds for a time trend (the script adds milliseconds), 1 or 0 for a
  // rate. `tags`: group, scenario, the scenario's tags, then the call's tags
  // (a key given twice: the later wins). Valid during the call only.
  virtual void OnMetric(Vu& vu, uint32_t metric, double value, const std::vector<Tag>& tags) {}
  // stampede.ws (WebSockets, k6's ws_* metrics). One sample of `metric`:
  // kConnecting and kSessionDuration in nanoseconds (time trends), kPing in
  // nanoseconds (ping sent → pong received), the counters 1 per session or
  // message (kDataSent/kDataReceived: the session's bytes, into k6's
  // data_sent/data_received). `tags`: url, status (the handshake's, "101" on success),
  // group, scenario, the scenario's and the VU's tags, then params.tags.
  // Valid during the call only.
  enum class WsMetric : uint8_t {
    kConnecting,
    kSessionDuration,
    kSessions,
    kMsgsSent,
    kMsgsReceived,
    kPing,
    kDataSent,      // bytes on the wire (handshake and frames), at the end
    kDataReceived,
  };
  // The metric of each WsMetric, in its order (hosts look their ids up).
  static constexpr std::array<const char*, 8> kWsMetricNames = {
      "ws_connecting",    "ws_session_duration", "ws_sessions", "ws_msgs_sent",
      "ws_msgs_received", "ws_ping",             "data_sent",   "data_received"};
  virtual void OnWsMetric(Vu& vu, WsMetric metric, double value, const std::vector<Tag>& tags) {}
  // A WebSocket session ended (closed by either side, failed, or its VU was
  // interrupted): the span the host may record. Its trace id and span id are
  // the ones of the handshake's traceparent. Views valid during the call.
  struct WsMessageEvent {
    int64_t time_ns = 0;  // monotonic (loop clock)
    bool sent = false;    // sent by the script, else received
    bool binary = false;
    uint64_t size = 0;    // payload bytes
  };
  struct WsSessionEnd {
    otel::TraceId trace_id;
    otel::SpanId span_id;
    otel::SpanId parent_span_id;  // the iteration/group span; zero for a root
    uint8_t flags = 0;
    std::string_view url_full;    // redacted
    std::string_view path;        // the URL's path, for the span name
    std::string_view server_address;
    uint16_t server_port = 0;
    int status = 0;               // the handshake's HTTP status (0: none)
    int64_t start_ns = 0;         // monotonic: connect called / session over
    int64_t end_ns = 0;
    uint16_t close_code = 0;      // 0: never opened
    std::string_view error;       // empty: no error
    uint64_t msgs_sent = 0;
    uint64_t msgs_received = 0;
    // The first messages as events (at most kMaxWsSpanEvents); the others
    // are counted in dropped_events.
    std::span<const WsMessageEvent> events;
    uint32_t dropped_events = 0;
  };
  static constexpr size_t kMaxWsSpanEvents = 128;
  virtual void OnWsSessionEnd(Vu& vu, const WsSessionEnd& session) {}
  // An iteration ended: `error` is empty on success, else the script error
  // with file:line. `interrupted` when the engine cancelled it.
  virtual void OnIterationEnd(Vu& vu, int64_t started_ns, std::string_view error) = 0;
};

// A custom metric created by the script at init (require("stampede.metrics")),
// k6's four metric types.
enum class MetricKind { kCounter, kGauge, kRate, kTrend };
struct MetricDefinition {
  std::string_view name;
  MetricKind kind = MetricKind::kCounter;
  bool is_time = false;  // a trend of times (milliseconds in Lua)
};
// Called at init for every metric constructor call: returns the id the host
// knows the metric by (OnMetric), or sets `*error` to one line saying why the
// metric cannot be created (the constructor then raises it as a Lua error).
// Same name and type twice: the same id. Called on the runtime's thread.
using MetricDefiner = std::function<uint32_t(const MetricDefinition&, std::string* error)>;

struct RuntimeOptions {
  std::string script_path;   // for messages and relative open()
  std::string source;        // the script text
  std::vector<std::pair<std::string, std::string>> env;  // ENV: environment + -e
  bool discard_response_bodies = false;
  std::optional<std::string> user_agent;  // unset: stampede/<version>; "": none
  size_t max_body_bytes = 16 * 1024 * 1024;  // kept response bodies are cut here
  uint64_t seed = 0;         // base seed for per-VU random generators
  // Trace context written on every request (a `traceparent` or `baggage`
  // header set by the script wins over ours).
  otel::Propagators propagators;
  otel::Sampler sampler;
  std::string baggage;       // e.g. "stampede.run.id=..."; empty: none
  bool trace_root_request = false;  // each request its own trace (Locust-style)
  // The run's tag at the start of every trace id (otel::RunTraceTag); 0: none.
  uint32_t run_tag = 0;
  // k6's noConnectionReuse: requests carry `Connection: close` (unless the
  // script sets a Connection header); the client itself does not reuse.
  bool no_connection_reuse = false;
  // k6's noVUConnectionReuse: a VU's requests use connections of their own
  // iteration only; those are closed when the iteration ends.
  bool no_vu_connection_reuse = false;
  // Requests to http:// origins speak HTTP/2 without negotiation (h2c prior
  // knowledge) unless their params say otherwise (params.http2PriorKnowledge).
  bool http2_prior_knowledge = false;
  // k6's batch / batchPerHost: the most requests of one http.batch() in
  // flight at once, in total and per origin; 0: no limit.
  uint32_t batch = 20;
  uint32_t batch_per_host = 6;
  // Custom metrics; empty: ids are the order of creation (0, 1, ...).
  MetricDefiner define_metric;
  // The run's execution state (stampede.execution), shared by every
  // runtime of the run; null: the module answers from this runtime alone.
  std::shared_ptr<Execution> execution;
  // This runtime's worker index for Execution's counters; -1: the main
  // thread's runtime (init, setup, teardown), whose VUs are not counted.
  int worker_index = -1;
};

// A Lua error at init time (syntax error, runtime error in the top level):
// one line with file:line. The CLI maps it to exit code 107, or to 108 when
// the script called execution.test.abort() (Execution::aborted()).
class ScriptError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Runtime {
 public:
  // Creates the Lua state and runs the script's top level (init). Throws
  // ScriptError for syntax or init errors. `loop` and `client` must outlive
  // the runtime; `host` may be set later but before any VU runs.
  Runtime(const RuntimeOptions& options, loop::EventLoop& loop, http::Client& client);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  void set_host(ScriptHost* host) { host_ = host; }

  // What stampede.ws connects with: the worker's resolver and TLS context
  // (null: ws.connect raises an error saying WebSockets are not available
  // there; null tls: wss:// fails), and the run's timeouts (connect: DNS +
  // TCP + TLS; request: until the handshake's response). The resolver and
  // context must outlive the runtime. Set before any VU runs.
  struct Network {
    net::Resolver* resolver = nullptr;
    net::TlsContext* tls = nullptr;
    int64_t connect_timeout_ns = 10'000'000'000;
    int64_t request_timeout_ns = 60'000'000'000;
  };
  void set_network(const Network& network) { network_ = network; }
  const Network& network() const { return network_; }

  // The script's `options` global converted to JSON (null when absent).
  // Throws ScriptError when it holds something JSON cannot express.
  nlohmann::json Options() const;
  // Whether the script defines a global function `name`.
  bool HasFunction(std::string_view name) const;

  // Creates a VU (its coroutine is made lazily). Owned by the runtime.
  // `scenario_tags` and `scenario_env` (optional) are the scenario's, shared by
  // its VUs: they must outlive the VU.
  using Pairs = std::vector<std::pair<std::string, std::string>>;
  Vu& NewVu(uint64_t id, std::string scenario, std::string exec, const Pairs* scenario_tags = nullptr,
            const Pairs* scenario_env = nullptr);

  // The data returned by setup(), as JSON; set on every worker before VUs
  // start. Passed to every call of the exec function and teardown.
  void SetSetupData(const nlohmann::json& data);

  // Runs setup() / teardown(data) in a VU of their own, driving the loop until
  // it ends or `timeout_ns` passes. Returns the JSON-serialised result of
  // setup (null when absent). Throws ScriptError on error or timeout.
  nlohmann::json RunSetup(int64_t timeout_ns);
  void RunTeardown(int64_t timeout_ns);

  lua_State* state() const { return L_; }
  loop::EventLoop& loop() { return loop_; }
  http::Client& client() { return client_; }
  ScriptHost* host() const { return host_; }
  const RuntimeOptions& options() const { return options_; }
  // Takes the fields of `o` that the script's own `options` decide
  // (discard_response_bodies, user_agent, no_connection_reuse,
  // no_vu_connection_reuse, batch, batch_per_host): the main thread's runtime
  // runs init before those are known, then setup() and teardown() with them.
  // Call while no VU runs.
  void ApplyScriptOptions(const RuntimeOptions& o);
  // A key no other iteration of this runtime has had (never 0), for
  // http::Exchange::pool_key under noVUConnectionReuse.
  uint64_t NewPoolKey() { return ++pool_keys_; }

  // Internal (bindings): the VU that owns the running coroutine `co`.
  Vu* VuFor(lua_State* co) const;
  void Register(lua_State* co, Vu* vu) {
    vus_by_thread_[co] = vu;
    last_thread_ = nullptr;
  }
  void Unregister(lua_State* co) {
    vus_by_thread_.erase(co);
    last_thread_ = nullptr;
  }
  // Parsed URL + origin, cached by the URL text (no allocation on a hit).
  struct Target {
    http::Url url;
    http::Origin* origin = nullptr;
    std::string redacted;
    std::string host_header;
  };
  // Shared: a request keeps its target alive while the bounded cache below
  // may drop it (a script that makes every URL unique churns the cache).
  using TargetRef = std::shared_ptr<const Target>;
  // The cached target of `url`, parsed on first use; nullptr (and `error`)
  // when the URL is invalid. The pointer is valid until the next call.
  const TargetRef* FindTarget(std::string_view url, std::string* error);
  const http::RequestWriter& writer() const { return writer_; }
  otel::IdGenerator& ids() { return ids_; }
  int setup_data_ref() const { return setup_data_ref_; }
  // Internal (bindings): registry ref of the prelude's response constructor.
  int response_ctor_ref() const { return response_ctor_ref_; }
  void set_response_ctor_ref(int ref) { response_ctor_ref_ = ref; }
  // Changes whenever ApplyScriptOptions may change how requests are written
  // (user agent, Connection: close): requests serialised before are stale.
  uint64_t options_generation() const { return options_generation_; }
  bool in_init() const { return in_init_; }
  // http.setResponseCallback() at init: the callback every VU starts with
  // (a VU copies it when created, after init).
  ResponseCallback& init_response_callback() { return init_response_callback_; }
  std::string ReadFileForOpen(std::string_view path, std::string* error);
  // `path` as open() and stampede.data read it: relative to the script's
  // directory unless absolute.
  std::string ResolveScriptPath(std::string_view path) const;
  // Custom metrics created at init, by creation order (a name once).
  struct CustomMetric {
    std::string name;
    MetricKind kind = MetricKind::kCounter;
    bool is_time = false;
    uint32_t host_id = 0;  // what define_metric returned
  };
  const std::vector<CustomMetric>& custom_metrics() const { return custom_metrics_; }
  // Creates (or finds) a custom metric: its index in custom_metrics(), or -1
  // with `*error` set.
  int DefineMetric(const MetricDefinition& def, std::string* error);

 private:
  nlohmann::json RunLifecycle(const char* name, bool pass_data, int64_t timeout_ns);

  RuntimeOptions options_;
  loop::EventLoop& loop_;
  http::Client& client_;
  ScriptHost* host_ = nullptr;
  Network network_;
  lua_State* L_ = nullptr;
  http::RequestWriter writer_;
  otel::IdGenerator ids_;
  std::vector<std::unique_ptr<Vu>> vus_;
  std::unordered_map<lua_State*, Vu*> vus_by_thread_;  // cold: registration
  // One-entry cache of VuFor: API calls come in runs from one coroutine.
  mutable lua_State* last_thread_ = nullptr;
  mutable Vu* last_vu_ = nullptr;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, TargetRef, StringHash, std::equal_to<>> targets_;
  std::unordered_map<std::string, std::string> open_cache_;
  std::vector<CustomMetric> custom_metrics_;
  int setup_data_ref_ = -2;  // LUA_NOREF
  int response_ctor_ref_ = -2;
  uint64_t options_generation_ = 0;
  uint64_t pool_keys_ = 0;
  bool in_init_ = true;
  ResponseCallback init_response_callback_ = ResponseCallback::Default();
};

}  // namespace stampede::script
