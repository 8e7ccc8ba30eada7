// The live dashboard (`stampede run --ui`): a listener on http::Server that
// serves the embedded page (src/ui/web/ + uPlot), the run's description, a
// server-sent-events stream of ticks (dashboard_model.h) and a control
// endpoint. The runner feeds it (engine/dashboard_wiring.h); it keeps no
// aggregation of its own, only the ticks it was given.
//
// HTTP contract (the page, src/ui/web/app.js, relies on it exactly):
//   GET /, /app.js, /app.css, /trace_view.js, /trace_view.css (the report's
//       trace view), /uplot.min.js, /uplot.min.css   the embedded assets
//   GET /api/run      the run's description (DashboardOptions::run_info) plus
//                     "token_required"; never a secret
//   GET /api/stream   text/event-stream: "retry: 2000", then `event: history`
//                     with data [tick, ...] (every kept tick, at most
//                     history_limit), then one `event: tick` per Publish, and
//                     `event: end` data {"outcome","exit_code"} from End().
//                     Comment heartbeats ": ping" (Heartbeat()). A client that
//                     falls more than max_pending_bytes behind is dropped and
//                     counted (clients_dropped()).
//   POST /api/control body {"action": "pause"|"resume"|"stop"|"set_vus"|
//                     "set_rate", "scenario"?, "value"?}. Checked in this
//                     order: the token when token_required (header
//                     `Authorization: Bearer T` or `X-Stampede-Token: T`;
//                     401), an `Origin` header, when present, must be the
//                     dashboard's own origin (403: no other web page may
//                     steer it, even on loopback), `Content-Type:
//                     application/json` (415), a JSON object with a known
//                     action (400), the run not ended (409); then
//                     DashboardControl::OnControl decides (200 {"ok":true},
//                     or its status and error, e.g. 501).
//   GET /api/exemplars?from=MS&to=MS   the slowest sampled requests that ended
//                     in (from, to] (unix ms; the page sends a latency
//                     point's tick interval): DashboardControl::Exemplars'
//                     JSON; 400 for a missing or bad bound
//   GET /api/trace/ID[?span=SPAN]     one trace's waterfall (ID: 32 hex
//                     digits, SPAN: 16; the request span to describe):
//                     DashboardControl::Trace's status and JSON
//   Anything else: 404 / 405. Errors are JSON {"error": "one line"}.
// Every response of the dashboard carries a strict Content-Security-Policy
// (kContentSecurityPolicy), X-Content-Type-Options: nosniff and
// Cache-Control: no-store.
//
// Threads: construct, Publish, Heartbeat, End, MarkEnded and Stop from one
// owner thread (the runner's main thread). Request handlers, and therefore
// DashboardControl::OnControl, run on the server's thread. Publish never
// blocks on a client: writes are queued to each stream (bounded) and the
// server thread sends them; one mutex guards the history and the subscriber
// list, held only to copy and queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/server.h"

namespace stampede::ui {

inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

// One accepted control request, as OnControl sees it.
struct ControlRequest {
  std::string action;        // "pause", "resume", "stop", "set_vus", "set_rate"
  std::string scenario;      // "" when not given
  nlohmann::json value;      // null when not given
  std::string peer;          // the client's address
};

struct ControlResult {
  int status = 200;   // 200: {"ok":true}; otherwise {"error": error}
  std::string error;
};

// Implemented by the runner. Called on the server thread; must be quick and
// must not call back into the Dashboard.
class DashboardControl {
 public:
  virtual ~DashboardControl() = default;
  virtual ControlResult OnControl(const ControlRequest& request) = 0;
  // GET /api/exemplars: {"available": bool, "requests": [...]} (200).
  virtual nlohmann::json Exemplars(int64_t from_unix_ms, int64_t to_unix_ms);
  // GET /api/trace/ID: 200 with `out`, or the status and error of `result`.
  virtual ControlResult Trace(std::string_view trace_id, std::string_view span_id,
                              nlohmann::json& out);
};

struct DashboardOptions {
  std::string address = "127.0.0.1:5665";  // HOST:PORT; port 0 picks one
  std::string option_name = "--ui";        // for error messages
  // The control token. Empty: a random 128-bit hex token is made.
  std::string token;
  // Whether control requests need the token. Unset: required unless the
  // bound address is loopback (127.0.0.0/8, ::1, localhost).
  std::optional<bool> token_required;
  nlohmann::json run_info = nlohmann::json::object();  // /api/run, secrets excluded
  size_t history_limit = 3600;                          // ticks kept for late joiners
  size_t max_pending_bytes = 1 << 20;                   // per client, beyond its history
  size_t max_connections = 64;
  // How long Stop() lets open streams send what they hold (the end event).
  std::chrono::milliseconds drain_timeout{1000};
};

class Dashboard {
 public:
  // Binds and starts serving. Throws core::ConfigError (one line naming
  // the option) when the address is bad or busy. `control` may be null
  // (control requests then get 501) and must outlive this.
  Dashboard(DashboardOptions options, DashboardControl* control);
  ~Dashboard();  // Stop()
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // "http://127.0.0.1:5665/" (the bound address).
  std::string url() const;
  uint16_t port() const { return server_->port(); }
  const std::string& token() const { return token_; }
  bool token_required() const { return token_required_; }
  bool loopback() const { return loopback_; }

  // Appends a tick to the history (the oldest dropped beyond the limit) and
  // sends it to every client; a client whose write fails is dropped.
  void Publish(const nlohmann::json& tick);
  // Sends ": ping" to every client (keeps proxies and the idle timeout away).
  void Heartbeat();
  // Control requests get 409 from now on.
  void MarkEnded() { ended_.store(true, std::memory_order_release); }
  bool ended() const { return ended_.load(std::memory_order_acquire); }
  // Sends `event: end` (and keeps it for clients that join later); MarkEnded().
  void End(const nlohmann::json& end_event);
  // Ends every stream (what is queued is sent first, for at most
  // drain_timeout), then closes the listener. Idempotent.
  void Stop();

  // Stream clients ever subscribed / dropped for being too slow (any thread).
  uint64_t clients() const { return clients_.load(std::memory_order_relaxed); }
  uint64_t clients_dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  http::ServerResponse Handle(const http::ServerRequest& req);
  http::ServerResponse Stream();
  http::ServerResponse Control(const http::ServerRequest& req);
  http::ServerResponse ExemplarsAt(const http::ServerRequest& req);
  http::ServerResponse TraceAt(const http::ServerRequest& req);
  bool OriginAllowed(std::string_view origin, const http::ServerRequest& req) const;
  // Writes `data` to every subscriber; drops (and counts) those that fail.
  void Broadcast(const std::string& data);  // mu_ held

  DashboardOptions options_;
  DashboardControl* control_;
  std::string token_;
  bool token_required_ = false;
  bool loopback_ = false;
  std::string run_json_;
  std::atomic<bool> ended_{false};
  std::atomic<uint64_t> clients_{0};
  std::atomic<uint64_t> dropped_{0};

  std::mutex mu_;
  // Serialized ticks for late joiners. Every tick but the newest is kept
  // without its per-name table and steering log (the page draws its charts
  // from the history and its tables from the newest tick), so an hour of
  // history stays small however many names a run has; newest_ is whole.
  std::deque<std::string> history_;
  size_t history_bytes_ = 0;
  std::string newest_;
  std::optional<std::string> end_event_;  // serialized
  std::vector<std::shared_ptr<http::ResponseStream>> subscribers_;

  std::unique_ptr<http::Server> server_;  // last: its thread uses the members above
};

// Whether a host is loopback: http::IsLoopbackHost (http/server.h).
// 32 lowercase hex digits from the system's random source.
std::string RandomToken();

}  // namespace stampede::ui
