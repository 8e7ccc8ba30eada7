// The `stampede.ws` module: WebSockets in k6's shape (k6/ws):
//
//   local res = ws.connect(url, params, function(socket)
//     socket:on("open", fn) ... socket:send(text) ... socket:close()
//   end)
//
// Split in two. A small Lua layer (kWsLua below) runs the session's event
// loop on the VU's coroutine: it calls the setup function, then waits for
// the next event and calls the script's handler for it, so user callbacks
// always run on the coroutine as ordinary Lua (they may even call http.* or
// sleep) and never from a C function — the lua-nginx-module rule. The C
// side (WsConn) owns the ws::Session on the worker's loop, queues what the
// session reports, and wakes the coroutine waiting in wait() through a
// deferred loop task (never from inside the session's own callbacks).
//
// Metrics and the span go to the host (ScriptHost::OnWsMetric,
// OnWsSessionEnd); a VU that is interrupted abandons its session
// (Vu::Attachment) so a run never waits for a socket.
#include <strings.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/error.h"
#include "http/url.h"
#include "script/bindings.h"
#include "script/lua_util.h"
#include "ws/session.h"

namespace stampede::script {
namespace {

using lua::RaiseError;
using lua::RequireVu;
using lua::RuntimeOf;
using lua::ToView;

constexpr char kConnMeta[] = "stampede.ws.conn";

class WsConn;

// Wakes the coroutine waiting in wait(), at the end of the loop turn. A
// posted task cannot be withdrawn, so when its WsConn is collected first it
// is cut loose and deletes itself when it runs.
class WakeTask final : public loop::Task {
 public:
  explicit WakeTask(WsConn* conn) : conn_(conn) {}
  void Detach() { conn_ = nullptr; }
  void Run() override;

 private:
  WsConn* conn_;
};

class WsConn final : public ws::SessionHandler, public Vu::Attachment, private loop::Timer {
 public:
  WsConn(Runtime& rt, Vu& vu, uint64_t seed)
      : rt_(rt),
        vu_(&vu),
        session_(rt.loop(), *rt.network().resolver, rt.network().tls, *this, seed),
        wake_(new WakeTask(this)) {}

  ~WsConn() override {
    session_.Abort();
    rt_.loop().Cancel(*this);
    if (vu_ != nullptr) vu_->Detach(*this);
    if (wake_->posted()) {
      wake_->Detach();  // runs later and deletes itself
    } else {
      delete wake_;
    }
  }

  // ---- set up by open() ----
  std::string url;  // redacted, for res.url, the url tag and url.full
  std::string path;
  std::string host;
  uint16_t port = 0;
  std::vector<std::pair<std::string, std::string>> tags;  // storage of the sample tags
  size_t status_tag = 0;                                  // index of the "status" tag in `tags`
  otel::TraceId trace_id;
  otel::SpanId span_id;
  otel::SpanId parent_span_id;
  uint8_t trace_flags = 0;

  ws::Session& session() { return session_; }

  void Start(ws::SessionConfig config) {
    vu_->Attach(*this);
    session_.Start(std::move(config));
  }

  // ---- ws::SessionHandler (called from the session's I/O and timers) ----
  void OnOpen() override {
    SetStatus(session_.status());
    Sample(ScriptHost::WsMetric::kConnecting,
           static_cast<double>(session_.open_ns() - session_.start_ns()));
    // Messages queued before the handshake went out with it.
    for (uint64_t i = 0; i < early_sent_; ++i) Sample(ScriptHost::WsMetric::kMsgsSent, 1);
    early_sent_ = 0;
    Push(Event{"open", {}, 0});
  }
  void OnMessage(const ws::Message& m) override {
    switch (m.kind) {
      case ws::Message::Kind::kText:
      case ws::Message::Kind::kBinary: {
        const bool binary = m.kind == ws::Message::Kind::kBinary;
        ++msgs_received_;
        Sample(ScriptHost::WsMetric::kMsgsReceived, 1);
        NoteEvent(false, binary, m.payload.size());
        Push(Event{binary ? "binaryMessage" : "message", std::string(m.payload)});
        return;
      }
      case ws::Message::Kind::kPing:
        Push(Event{"ping", std::string(m.payload)});
        return;
      case ws::Message::Kind::kPong:
        if (!pings_.empty()) {
          Sample(ScriptHost::WsMetric::kPing,
                 static_cast<double>(rt_.loop().UpdateNow() - pings_.front()));
          pings_.pop_front();
        }
        Push(Event{"pong", std::string(m.payload)});
        return;
      case ws::Message::Kind::kClose:
        return;  // the session ends through OnClosed
    }
  }
  void OnError(std::string_view error) override {
    if (error_.empty()) error_.assign(error);
    Push(Event{"error", std::string(error)});
  }
  void OnClosed(uint16_t code, std::string_view reason) override {
    end_ns_ = rt_.loop().UpdateNow();
    close_code_ = code;
    if (session_.opened()) Push(Event{"close", std::string(reason), code});
    over_ = true;
    Wake();
  }

  // ---- from Lua ----
  bool Send(std::string_view data, bool binary) {
    const bool ok = binary ? session_.SendBinary(data) : session_.SendText(data);
    if (!ok) return false;
    ++msgs_sent_;
    NoteEvent(true, binary, data.size());
    if (session_.opened()) {
      Sample(ScriptHost::WsMetric::kMsgsSent, 1);
    } else {
      ++early_sent_;
    }
    return true;
  }
  bool Ping() {
    if (!session_.Ping()) return false;
    if (pings_.size() < 64) pings_.push_back(rt_.loop().UpdateNow());
    return true;
  }

  // Pushes the next event onto `L` (kind, data, code); 0 when none is queued.
  int PopEvent(lua_State* L) {
    if (events_.empty()) {
      if (!over_) return 0;
      lua_pushliteral(L, "end");
      return 1;
    }
    Event& e = events_.front();
    lua_pushstring(L, e.kind);
    lua_pushlstring(L, e.data.data(), e.data.size());
    if (e.code != 0) {
      lua_pushinteger(L, e.code);
    } else {
      lua_pushnil(L);
    }
    events_.pop_front();
    return 3;
  }

  // wait(): nothing queued, so the coroutine yields until an event arrives
  // or `delay_ns` passes (< 0: no limit).
  int WaitAndYield(lua_State* co, int64_t delay_ns) {
    waiting_ = true;
    if (delay_ns >= 0) rt_.loop().Schedule(*this, rt_.loop().UpdateNow() + delay_ns);
    return vu_->YieldForAttachment(co);
  }

  // Ends the session (if still running) and tells the host once. `error`:
  // a script error that ended it (empty: none).
  void Finish(std::string_view error) {
    if (!over_) {
      session_.Abort();
      end_ns_ = rt_.loop().UpdateNow();
      over_ = true;
    }
    if (!error.empty() && error_.empty()) error_.assign(error);
    Report();
    if (vu_ != nullptr) {
      vu_->Detach(*this);
      vu_ = nullptr;
    }
  }

  const std::string& error() const { return error_; }

  // ---- Vu::Attachment ----
  void Abandon(bool report) override {
    waiting_ = false;
    rt_.loop().Cancel(*this);
    if (!over_) {
      session_.Abort();
      end_ns_ = rt_.loop().UpdateNow();
      over_ = true;
    }
    if (error_.empty()) error_ = "the VU was stopped during the session";
    if (report) Report();
    vu_ = nullptr;  // already detached by the VU
  }

 private:
  struct Event {
    const char* kind;
    std::string data;
    uint16_t code = 0;
  };

  void SetStatus(int status) { tags[status_tag].second = std::to_string(status); }

  void Push(Event e) {
    events_.push_back(std::move(e));
    Wake();
  }

  void Wake() {
    if (waiting_) rt_.loop().Post(*wake_);
  }

 public:
  // Hands the next event to the waiting coroutine. Resuming is the last
  // thing done: the coroutine may end the session and its handle may be
  // collected before ResumeWith returns.
  void OnWake() {
    if (!waiting_ || vu_ == nullptr) return;
    lua_State* co = vu_->coroutine();
    const int n = PopEvent(co);
    if (n == 0) return;  // spurious: keep waiting
    waiting_ = false;
    rt_.loop().Cancel(*this);
    vu_->ResumeWith(n);
  }

 private:
  // loop::Timer: the delay of wait() passed (a script timer is due).
  void OnTimer() override {
    if (!waiting_ || vu_ == nullptr) return;
    waiting_ = false;
    lua_State* co = vu_->coroutine();
    lua_pushliteral(co, "timer");
    vu_->ResumeWith(1);
  }

  void Sample(ScriptHost::WsMetric metric, double value) {
    ScriptHost* host = rt_.host();
    if (host == nullptr || vu_ == nullptr) return;
    static thread_local std::vector<ScriptHost::Tag> views;
    views.clear();
    for (const auto& [k, v] : tags) views.push_back({k, v});
    host->OnWsMetric(*vu_, metric, value, views);
  }

  void NoteEvent(bool sent, bool binary, size_t size) {
    if (span_events_.size() < ScriptHost::kMaxWsSpanEvents) {
      span_events_.push_back({rt_.loop().Now(), sent, binary, size});
    } else {
      ++dropped_events_;
    }
  }

  void Report() {
    if (reported_) return;
    reported_ = true;
    ScriptHost* host = rt_.host();
    if (host == nullptr || vu_ == nullptr) return;
    SetStatus(session_.status());
    Sample(ScriptHost::WsMetric::kSessions, 1);
    if (session_.bytes_sent() > 0) {
      Sample(ScriptHost::WsMetric::kDataSent, static_cast<double>(session_.bytes_sent()));
    }
    if (session_.bytes_received() > 0) {
      Sample(ScriptHost::WsMetric::kDataReceived, static_cast<double>(session_.bytes_received()));
    }
    if (session_.opened()) {
      Sample(ScriptHost::WsMetric::kSessionDuration,
             static_cast<double>(end_ns_ - session_.start_ns()));
    }
    ScriptHost::WsSessionEnd s;
    s.trace_id = trace_id;
    s.span_id = span_id;
    s.parent_span_id = parent_span_id;
    s.flags = trace_flags;
    s.url_full = url;
    s.path = path;
    s.server_address = host_view();
    s.server_port = port;
    s.status = session_.status();
    s.start_ns = session_.start_ns();
    s.end_ns = end_ns_;
    s.close_code = session_.opened() ? close_code_ : 0;
    s.error = error_;
    s.msgs_sent = msgs_sent_;
    s.msgs_received = msgs_received_;
    s.events = span_events_;
    s.dropped_events = dropped_events_;
    host->OnWsSessionEnd(*vu_, s);
  }
  std::string_view host_view() const { return host; }

  Runtime& rt_;
  Vu* vu_;
  ws::Session session_;
  std::deque<Event> events_;
  std::deque<int64_t> pings_;  // send times of pings not yet answered
  std::vector<ScriptHost::WsMessageEvent> span_events_;
  uint32_t dropped_events_ = 0;
  uint64_t msgs_sent_ = 0;
  uint64_t msgs_received_ = 0;
  uint64_t early_sent_ = 0;
  std::string error_;
  int64_t end_ns_ = 0;
  uint16_t close_code_ = 0;
  bool waiting_ = false;
  bool over_ = false;
  bool reported_ = false;
  WakeTask* wake_;
};

void WakeTask::Run() {
  if (conn_ == nullptr) {
    delete this;
    return;
  }
  conn_->OnWake();
}

struct ConnBox {
  WsConn* conn;
};

WsConn& CheckConn(lua_State* L) {
  auto* box = static_cast<ConnBox*>(luaL_checkudata(L, 1, kConnMeta));
  if (box->conn == nullptr) RaiseError(L, "ws: the session object is gone");
  return *box->conn;
}

bool HasCrLf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// core.open(url, params): validates, starts connecting, returns the handle.
int Open(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, "ws.connect");
  if (rt.network().resolver == nullptr) {
    RaiseError(L,
               "ws.connect: WebSockets are not available here (no network: the init "
               "code runs before any VU)");
  }
  if (lua_type(L, 1) != LUA_TSTRING) {
    RaiseError(L, std::string("ws.connect: the URL must be a string, got ") +
                      lua_typename(L, lua_type(L, 1)));
  }
  const std::string_view text = ToView(L, 1);
  bool secure;
  std::string http_url;
  if (text.size() > 5 && strncasecmp(text.data(), "ws://", 5) == 0) {
    secure = false;
    http_url = "http://" + std::string(text.substr(5));
  } else if (text.size() > 6 && strncasecmp(text.data(), "wss://", 6) == 0) {
    secure = true;
    http_url = "https://" + std::string(text.substr(6));
  } else {
    RaiseError(L, "ws.connect: the URL must start with ws:// or wss://, got \"" +
                      std::string(text.substr(0, 64)) + "\"");
  }
  std::string error;
  std::optional<http::Url> url = http::TryParseUrl(http_url, "ws.connect", &error);
  if (!url) RaiseError(L, error);

  ws::SessionConfig config;
  config.host = url->host;
  config.port = url->port;
  config.tls = secure;
  config.host_header = url->HostHeader();
  config.target = url->target;
  config.connect_timeout_ns = rt.network().connect_timeout_ns;
  config.handshake_timeout_ns = rt.network().request_timeout_ns;

  std::vector<std::pair<std::string, std::string>> user_tags;
  bool user_traceparent = false, user_baggage = false;
  if (!lua_isnoneornil(L, 2)) {
    if (!lua_istable(L, 2)) {
      RaiseError(L, std::string("ws.connect: params must be a table, got ") +
                        lua_typename(L, lua_type(L, 2)));
    }
    lua_getfield(L, 2, "headers");
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1)) {
          RaiseError(L, "ws.connect: params.headers must map header names to strings");
        }
        lua_pushvalue(L, -1);
        std::string name(ToView(L, -3)), value(ToView(L, -1));
        lua_pop(L, 2);
        if (HasCrLf(name) || HasCrLf(value) || name.empty()) {
          RaiseError(L, "ws.connect: header \"" + name.substr(0, 64) +
                            "\": names and values must not contain CR or LF");
        }
        if (strcasecmp(name.c_str(), "traceparent") == 0) user_traceparent = true;
        if (strcasecmp(name.c_str(), "baggage") == 0) user_baggage = true;
        config.headers.emplace_back(std::move(name), std::move(value));
      }
    } else if (!lua_isnil(L, -1)) {
      RaiseError(L, "ws.connect: params.headers must be a table");
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "tags");
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1)) {
          RaiseError(L, "ws.connect: params.tags must map tag names to strings");
        }
        lua_pushvalue(L, -1);
        user_tags.emplace_back(std::string(ToView(L, -3)), std::string(ToView(L, -1)));
        lua_pop(L, 2);
      }
    } else if (!lua_isnil(L, -1)) {
      RaiseError(L, "ws.connect: params.tags must be a table");
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "timeout");  // the handshake's, as k6's http timeout
    if (lua_type(L, -1) == LUA_TNUMBER) {
      const double ms = lua_tonumber(L, -1);
      if (!(ms > 0)) RaiseError(L, "ws.connect: params.timeout must be positive");
      config.handshake_timeout_ns = static_cast<int64_t>(ms * 1e6);
      config.connect_timeout_ns = std::min(config.connect_timeout_ns, config.handshake_timeout_ns);
    } else if (lua_type(L, -1) == LUA_TSTRING) {
      std::string t(ToView(L, -1));
      int64_t ns = 0;
      try {
        ns = core::ParseDuration(t, "ws.connect params.timeout").count();
      } catch (const core::ConfigError& e) {
        error = e.what();
      }
      if (!error.empty()) RaiseError(L, error);
      if (ns <= 0) RaiseError(L, "ws.connect: params.timeout must be positive");
      config.handshake_timeout_ns = ns;
      config.connect_timeout_ns = std::min(config.connect_timeout_ns, ns);
    } else if (!lua_isnil(L, -1)) {
      RaiseError(L, "ws.connect: params.timeout must be a duration (\"5s\") or milliseconds");
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "max_message_size");
    if (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) >= 1) {
      config.max_message_bytes = static_cast<size_t>(lua_tonumber(L, -1));
    } else if (!lua_isnil(L, -1)) {
      RaiseError(L, "ws.connect: params.max_message_size must be a number of bytes (>= 1)");
    }
    lua_pop(L, 1);
  }

  auto* box = static_cast<ConnBox*>(lua_newuserdata(L, sizeof(ConnBox)));
  box->conn = nullptr;
  luaL_getmetatable(L, kConnMeta);
  lua_setmetatable(L, -2);
  auto conn = std::make_unique<WsConn>(rt, vu, vu.rng()());
  WsConn& c = *conn;
  c.url = url->Redacted();
  c.url.replace(0, secure ? 5 : 4, secure ? "wss" : "ws");  // "https" / "http"
  c.path = url->target.substr(0, url->target.find('?'));
  c.host = url->host;
  c.port = url->port;
  c.tags.emplace_back("url", c.url);
  c.status_tag = c.tags.size();
  c.tags.emplace_back("status", "0");
  {
    std::vector<ScriptHost::Tag> ctx;
    vu.AppendContextTags(ctx);
    for (const ScriptHost::Tag& t : ctx)
      c.tags.emplace_back(std::string(t.key), std::string(t.value));
  }
  for (auto& t : user_tags) c.tags.push_back(std::move(t));

  // The session is a span of the VU's trace; its traceparent rides the handshake.
  const RuntimeOptions& ro = rt.options();
  if (ro.trace_root_request) vu.NewTrace();
  c.trace_id = vu.trace_id();
  c.parent_span_id = ro.trace_root_request ? otel::SpanId{} : vu.current_span_id();
  c.span_id = rt.ids().NewSpanId();
  c.trace_flags = otel::kFlagRandom | (vu.trace_sampled() ? otel::kFlagSampled : 0);
  if (ro.propagators.tracecontext && !user_traceparent) {
    char tp[otel::kTraceparentSize];
    otel::FormatTraceparent(c.trace_id, c.span_id, c.trace_flags, tp);
    config.headers.emplace_back("traceparent", std::string(tp, sizeof tp));
  }
  if (ro.propagators.baggage && !ro.baggage.empty() && !user_baggage) {
    config.headers.emplace_back("baggage", ro.baggage);
  }
  box->conn = conn.release();
  c.Start(std::move(config));
  return 1;
}

int ConnGc(lua_State* L) {
  auto* box = static_cast<ConnBox*>(lua_touserdata(L, 1));
  delete box->conn;
  box->conn = nullptr;
  return 0;
}

int ConnSend(lua_State* L) {
  WsConn& c = CheckConn(L);
  if (lua_type(L, 2) != LUA_TSTRING && lua_type(L, 2) != LUA_TNUMBER) {
    RaiseError(L, std::string("socket:send(data): data must be a string, got ") +
                      lua_typename(L, lua_type(L, 2)));
  }
  lua_pushboolean(L, c.Send(ToView(L, 2), lua_toboolean(L, 3) != 0));
  return 1;
}

int ConnPing(lua_State* L) {
  lua_pushboolean(L, CheckConn(L).Ping());
  return 1;
}

int ConnClose(lua_State* L) {
  WsConn& c = CheckConn(L);
  uint16_t code = ws::kCloseNormal;
  if (!lua_isnoneornil(L, 2)) {
    if (lua_type(L, 2) != LUA_TNUMBER) RaiseError(L, "socket:close([code]): code must be a number");
    const double n = lua_tonumber(L, 2);
    if (!(n == 1000 || (n >= 3000 && n <= 4999))) {
      RaiseError(L, "socket:close([code]): code must be 1000 or 3000-4999");
    }
    code = static_cast<uint16_t>(n);
  }
  c.session().Close(code, {});
  return 0;
}

// h:wait(delay_ms): the next event (kind, data, code), "timer" once
// delay_ms passed (< 0: no limit), or "end" when the session is over and
// every event was handed out. Yields while nothing is queued.
int ConnWait(lua_State* L) {
  WsConn& c = CheckConn(L);
  const double delay_ms = luaL_optnumber(L, 2, -1);
  if (int n = c.PopEvent(L); n > 0) return n;
  if (delay_ms == 0) {
    lua_pushliteral(L, "timer");
    return 1;
  }
  RequireVu(L, "ws.connect");
  return c.WaitAndYield(L, delay_ms < 0 ? -1 : static_cast<int64_t>(delay_ms * 1e6));
}

int ConnNow(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  lua_pushnumber(L, static_cast<double>(rt.loop().UpdateNow()) / 1e6);
  return 1;
}

// h:finish([script_error]): ends the session if needed, reports it once, and
// returns k6's response object {status, url, headers, error}.
int ConnFinish(lua_State* L) {
  WsConn& c = CheckConn(L);
  c.Finish(lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view());
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, c.session().status());
  lua_setfield(L, -2, "status");
  lua_pushlstring(L, c.url.data(), c.url.size());
  lua_setfield(L, -2, "url");
  lua_newtable(L);
  for (const auto& [name, value] : c.session().response_headers()) {
    std::string lower(name);
    for (char& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, lower.c_str());
  }
  lua_setfield(L, -2, "headers");
  if (!c.error().empty()) {
    lua_pushlstring(L, c.error().data(), c.error().size());
    lua_setfield(L, -2, "error");
  }
  return 1;
}

// The session loop, on the VU's coroutine (see the top of the file).
constexpr char kWsLua[] = R"lua(
local core = ...
local Socket = {}
Socket.__index = Socket
local EVENTS = { open = true, message = true, binaryMessage = true, ping = true, pong = true,
                 close = true, error = true }

function Socket:on(event, fn)
  if not EVENTS[event] then
    error("socket:on(event, fn): unknown event " .. tostring(event) ..
          " (open, message, binaryMessage, ping, pong, close, error)", 2)
  end
  if type(fn) ~= "function" then error("socket:on(event, fn): fn must be a function", 2) end
  self._handlers[event] = fn
end
-- Misuse errors name the script's line, not this module's.
local function checked(ok, ...)
  if not ok then error((tostring((...)):gsub("^stampede%.ws:%d+: ", "")), 3) end
  return ...
end
function Socket:send(data) return checked(pcall(self._h.send, self._h, data, false)) end
function Socket:sendBinary(data) return checked(pcall(self._h.send, self._h, data, true)) end
function Socket:ping() return self._h:ping() end
function Socket:close(code) return checked(pcall(self._h.close, self._h, code)) end
local function add_timer(self, fn, ms, interval, name)
  if type(fn) ~= "function" then error("socket:" .. name .. "(fn, ms): fn must be a function", 3) end
  if type(ms) ~= "number" or ms < 0 or (interval and ms <= 0) then
    error("socket:" .. name .. "(fn, ms): ms must be a " ..
          (interval and "positive" or "non-negative") .. " number", 3)
  end
  local t = { due = self._h:now() + ms, fn = fn, interval = interval and ms or nil }
  self._timers[#self._timers + 1] = t
end
function Socket:setTimeout(fn, ms) add_timer(self, fn, ms, false, "setTimeout") end
function Socket:setInterval(fn, ms) add_timer(self, fn, ms, true, "setInterval") end

local function run_timers(self)
  local timers, now = self._timers, self._h:now()
  local due = {}
  for i = #timers, 1, -1 do
    local t = timers[i]
    if t.due <= now then
      due[#due + 1] = t
      if t.interval then
        t.due = t.due + t.interval
        if t.due <= now then t.due = now + t.interval end
      else
        table.remove(timers, i)
      end
    end
  end
  table.sort(due, function(a, b) return a.due < b.due end)
  for i = 1, #due do due[i].fn() end
end

local function next_delay(self)
  local timers = self._timers
  if #timers == 0 then return -1 end
  local first = timers[1].due
  for i = 2, #timers do if timers[i].due < first then first = timers[i].due end end
  local d = first - self._h:now()
  return d > 0 and d or 0
end

local function session(self, setup)
  if setup then setup(self) end
  local h, handlers = self._h, self._handlers
  while true do
    -- Due timers first, so a flood of messages cannot starve them.
    local delay = next_delay(self)
    if delay == 0 then
      run_timers(self)
    else
      local kind, data, code = h:wait(delay)
      if kind == "end" then return end
      if kind == "timer" then
        run_timers(self)
      else
        local fn = handlers[kind]
        if fn then
          if kind == "close" then fn(code) else fn(data) end
        end
      end
    end
  end
end

local M = {}
function M.connect(url, params, setup)
  if type(params) == "function" and setup == nil then params, setup = nil, params end
  if setup ~= nil and type(setup) ~= "function" then
    error("ws.connect(url, params, fn): fn must be a function", 2)
  end
  local h = checked(pcall(core.open, url, params))
  local socket = setmetatable({ _h = h, _handlers = {}, _timers = {} }, Socket)
  local ok, err = pcall(session, socket, setup)
  if not ok then
    h:finish(tostring(err))
    error(err, 0)
  end
  return h:finish()
end
return M
)lua";

}  // namespace

int OpenWsModule(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (luaL_newmetatable(L, kConnMeta)) {
    lua_pushcfunction(L, ConnGc);
    lua_setfield(L, -2, "__gc");
    lua_newtable(L);
    lua::SetFunction(L, rt, "send", ConnSend);
    lua::SetFunction(L, rt, "ping", ConnPing);
    lua::SetFunction(L, rt, "close", ConnClose);
    lua::SetFunction(L, rt, "wait", ConnWait);
    lua::SetFunction(L, rt, "now", ConnNow);
    lua::SetFunction(L, rt, "finish", ConnFinish);
    lua_setfield(L, -2, "__index");
  }
  lua_pop(L, 1);
  if (luaL_loadbuffer(L, kWsLua, sizeof kWsLua - 1, "=stampede.ws") != 0) {
    return lua_error(L);
  }
  lua_newtable(L);
  lua::SetFunction(L, rt, "open", Open);
  lua_call(L, 1, 1);
  return 1;
}

}  // namespace stampede::script
