#include "ui/dashboard.h"

#include <sys/random.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/secret.h"
#include "ui/dashboard_model.h"
#include "ui_web_assets.h"

namespace stampede::ui {
namespace {

namespace assets = web_assets;

constexpr std::string_view kJson = "application/json";

void AddCommonHeaders(http::ServerResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kContentSecurityPolicy));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Cache-Control", "no-store");
}

http::ServerResponse Respond(int status, std::string_view content_type, std::string body) {
  http::ServerResponse r =
      http::ServerResponse::Text(status, std::string(content_type), std::move(body));
  AddCommonHeaders(r);
  return r;
}

http::ServerResponse JsonError(int status, std::string_view message) {
  return Respond(status, kJson, Serialize({{"error", message}}));
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}


std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string Event(std::string_view name, std::string_view data) {
  std::string e = "event: ";
  e += name;
  e += "\ndata: ";
  e += data;
  e += "\n\n";
  return e;
}

std::optional<int64_t> ParseMillis(std::optional<std::string_view> text) {
  if (!text || text->empty() || text->size() > 15) return std::nullopt;
  int64_t v = 0;
  for (char c : *text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

bool IsLowerHex(std::string_view s, size_t size) {
  return s.size() == size && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

nlohmann::json DashboardControl::Exemplars(int64_t, int64_t) {
  return {{"available", false}, {"requests", nlohmann::json::array()}};
}

ControlResult DashboardControl::Trace(std::string_view, std::string_view, nlohmann::json&) {
  return {404, "this run keeps no traces (the run store is off)"};
}

std::string RandomToken() {
  unsigned char bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n <= 0) throw core::ConfigError("--ui: cannot read random bytes for the control token");
    got += static_cast<size_t>(n);
  }
  std::string hex;
  for (unsigned char b : bytes) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", b);
    hex += two;
  }
  return hex;
}

Dashboard::Dashboard(DashboardOptions options, DashboardControl* control)
    : options_(std::move(options)), control_(control) {
  const http::ListenAddress where = http::ParseListenAddress(options_.address, options_.option_name);
  loopback_ = http::IsLoopbackHost(where.host);
  token_ = options_.token.empty() ? RandomToken() : options_.token;
  token_required_ = options_.token_required.value_or(!loopback_);
  nlohmann::json info = options_.run_info.is_object() ? options_.run_info : nlohmann::json::object();
  info["token_required"] = token_required_;
  run_json_ = Serialize(info);

  http::ServerOptions so;
  so.address = options_.address;
  so.option_name = options_.option_name;
  so.max_connections = options_.max_connections;
  so.max_body_bytes = 64 * 1024;
  so.thread_name = "stampede-ui";
  so.exposure_note = token_required_ ? "; its control needs the token" : "";
  server_ = std::make_unique<http::Server>(
      so, [this](const http::ServerRequest& req) { return Handle(req); });
}

Dashboard::~Dashboard() { Stop(); }

std::string Dashboard::url() const { return "http://" + server_->address() + "/"; }

void Dashboard::Stop() {
  std::vector<std::shared_ptr<http::ResponseStream>> closing;
  {
    std::lock_guard lock(mu_);
    for (auto& s : subscribers_) s->Close();  // the end of the response, after what is queued
    closing.swap(subscribers_);
  }
  // Lets the streams send what they hold (the `end` event): the server drops
  // its reference once a stream's connection is done. Bounded: a client that
  // does not read costs at most drain_timeout, once, at the end.
  const auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  while (server_ && std::chrono::steady_clock::now() < deadline) {
    bool held = false;
    for (const auto& s : closing) held = held || s.use_count() > 1;
    if (!held) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (server_) server_->Stop();
}

void Dashboard::Broadcast(const std::string& data) {
  auto it = subscribers_.begin();
  while (it != subscribers_.end()) {
    http::ResponseStream& s = **it;
    // Closed before the write: the client went away (not a drop). A write
    // that fails on an open stream hit the pending bound: too slow, dropped.
    const bool gone = s.closed();
    if (gone || !s.Write(data)) {
      if (!gone) dropped_.fetch_add(1, std::memory_order_relaxed);
      (*it)->Close();
      it = subscribers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Dashboard::Publish(const nlohmann::json& tick) {
  std::string data = Serialize(tick);
  std::string event = Event("tick", data);
  std::string light = data;
  if (tick.is_object() && (tick.contains("names") || tick.contains("steering"))) {
    nlohmann::json slim = tick;
    slim.erase("names");
    slim.erase("steering");
    light = Serialize(slim);
  }
  std::lock_guard lock(mu_);
  history_bytes_ += light.size() + 1;
  history_.push_back(std::move(light));
  newest_ = std::move(data);
  while (history_.size() > options_.history_limit) {
    history_bytes_ -= history_.front().size() + 1;
    history_.pop_front();
  }
  Broadcast(event);
}

void Dashboard::Heartbeat() {
  std::lock_guard lock(mu_);
  Broadcast(": ping\n\n");
}

void Dashboard::End(const nlohmann::json& end_event) {
  MarkEnded();
  std::string data = Serialize(end_event);
  std::lock_guard lock(mu_);
  end_event_ = data;
  Broadcast(Event("end", data));
}

http::ServerResponse Dashboard::Handle(const http::ServerRequest& req) {
  const bool get = req.method == "GET" || req.method == "HEAD";
  struct Asset {
    std::string_view path, type, body;
  };
  const Asset static_assets[] = {
      {"/", "text/html; charset=utf-8", assets::View(assets::kIndexHtml)},
      {"/index.html", "text/html; charset=utf-8", assets::View(assets::kIndexHtml)},
      {"/app.js", "text/javascript; charset=utf-8", assets::View(assets::kAppJs)},
      {"/app.css", "text/css; charset=utf-8", assets::View(assets::kAppCss)},
      {"/trace_view.js", "text/javascript; charset=utf-8", assets::View(assets::kTraceViewJs)},
      {"/trace_view.css", "text/css; charset=utf-8", assets::View(assets::kTraceViewCss)},
      {"/uplot.min.js", "text/javascript; charset=utf-8", assets::View(assets::kUplotJs)},
      {"/uplot.min.css", "text/css; charset=utf-8", assets::View(assets::kUplotCss)},
  };
  for (const Asset& a : static_assets) {
    if (req.path != a.path) continue;
    if (!get) return JsonError(405, "use GET");
    return Respond(200, a.type, std::string(a.body));
  }
  if (req.path == "/api/run") {
    if (!get) return JsonError(405, "use GET");
    return Respond(200, kJson, run_json_);
  }
  if (req.path == "/api/stream") {
    if (!get) return JsonError(405, "use GET");
    if (req.method == "HEAD") return Respond(200, "text/event-stream; charset=utf-8", "");
    return Stream();
  }
  if (req.path == "/api/exemplars") {
    if (!get) return JsonError(405, "use GET");
    return ExemplarsAt(req);
  }
  if (req.path.rfind("/api/trace/", 0) == 0) {
    if (!get) return JsonError(405, "use GET");
    return TraceAt(req);
  }
  if (req.path == "/api/control") {
    if (req.method != "POST") return JsonError(405, "use POST");
    return Control(req);
  }
  return JsonError(404, "not found");
}

http::ServerResponse Dashboard::Stream() {
  std::lock_guard lock(mu_);
  auto stream = http::ResponseStream::Create(options_.max_pending_bytes + history_bytes_ +
                                             newest_.size() + 64);
  std::string first = "retry: 2000\n\n";
  std::string history = "[";
  for (size_t i = 0; i < history_.size(); ++i) {
    if (i > 0) history += ',';
    history += i + 1 == history_.size() ? newest_ : history_[i];
  }
  history += ']';
  first += Event("history", history);
  if (end_event_) first += Event("end", *end_event_);
  stream->Write(first);
  subscribers_.push_back(stream);
  clients_.fetch_add(1, std::memory_order_relaxed);
  http::ServerResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", "text/event-stream; charset=utf-8");
  r.headers.emplace_back("X-Accel-Buffering", "no");
  AddCommonHeaders(r);
  r.stream = std::move(stream);
  return r;
}

http::ServerResponse Dashboard::ExemplarsAt(const http::ServerRequest& req) {
  const std::optional<int64_t> from = ParseMillis(req.QueryParam("from"));
  const std::optional<int64_t> to = ParseMillis(req.QueryParam("to"));
  if (!from || !to || *to <= *from) {
    return JsonError(400, "give the interval as ?from=MS&to=MS (unix milliseconds, from < to)");
  }
  if (control_ == nullptr) return Respond(200, kJson, "{\"available\":false,\"requests\":[]}");
  return Respond(200, kJson, Serialize(control_->Exemplars(*from, *to)));
}

http::ServerResponse Dashboard::TraceAt(const http::ServerRequest& req) {
  const std::string_view id = std::string_view(req.path).substr(std::string_view("/api/trace/").size());
  const std::string_view span = req.QueryParam("span").value_or(std::string_view());
  if (!IsLowerHex(id, 32) || (!span.empty() && !IsLowerHex(span, 16))) {
    return JsonError(400, "give a trace id of 32 lowercase hex digits (and ?span= 16 of them)");
  }
  if (control_ == nullptr) return JsonError(404, "this run keeps no traces");
  nlohmann::json out;
  ControlResult result = control_->Trace(id, span, out);
  if (result.status != 200) return JsonError(result.status, result.error);
  return Respond(200, kJson, Serialize(out));
}

bool Dashboard::OriginAllowed(std::string_view origin, const http::ServerRequest& req) const {
  const std::string port = std::to_string(server_->port());
  if (origin == "http://" + server_->address()) return true;
  if (loopback_) {
    // Loopback names only: a DNS-rebound name (evil.example → 127.0.0.1)
    // sends its own name as Origin and Host alike, and is refused.
    for (std::string_view host : {"localhost", "127.0.0.1", "[::1]"}) {
      if (origin == "http://" + std::string(host) + ":" + port) return true;
    }
    return false;
  }
  // Reached through some name or address of this host: the same origin as
  // the request's Host (the token guards a non-loopback dashboard).
  auto host = req.Header("Host");
  return host && origin == "http://" + std::string(*host);
}

http::ServerResponse Dashboard::Control(const http::ServerRequest& req) {
  if (token_required_) {
    std::string_view given;
    if (auto auth = req.Header("Authorization")) {
      std::string_view a = Trim(*auth);
      if (a.size() > 7 && EqualsIgnoreCase(a.substr(0, 7), "Bearer ")) given = Trim(a.substr(7));
    }
    if (given.empty()) {
      if (auto t = req.Header("X-Stampede-Token")) given = Trim(*t);
    }
    if (given.empty() || !core::SameSecret(given, token_)) {
      return JsonError(401, "this dashboard needs its token: Authorization: Bearer TOKEN");
    }
  }
  if (auto origin = req.Header("Origin"); origin && !OriginAllowed(Trim(*origin), req)) {
    return JsonError(403, "control requests from another origin are refused");
  }
  {
    auto type = req.Header("Content-Type");
    std::string_view t = type ? Trim(*type) : std::string_view();
    const bool json = t.size() >= kJson.size() && EqualsIgnoreCase(t.substr(0, kJson.size()), kJson) &&
                      (t.size() == kJson.size() || t[kJson.size()] == ';' || t[kJson.size()] == ' ');
    if (!json) return JsonError(415, "send Content-Type: application/json");
  }
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return JsonError(400, "the body must be a JSON object, e.g. {\"action\":\"pause\"}");
  }
  ControlRequest cr;
  cr.peer = req.peer;
  auto action = body.find("action");
  if (action == body.end() || !action->is_string()) {
    return JsonError(400, "missing \"action\": pause, resume, stop, set_vus or set_rate");
  }
  cr.action = action->get<std::string>();
  if (cr.action != "pause" && cr.action != "resume" && cr.action != "stop" &&
      cr.action != "set_vus" && cr.action != "set_rate") {
    return JsonError(400, "unknown action: give pause, resume, stop, set_vus or set_rate");
  }
  if (auto sc = body.find("scenario"); sc != body.end() && !sc->is_null()) {
    if (!sc->is_string()) return JsonError(400, "\"scenario\" must be a string");
    cr.scenario = sc->get<std::string>();
  }
  if (auto v = body.find("value"); v != body.end()) cr.value = *v;
  if (ended()) return JsonError(409, "the run has ended");
  if (control_ == nullptr) return JsonError(501, "not available");
  ControlResult result = control_->OnControl(cr);
  if (result.status == 200) return Respond(200, kJson, "{\"ok\":true}");
  return JsonError(result.status, result.error.empty() ? "refused" : result.error);
}

}  // namespace stampede::ui
