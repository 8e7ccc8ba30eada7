#include "script/bindings.h"

extern "C" {
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
}

#include <strings.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "core/duration.h"
#include "core/error.h"
#include "script/lua_json.h"
#include "script/prelude.lua.h"
#include "script/vu_request.h"

namespace stampede::script {
namespace {

Runtime& RuntimeOf(lua_State* L) {
  return *static_cast<Runtime*>(lua_touserdata(L, lua_upvalueindex(1)));
}

// Raises a Lua error with `message`; the std::string is destroyed first so
// nothing non-trivial is live across the longjmp/unwind.
[[noreturn]] int RaiseError(lua_State* L, std::string message) {
  luaL_where(L, 1);  // "file:line: " of the Lua code that called the API
  lua_pushlstring(L, message.data(), message.size());
  lua_concat(L, 2);
  message.clear();
  message.shrink_to_fit();
  lua_error(L);
  __builtin_unreachable();
}

Vu& RequireVu(lua_State* L, const char* fn) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  if (vu == nullptr) {
    RaiseError(L, std::string(fn) +
                      " can only be called while a VU runs (in default, setup, teardown or an "
                      "exec function), not at init");
  }
  return *vu;
}

std::string_view ToView(lua_State* L, int index) {
  size_t len;
  const char* s = lua_tolstring(L, index, &len);
  return {s, len};
}

// ---- building a request from Lua arguments ----

// Fills `r` from (method, url, body, params). Returns an error message or "".
std::string FillRequest(lua_State* L, Runtime& rt, Vu& vu, Vu::Request& r, std::string_view fn,
                        std::string_view method, int url_idx, int body_idx, int params_idx) {
  if (lua_type(L, url_idx) != LUA_TSTRING) {
    return std::string(fn) + ": the URL must be a string, got " +
           lua_typename(L, lua_type(L, url_idx));
  }
  std::string error;
  const Runtime::Target* target = rt.FindTarget(ToView(L, url_idx), &error);
  if (target == nullptr) return std::string(fn) + ": " + error;
  r.target = target;
  r.method.assign(method.data(), method.size());
  for (char& c : r.method) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));

  r.body_view = {};
  bool json_body = false;
  if (body_idx != 0) {
    switch (lua_type(L, body_idx)) {
      case LUA_TNIL:
      case LUA_TNONE:
        break;
      case LUA_TSTRING:
        r.body_view = ToView(L, body_idx);
        break;
      case LUA_TTABLE: {
        nlohmann::json j;
        if (!LuaToJson(L, body_idx, "body", &j, &error)) return std::string(fn) + ": " + error;
        r.body_storage = j.dump();
        r.body_view = r.body_storage;
        json_body = true;
        break;
      }
      default:
        return std::string(fn) + ": the body must be a string or a table, got " +
               lua_typename(L, lua_type(L, body_idx));
    }
  }

  // params
  size_t nheaders = 0;
  r.name.clear();
  r.tags.clear();
  r.redirects_left = 10;
  r.timeout_ns = 0;
  r.want_body = !rt.options().discard_response_bodies;
  bool user_content_type = false, user_cookie = false, user_traceparent = false,
       user_baggage = false;
  if (params_idx != 0 && !lua_isnoneornil(L, params_idx)) {
    if (!lua_istable(L, params_idx)) {
      return std::string(fn) + ": params must be a table, got " +
             lua_typename(L, lua_type(L, params_idx));
    }
    lua_getfield(L, params_idx, "headers");
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1)) {
          lua_pop(L, 3);
          return std::string(fn) + ": params.headers must map header names to strings";
        }
        if (r.headers.size() <= nheaders) r.headers.emplace_back();
        std::string_view k = ToView(L, -2);
        lua_pushvalue(L, -1);  // tostring a copy (numbers)
        std::string_view v = ToView(L, -1);
        r.headers[nheaders].first.assign(k.data(), k.size());
        r.headers[nheaders].second.assign(v.data(), v.size());
        lua_pop(L, 2);
        if (k.size() == 12 && strncasecmp(k.data(), "content-type", 12) == 0) user_content_type = true;
        if (k.size() == 6 && strncasecmp(k.data(), "cookie", 6) == 0) user_cookie = true;
        if (k.size() == 11 && strncasecmp(k.data(), "traceparent", 11) == 0) user_traceparent = true;
        if (k.size() == 7 && strncasecmp(k.data(), "baggage", 7) == 0) user_baggage = true;
        ++nheaders;
      }
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return std::string(fn) + ": params.headers must be a table";
    }
    lua_pop(L, 1);

    lua_getfield(L, params_idx, "tags");
    if (lua_istable(L, -1)) {
      lua_pushnil(L);
      while (lua_next(L, -2) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !lua_isstring(L, -1)) {
          lua_pop(L, 3);
          return std::string(fn) + ": params.tags must map tag names to strings";
        }
        lua_pushvalue(L, -1);
        r.tags.emplace_back(std::string(ToView(L, -3)), std::string(ToView(L, -1)));
        lua_pop(L, 2);
      }
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return std::string(fn) + ": params.tags must be a table";
    }
    lua_pop(L, 1);

    lua_getfield(L, params_idx, "name");
    if (lua_type(L, -1) == LUA_TSTRING) {
      std::string_view n = ToView(L, -1);
      r.name.assign(n.data(), n.size());
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return std::string(fn) + ": params.name must be a string";
    }
    lua_pop(L, 1);

    lua_getfield(L, params_idx, "timeout");
    if (lua_type(L, -1) == LUA_TSTRING) {
      try {
        r.timeout_ns = core::ParseDuration(ToView(L, -1), "params.timeout").count();
      } catch (const core::ConfigError& e) {
        lua_pop(L, 1);
        return std::string(fn) + ": " + e.what();
      }
    } else if (lua_type(L, -1) == LUA_TNUMBER) {
      r.timeout_ns = static_cast<int64_t>(lua_tonumber(L, -1) * 1e6);  // k6: numbers are ms
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return std::string(fn) + ": params.timeout must be a duration such as \"5s\"";
    }
    lua_pop(L, 1);

    lua_getfield(L, params_idx, "redirects");
    if (lua_type(L, -1) == LUA_TNUMBER) {
      r.redirects_left = static_cast<int>(lua_tonumber(L, -1));
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return std::string(fn) + ": params.redirects must be a number";
    }
    lua_pop(L, 1);

    lua_getfield(L, params_idx, "responseType");
    if (lua_type(L, -1) == LUA_TSTRING) r.want_body = ToView(L, -1) != "none";
    lua_pop(L, 1);
  }
  if (json_body && !user_content_type) {
    if (r.headers.size() <= nheaders) r.headers.emplace_back();
    r.headers[nheaders].first.assign("Content-Type");
    r.headers[nheaders].second.assign("application/json");
    ++nheaders;
  }
  if (!user_cookie) {
    if (const std::string* cookie = vu.CookieHeaderFor(target->url.host)) {
      if (r.headers.size() <= nheaders) r.headers.emplace_back();
      r.headers[nheaders].first.assign("Cookie");
      r.headers[nheaders].second.assign(*cookie);
      ++nheaders;
    }
  }
  r.header_views.clear();
  for (size_t i = 0; i < nheaders; ++i) r.header_views.push_back({r.headers[i].first, r.headers[i].second});
  // Trace context: this request's CLIENT span is a child of the iteration
  // span; unsampled requests carry the ids too, with the sampled flag clear.
  const RuntimeOptions& ro = rt.options();
  if (ro.trace_root_request) vu.NewTrace();
  r.trace_id = vu.trace_id();
  r.parent_span_id = ro.trace_root_request ? otel::SpanId{} : vu.current_span_id();
  r.span_id = rt.ids().NewSpanId();
  r.trace_flags = otel::kFlagRandom | (vu.trace_sampled() ? otel::kFlagSampled : 0);
  if (ro.propagators.tracecontext && !user_traceparent) {
    otel::FormatTraceparent(r.trace_id, r.span_id, r.trace_flags, r.traceparent);
    r.header_views.push_back({"traceparent", std::string_view(r.traceparent, otel::kTraceparentSize)});
  }
  if (ro.propagators.baggage && !ro.baggage.empty() && !user_baggage) {
    r.header_views.push_back({"baggage", ro.baggage});
  }
  return {};
}

// Serialises `r` for its current target and method.
std::string WriteRequest(Runtime& rt, Vu::Request& r) {
  r.bytes.Clear();
  std::string message;
  http::RequestHead head{r.method, r.target->host_header, r.target->url.target, r.header_views};
  if (rt.writer().Write(head, r.body_view, r.bytes, &message) != http::RequestError::kNone) {
    return message;
  }
  r.origin = r.target->origin;
  r.request_bytes = r.bytes.view();
  r.head = r.method == "HEAD";
  r.keep_body_bytes = r.want_body && !r.head ? rt.options().max_body_bytes : 0;
  r.response_headers = &r.headers_in;
  return {};
}

int DoRequest(lua_State* L, const char* fn, std::string_view method, int url_idx, int body_idx,
              int params_idx) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, fn);
  Vu::Request& r = vu.SlotAt(0);
  std::string error = FillRequest(L, rt, vu, r, fn, method, url_idx, body_idx, params_idx);
  if (error.empty()) error = WriteRequest(rt, r);
  if (!error.empty()) RaiseError(L, std::move(error));
  return vu.StartRequestsAndYield(L, 1, false);
}

int HttpGet(lua_State* L) { return DoRequest(L, "http.get", "GET", 1, 0, 2); }
int HttpHead(lua_State* L) { return DoRequest(L, "http.head", "HEAD", 1, 0, 2); }
int HttpDel(lua_State* L) { return DoRequest(L, "http.del", "DELETE", 1, 0, 2); }
int HttpOptions(lua_State* L) { return DoRequest(L, "http.options", "OPTIONS", 1, 0, 2); }
int HttpPost(lua_State* L) { return DoRequest(L, "http.post", "POST", 1, 2, 3); }
int HttpPut(lua_State* L) { return DoRequest(L, "http.put", "PUT", 1, 2, 3); }
int HttpPatch(lua_State* L) { return DoRequest(L, "http.patch", "PATCH", 1, 2, 3); }
int HttpRequest(lua_State* L) {
  if (lua_type(L, 1) != LUA_TSTRING) {
    RaiseError(L, "http.request: the method must be a string such as \"GET\"");
  }
  std::string method(ToView(L, 1));
  return DoRequest(L, "http.request", method, 2, 3, 4);
}

// http.batch({ {method, url, body, params} or {method=..., url=..., ...}, ... })
int HttpBatch(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, "http.batch");
  if (!lua_istable(L, 1)) RaiseError(L, "http.batch: expects a list of requests");
  size_t n = lua_objlen(L, 1);
  if (n == 0) {
    lua_newtable(L);
    return 1;
  }
  for (size_t i = 0; i < n; ++i) {
    lua_settop(L, 1);
    lua_rawgeti(L, 1, static_cast<int>(i + 1));  // 2: the item
    std::string where = "http.batch item " + std::to_string(i + 1);
    if (lua_type(L, 2) == LUA_TSTRING) {  // a bare URL: GET
      lua_pushstring(L, "GET");            // 3 method
      lua_pushvalue(L, 2);                 // 4 url
      lua_pushnil(L);                      // 5 body
      lua_pushnil(L);                      // 6 params
    } else if (lua_istable(L, 2)) {
      lua_rawgeti(L, 2, 1);
      if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_getfield(L, 2, "method");
        if (lua_isnil(L, -1)) {
          lua_pop(L, 1);
          lua_pushstring(L, "GET");
        }
        lua_getfield(L, 2, "url");
        lua_getfield(L, 2, "body");
        lua_getfield(L, 2, "params");
      } else {
        lua_rawgeti(L, 2, 2);
        lua_rawgeti(L, 2, 3);
        lua_rawgeti(L, 2, 4);
      }
    } else {
      RaiseError(L, where + ": expected a URL string or a request table");
    }
    if (lua_type(L, 3) != LUA_TSTRING) RaiseError(L, where + ": the method must be a string");
    Vu::Request& r = vu.SlotAt(i);
    std::string method(ToView(L, 3));
    std::string error = FillRequest(L, rt, vu, r, where, method, 4, 5, 6);
    if (error.empty()) error = WriteRequest(rt, r);
    if (!error.empty()) RaiseError(L, std::move(error));
  }
  // Bodies and strings of the items stay anchored in the batch table (arg 1).
  lua_settop(L, 1);
  return vu.StartRequestsAndYield(L, n, true);
}

// ---- response objects ----

int ResponseJson(lua_State* L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "body");
  if (lua_type(L, -1) != LUA_TSTRING) {
    RaiseError(L, "res:json(): the response has no body (discarded, or the request failed)");
  }
  std::string_view body = ToView(L, -1);
  nlohmann::json j = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) {
    std::string snippet(body.substr(0, 40));
    j = nullptr;
    RaiseError(L, "res:json(): the body is not valid JSON (starts with \"" + snippet + "\")");
  }
  PushJson(L, j);
  return 1;
}

void SetNumber(lua_State* L, const char* key, double value) {
  lua_pushnumber(L, value);
  lua_setfield(L, -2, key);
}

constexpr const char* kTimingNames[8] = {"blocked", "looking_up", "connecting", "tls_handshaking",
                                         "sending", "waiting",    "receiving",  "duration"};

// res.headers / res.timings / res:json(): decoded on first access, then
// cached in the response table itself.
int ResponseIndex(lua_State* L) {
  std::string_view key = lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view();
  if (key == "json") {
    lua_getglobal(L, "__stampede");
    lua_getfield(L, -1, "response_json");  // lua-cjson, when installed
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_pushvalue(L, lua_upvalueindex(2));  // fallback: the C decoder
    }
    return 1;
  }
  if (key == "headers") {
    lua_newtable(L);
    lua_getfield(L, 1, "__headers");
    if (lua_type(L, -1) == LUA_TSTRING) {
      std::string_view packed = ToView(L, -1);
      std::string lower;
      size_t pos = 0;
      while (pos + 8 <= packed.size()) {
        uint32_t lens[2];
        std::memcpy(lens, packed.data() + pos, sizeof lens);
        pos += sizeof lens;
        std::string_view n = packed.substr(pos, lens[0]);
        std::string_view v = packed.substr(pos + lens[0], lens[1]);
        pos += lens[0] + lens[1];
        lower.assign(n.data(), n.size());
        for (char& c : lower) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
        lua_pushlstring(L, lower.data(), lower.size());
        lua_rawget(L, -3);
        if (lua_isstring(L, -1)) {  // repeated header: joined with ", "
          lua_pushliteral(L, ", ");
          lua_pushlstring(L, v.data(), v.size());
          lua_concat(L, 3);
        } else {
          lua_pop(L, 1);
          lua_pushlstring(L, v.data(), v.size());
        }
        lua_pushlstring(L, lower.data(), lower.size());
        lua_insert(L, -2);
        lua_rawset(L, -4);
      }
    }
    lua_pop(L, 1);
  } else if (key == "timings") {
    lua_createtable(L, 0, 8);
    lua_getfield(L, 1, "__timings");
    if (lua_type(L, -1) == LUA_TSTRING && lua_objlen(L, -1) == 8 * sizeof(double)) {
      double ms[8];
      std::memcpy(ms, lua_tostring(L, -1), sizeof ms);
      lua_pop(L, 1);
      for (int i = 0; i < 8; ++i) SetNumber(L, kTimingNames[i], ms[i]);
    } else {
      lua_pop(L, 1);
    }
  } else {
    lua_pushnil(L);
    return 1;
  }
  lua_pushvalue(L, 2);
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);  // cache: __index is not consulted again for this key
  return 1;
}

// ---- globals ----

int Sleep(lua_State* L) {
  Vu& vu = RequireVu(L, "sleep");
  if (lua_type(L, 1) != LUA_TNUMBER || lua_tonumber(L, 1) < 0) {
    RaiseError(L, "sleep(seconds): seconds must be a non-negative number");
  }
  return vu.SleepAndYield(L, lua_tonumber(L, 1));
}

core::Rng& RngOf(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (Vu* vu = rt.VuFor(L)) return vu->rng();
  static thread_local core::Rng init_rng(rt.options().seed);
  return init_rng;
}

int RandomInt(lua_State* L) {
  if (lua_type(L, 1) != LUA_TNUMBER || lua_type(L, 2) != LUA_TNUMBER) {
    RaiseError(L, "random_int(min, max): both bounds must be numbers");
  }
  int64_t a = static_cast<int64_t>(lua_tonumber(L, 1));
  int64_t b = static_cast<int64_t>(lua_tonumber(L, 2));
  if (a > b) RaiseError(L, "random_int(min, max): min must not exceed max");
  std::uniform_int_distribution<int64_t> d(a, b);
  lua_pushnumber(L, static_cast<double>(d(RngOf(L))));
  return 1;
}

// math.random with Lua 5.1's contract, but from the VU's own generator.
int MathRandom(lua_State* L) {
  core::Rng& rng = RngOf(L);
  int n = lua_gettop(L);
  if (n == 0) {
    lua_pushnumber(L, std::uniform_real_distribution<double>(0.0, 1.0)(rng));
    return 1;
  }
  int64_t lo = 1, hi;
  if (n == 1) {
    hi = luaL_checkinteger(L, 1);
  } else {
    lo = luaL_checkinteger(L, 1);
    hi = luaL_checkinteger(L, 2);
  }
  luaL_argcheck(L, lo <= hi, n, "interval is empty");
  lua_pushnumber(L, static_cast<double>(std::uniform_int_distribution<int64_t>(lo, hi)(rng)));
  return 1;
}

int MathRandomSeed(lua_State* L) {
  RngOf(L).seed(static_cast<uint64_t>(luaL_checknumber(L, 1)));
  return 0;
}

int Uuid(lua_State* L) {
  core::Rng& rng = RngOf(L);
  uint64_t hi = rng(), lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFull) | 0x0000000000004000ull;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFull) | 0x8000000000000000ull;  // variant 10
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFull));
  lua_pushlstring(L, buf, 36);
  return 1;
}

int Open(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (!rt.in_init()) {
    RaiseError(L, "open(path) is only available at init (the script's top level)");
  }
  if (lua_type(L, 1) != LUA_TSTRING) RaiseError(L, "open(path): path must be a string");
  std::string error;
  std::string content = rt.ReadFileForOpen(ToView(L, 1), &error);
  if (!error.empty()) RaiseError(L, "open: " + error);
  lua_pushlstring(L, content.data(), content.size());
  return 1;
}

// __stampede.record_check(name, passed, tags)
int RecordCheck(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu* vu = rt.VuFor(L);
  if (vu == nullptr || rt.host() == nullptr) return 0;  // checks at init are not recorded
  static thread_local std::vector<ScriptHost::Tag> tags;
  tags.clear();
  std::string_view name = ToView(L, 1);
  tags.push_back({"check", name});
  tags.push_back({"group", vu->group_path()});
  tags.push_back({"scenario", vu->scenario()});
  for (const auto& [k, v] : vu->scenario_tags()) tags.push_back({k, v});
  if (lua_istable(L, 3)) {
    lua_pushnil(L);
    while (lua_next(L, 3) != 0) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        tags.push_back({ToView(L, -2), ToView(L, -1)});
      }
      lua_pop(L, 1);  // views stay valid: the strings live in the tags table
    }
  }
  rt.host()->OnCheck(*vu, name, lua_toboolean(L, 2) != 0, tags);
  return 0;
}

void PushSpan(Runtime& rt, Vu& vu, std::string name) {
  Vu::SpanFrame frame;
  frame.parent = vu.current_span_id();
  frame.id = rt.ids().NewSpanId();
  frame.start_ns = rt.loop().UpdateNow();
  frame.name = std::move(name);
  vu.span_stack().push_back(std::move(frame));
}

// Pops the innermost span and reports it; `error_index`: the Lua error
// message argument (nil on success).
void PopSpan(lua_State* L, Runtime& rt, Vu& vu, int error_index) {
  if (vu.span_stack().empty()) return;
  Vu::SpanFrame frame = std::move(vu.span_stack().back());
  vu.span_stack().pop_back();
  if (ScriptHost* host = rt.host()) {
    ScriptHost::SpanEnd end;
    end.trace_id = vu.trace_id();
    end.span_id = frame.id;
    end.parent_span_id = frame.parent;
    end.name = frame.name;
    end.start_ns = frame.start_ns;
    end.end_ns = rt.loop().UpdateNow();
    if (lua_type(L, error_index) == LUA_TSTRING) end.error = ToView(L, error_index);
    host->OnSpanEnd(vu, end);
  }
}

int GroupEnter(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, "group");
  vu.groups().emplace_back(ToView(L, 1));
  vu.RebuildGroupPath();
  PushSpan(rt, vu, "group " + std::string(ToView(L, 1)));
  return 0;
}

int GroupExit(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu* vu = rt.VuFor(L);
  if (vu != nullptr && !vu->groups().empty()) {
    vu->groups().pop_back();
    vu->RebuildGroupPath();
    PopSpan(L, rt, *vu, 1);
  }
  return 0;
}

int SpanBegin(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  Vu& vu = RequireVu(L, "trace.span");
  PushSpan(rt, vu, std::string(ToView(L, 1)));
  return 0;
}

int SpanEnd(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  if (Vu* vu = rt.VuFor(L)) PopSpan(L, rt, *vu, 1);
  return 0;
}

int SpanCurrent(lua_State* L) {
  Vu& vu = RequireVu(L, "trace.current");
  std::string trace = otel::ToHex(vu.trace_id());
  std::string span = otel::ToHex(vu.current_span_id());
  lua_createtable(L, 0, 3);
  lua_pushlstring(L, trace.data(), trace.size());
  lua_setfield(L, -2, "trace_id");
  lua_pushlstring(L, span.data(), span.size());
  lua_setfield(L, -2, "span_id");
  lua_pushboolean(L, vu.trace_sampled());
  lua_setfield(L, -2, "sampled");
  return 1;
}

// `vu.id`, `vu.iteration`; `scenario.name`: read through the running VU.
int VuIndex(lua_State* L) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  std::string_view key = lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view();
  if (key == "id") {
    if (vu) lua_pushnumber(L, static_cast<double>(vu->id())); else lua_pushnumber(L, 0);
  } else if (key == "iteration") {
    if (vu) lua_pushnumber(L, static_cast<double>(vu->iteration() - 1)); else lua_pushnumber(L, -1);
  } else {
    lua_pushnil(L);
  }
  return 1;
}

int ScenarioIndex(lua_State* L) {
  Vu* vu = RuntimeOf(L).VuFor(L);
  std::string_view key = lua_type(L, 2) == LUA_TSTRING ? ToView(L, 2) : std::string_view();
  if (key == "name" && vu != nullptr) {
    lua_pushlstring(L, vu->scenario().data(), vu->scenario().size());
  } else {
    lua_pushnil(L);
  }
  return 1;
}

int EnvIndex(lua_State* L) {
  if (lua_type(L, 2) == LUA_TSTRING) {
    if (Vu* vu = RuntimeOf(L).VuFor(L); vu != nullptr && vu->scenario_env() != nullptr) {
      std::string_view key = ToView(L, 2);
      for (const auto& [k, v] : *vu->scenario_env()) {
        if (k == key) {
          lua_pushlstring(L, v.data(), v.size());
          return 1;
        }
      }
    }
  }
  lua_pushvalue(L, 2);
  lua_rawget(L, lua_upvalueindex(2));
  return 1;
}

void PushClosure(lua_State* L, Runtime& rt, lua_CFunction fn) {
  lua_pushlightuserdata(L, &rt);
  lua_pushcclosure(L, fn, 1);
}

void SetFunction(lua_State* L, Runtime& rt, const char* name, lua_CFunction fn) {
  PushClosure(L, rt, fn);
  lua_setfield(L, -2, name);
}

int OpenHttpModule(lua_State* L) {
  Runtime& rt = RuntimeOf(L);
  lua_newtable(L);
  SetFunction(L, rt, "get", HttpGet);
  SetFunction(L, rt, "head", HttpHead);
  SetFunction(L, rt, "del", HttpDel);
  SetFunction(L, rt, "options", HttpOptions);
  SetFunction(L, rt, "post", HttpPost);
  SetFunction(L, rt, "put", HttpPut);
  SetFunction(L, rt, "patch", HttpPatch);
  SetFunction(L, rt, "request", HttpRequest);
  SetFunction(L, rt, "batch", HttpBatch);
  return 1;
}

// Registry key of the response metatable.
const char kResponseMeta[] = "stampede.response";

}  // namespace

void OpenBindings(lua_State* L, Runtime& rt) {
  // require("stampede.http")
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  PushClosure(L, rt, OpenHttpModule);
  lua_setfield(L, -2, "stampede.http");
  lua_pop(L, 2);

  // Response metatable: res:json(), lazy res.headers and res.timings.
  luaL_newmetatable(L, kResponseMeta);
  lua_pushlightuserdata(L, &rt);
  PushClosure(L, rt, ResponseJson);
  lua_pushcclosure(L, ResponseIndex, 2);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  lua_pushvalue(L, LUA_GLOBALSINDEX);
  SetFunction(L, rt, "sleep", Sleep);
  SetFunction(L, rt, "random_int", RandomInt);
  SetFunction(L, rt, "uuid", Uuid);
  SetFunction(L, rt, "open", Open);
  lua_pop(L, 1);

  lua_getglobal(L, "math");
  SetFunction(L, rt, "random", MathRandom);
  SetFunction(L, rt, "randomseed", MathRandomSeed);
  lua_pop(L, 1);

  // Internals for the prelude.
  lua_newtable(L);
  SetFunction(L, rt, "record_check", RecordCheck);
  SetFunction(L, rt, "group_enter", GroupEnter);
  SetFunction(L, rt, "group_exit", GroupExit);
  SetFunction(L, rt, "span_begin", SpanBegin);
  SetFunction(L, rt, "span_end", SpanEnd);
  SetFunction(L, rt, "span_current", SpanCurrent);
  lua_setglobal(L, "__stampede");

  // ENV: an empty proxy whose __index reads the running VU's scenario `env`
  // first, then the process environment plus -e (kept as an upvalue table).
  lua_newtable(L);
  lua_newtable(L);
  lua_pushlightuserdata(L, &rt);
  lua_newtable(L);
  for (const auto& [k, v] : rt.options().env) {
    lua_pushlstring(L, v.data(), v.size());
    lua_setfield(L, -2, k.c_str());
  }
  lua_pushcclosure(L, EnvIndex, 2);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "ENV");

  // vu, scenario: tables whose fields read the running VU.
  lua_newtable(L);
  lua_newtable(L);
  PushClosure(L, rt, VuIndex);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "vu");
  lua_newtable(L);
  lua_newtable(L);
  PushClosure(L, rt, ScenarioIndex);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_setglobal(L, "scenario");

  if (luaL_loadbuffer(L, kPrelude, std::strlen(kPrelude), "=stampede-prelude") != 0 ||
      lua_pcall(L, 0, 0, 0) != 0) {
    throw ScriptError(std::string("internal error in the Lua prelude: ") + lua_tostring(L, -1));
  }
}

// ---- completion: metrics, cookies, redirects, response objects ----

namespace {

void ReportRequest(Vu& vu, Vu::Request& r) {
  Runtime& rt = vu.runtime();
  ScriptHost* host = rt.host();
  if (host == nullptr) return;
  static thread_local std::vector<ScriptHost::Tag> tags;
  tags.clear();
  r.status_text.clear();
  if (r.status > 0 || r.error == net::NetError::kNone) {
    r.status_text = std::to_string(r.status);
  } else {
    r.status_text = "0";
  }
  tags.push_back({"name", r.name.empty() ? std::string_view(r.target->redacted)
                                         : std::string_view(r.name)});
  tags.push_back({"method", r.method});
  tags.push_back({"status", r.status_text});
  if (r.error != net::NetError::kNone) tags.push_back({"error_code", net::Name(r.error)});
  tags.push_back({"group", vu.group_path()});
  tags.push_back({"scenario", vu.scenario()});
  for (const auto& [k, v] : vu.scenario_tags()) tags.push_back({k, v});
  for (const auto& [k, v] : r.tags) tags.push_back({k, v});
  bool expected = r.error == net::NetError::kNone && r.status >= 200 && r.status <= 399;
  ScriptHost::RequestTrace trace;
  trace.trace_id = r.trace_id;
  trace.span_id = r.span_id;
  trace.parent_span_id = r.parent_span_id;
  trace.flags = r.trace_flags;
  trace.method = r.method;
  trace.url_full = r.target->redacted;
  trace.server_address = r.target->url.host;
  trace.server_port = r.target->url.port;
  trace.name = r.name;
  host->OnRequest(vu, r, tags, expected, trace);
}

}  // namespace

bool FollowRedirect(Vu& vu, Vu::Request& r) {
  ReportRequest(vu, r);
  if (r.error == net::NetError::kNone) vu.StoreCookies(r.target->url.host, r.headers_in);
  if (r.error != net::NetError::kNone || r.redirects_left <= 0) return false;
  if (r.status != 301 && r.status != 302 && r.status != 303 && r.status != 307 &&
      r.status != 308) {
    return false;
  }
  std::optional<std::string_view> location = r.headers_in.Find("location");
  if (!location || location->empty()) return false;
  std::string next;
  if (location->find("://") != std::string_view::npos) {
    next.assign(location->data(), location->size());
  } else if (location->front() == '/') {
    next = r.target->url.scheme + "://" + r.target->host_header + std::string(*location);
  } else {
    const std::string& base = r.target->url.target;
    size_t slash = base.rfind('/');
    next = r.target->url.scheme + "://" + r.target->host_header + base.substr(0, slash + 1) +
           std::string(*location);
  }
  std::string error;
  const Runtime::Target* target = vu.runtime().FindTarget(next, &error);
  if (target == nullptr) return false;
  r.target = target;
  --r.redirects_left;
  // Each hop is a wire attempt of its own: a new CLIENT span id.
  r.span_id = vu.runtime().ids().NewSpanId();
  otel::FormatTraceparent(r.trace_id, r.span_id, r.trace_flags, r.traceparent);
  if (r.status == 303 || ((r.status == 301 || r.status == 302) && r.method == "POST")) {
    r.method = "GET";
    r.body_view = {};
  }
  if (!WriteRequest(vu.runtime(), r).empty()) return false;
  vu.runtime().client().Send(r);
  return true;
}

void PushResponse(lua_State* co, Vu::Request& r) {
  lua_createtable(co, 0, 10);
  lua_pushnumber(co, r.status);
  lua_setfield(co, -2, "status");
  lua_pushlstring(co, r.target->redacted.data(), r.target->redacted.size());
  lua_setfield(co, -2, "url");
  lua_pushliteral(co, "HTTP/1.1");
  lua_setfield(co, -2, "proto");
  if (r.error != net::NetError::kNone) {
    std::string_view code = net::Name(r.error);
    lua_pushlstring(co, code.data(), code.size());
    lua_setfield(co, -2, "error_code");
    lua_pushlstring(co, r.error_detail.data(), r.error_detail.size());
    lua_setfield(co, -2, "error");
  } else if (r.keep_body_bytes > 0) {
    lua_pushlstring(co, r.body.data(), r.body.size());
    lua_setfield(co, -2, "body");
  }
  // `headers` and `timings` are built on first access (most scripts never
  // read them): the raw values are kept in two compact strings, decoded by
  // the metatable's __index.
  if (r.error == net::NetError::kNone && !r.headers_in.empty()) {
    thread_local std::string packed;
    packed.clear();
    for (size_t i = 0; i < r.headers_in.size(); ++i) {
      std::string_view n = r.headers_in.name(i), v = r.headers_in.value(i);
      uint32_t lens[2] = {static_cast<uint32_t>(n.size()), static_cast<uint32_t>(v.size())};
      packed.append(reinterpret_cast<const char*>(lens), sizeof lens);
      packed.append(n);
      packed.append(v);
    }
    lua_pushlstring(co, packed.data(), packed.size());
    lua_setfield(co, -2, "__headers");
  }
  const http::Timings& t = r.timings;
  double ms[8] = {t.BlockedNs() / 1e6,  t.DnsNs() / 1e6,     t.ConnectingNs() / 1e6,
                  t.TlsNs() / 1e6,      t.SendingNs() / 1e6, t.WaitingNs() / 1e6,
                  t.ReceivingNs() / 1e6, t.DurationNs() / 1e6};
  lua_pushlstring(co, reinterpret_cast<const char*>(ms), sizeof ms);
  lua_setfield(co, -2, "__timings");
  luaL_getmetatable(co, kResponseMeta);
  lua_setmetatable(co, -2);
}

}  // namespace stampede::script
