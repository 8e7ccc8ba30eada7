// The `stampede.http` module: building requests from Lua arguments (table
// bodies as JSON or as forms, http.file), sending them through the VU (which
// yields), redirects, cookies, and the response objects handed back to Lua.
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/error.h"
#include "script/bindings.h"
#include "script/form_body.h"
#include "script/lua_json.h"
#include "script/lua_util.h"
#include "script/vu_request.h"

namespace stampede::script {
namespace {

using lua::RaiseError;
using lua::RequireVu;
using lua::RuntimeOf;
using lua::SetFunction;
using lua::SetNumber;
using lua::ToView;

// ---- building a request from Lua arguments ----

// Registry key of the metatable that marks http.file(...) objects: plain
// tables {data, filename, content_type} (k6's FileData field names).
constexpr char kFileMeta[] = "stampede.http.file";

constexpr std::string_view kFormValues =
    "form values are strings, numbers, booleans, http.file(...) or lists of those (to send "
    "the table as JSON, set params.headers[\"Content-Type\"] = \"application/json\")";

bool ContainsJson(std::string_view ct) {
  for (size_t i = 0; i + 4 <= ct.size(); ++i) {
    if (strncasecmp(ct.data() + i, "json", 4) == 0) return true;
  }
  return false;
}

bool IsMultipartFormData(std::string_view ct) {
  while (!ct.empty() && (ct.front() == ' ' || ct.front() == '\t')) ct.remove_prefix(1);
  return ct.size() >= 19 && strncasecmp(ct.data(), "multipart/form-data", 19) == 0;
}

// True when the value at `idx` is an http.file object; `meta_idx` holds the
// file metatable (or nil when stampede.http never made one).
bool IsFile(lua_State* L, int idx, int meta_idx) {
  if (!lua_istable(L, idx) || !lua_getmetatable(L, idx)) return false;
  const bool is_file = lua_rawequal(L, -1, meta_idx) != 0;
  lua_pop(L, 1);
  return is_file;
}

// Per-thread scratch of the form encoder: reused, so steady state allocates
// nothing. Fields are views into Lua strings anchored in the body table
// (numbers are formatted into `numbers` and fixed up once it stops growing).
struct FormScratch {
  std::vector<std::string_view> keys;
  std::vector<form::FormField> fields;
  std::string numbers;
  std::vector<std::pair<size_t, std::pair<size_t, size_t>>> number_fields;  // field → (pos, len)
  std::string boundary;
  std::string content_type;
};

// Appends the field (name, value at the top of the stack) to `s.fields`.
// Returns an error message or "".
std::string AddFormValue(lua_State* L, FormScratch& s, std::string_view fn, std::string_view name,
                         int meta_idx, int item, bool* has_file) {
  const int v = lua_gettop(L);
  form::FormField f;
  f.name = name;
  switch (lua_type(L, v)) {
    case LUA_TSTRING:
      f.value = ToView(L, v);
      break;
    case LUA_TNUMBER: {
      char buf[32];
      // tostring's format: integers without ".0".
      const int n = std::snprintf(buf, sizeof buf, "%.14g", lua_tonumber(L, v));
      s.number_fields.push_back({s.fields.size(), {s.numbers.size(), static_cast<size_t>(n)}});
      s.numbers.append(buf, static_cast<size_t>(n));
      break;
    }
    case LUA_TBOOLEAN:
      f.value = lua_toboolean(L, v) ? "true" : "false";
      break;
    case LUA_TTABLE:
      if (IsFile(L, v, meta_idx)) {
        lua_getfield(L, v, "data");
        lua_getfield(L, v, "filename");
        lua_getfield(L, v, "content_type");
        if (lua_type(L, -3) != LUA_TSTRING) {
          lua_pop(L, 3);
          return std::string(fn) + ": form field \"" + std::string(name) +
                 "\": the file's data must be a string";
        }
        f.is_file = true;
        f.value = ToView(L, -3);  // anchored in the file table
        if (lua_type(L, -2) == LUA_TSTRING) f.filename = ToView(L, -2);
        if (lua_type(L, -1) == LUA_TSTRING) f.content_type = ToView(L, -1);
        lua_pop(L, 3);
        *has_file = true;
        break;
      }
      [[fallthrough]];
    default: {
      std::string what =
          item > 0 ? "form field \"" + std::string(name) + "\" item " + std::to_string(item)
                   : "form field \"" + std::string(name) + "\"";
      const bool table = lua_istable(L, v);
      return std::string(fn) + ": " + what + " is a " +
             (table ? "table that is not a list" : lua_typename(L, lua_type(L, v))) + "; " +
             std::string(kFormValues);
    }
  }
  s.fields.push_back(f);
  return {};
}

// A table body: JSON when the user's Content-Type says json; else a form,
// multipart when a field is a file or the user asked for multipart/form-data,
// urlencoded otherwise (k6). Encodes into r.body_storage (capacity reused) and
// sets *auto_content_type to the Content-Type to add (empty: the user's stays).
std::string EncodeTableBody(lua_State* L, Vu& vu, Vu::Request& r, std::string_view fn, int body_idx,
                            int user_ct_index, std::string_view* auto_content_type) {
  static thread_local FormScratch s;
  std::string error;
  const std::string_view user_ct =
      user_ct_index >= 0 ? std::string_view(r.headers[user_ct_index].second) : std::string_view();
  if (ContainsJson(user_ct)) {
    nlohmann::json j;
    if (!LuaToJson(L, body_idx, "body", &j, &error)) return std::string(fn) + ": " + error;
    r.body_storage = j.dump();
    r.body_view = r.body_storage;
    return {};
  }
  const int top = lua_gettop(L);
  luaL_getmetatable(L, kFileMeta);
  const int meta_idx = lua_gettop(L);
  if (IsFile(L, body_idx, meta_idx)) {
    lua_settop(L, top);
    return std::string(fn) +
           ": a file is sent as a field of a table body: { file = http.file(data, \"a.png\") }";
  }
  // Field names, sorted: pairs() order is random, bodies must be reproducible.
  s.keys.clear();
  lua_pushnil(L);
  while (lua_next(L, body_idx) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      std::string type = lua_typename(L, lua_type(L, -2));
      lua_settop(L, top);
      return std::string(fn) + ": a form body's keys must be field names (strings), got a " + type +
             " key (to send a list as JSON, set params.headers[\"Content-Type\"] = "
             "\"application/json\")";
    }
    s.keys.push_back(ToView(L, -2));  // anchored: the key stays in the table
    lua_pop(L, 1);
  }
  std::sort(s.keys.begin(), s.keys.end());
  s.fields.clear();
  s.numbers.clear();
  s.number_fields.clear();
  bool has_file = false;
  for (std::string_view key : s.keys) {
    lua_pushlstring(L, key.data(), key.size());
    lua_rawget(L, body_idx);
    const int v = lua_gettop(L);
    if (lua_istable(L, v) && !IsFile(L, v, meta_idx)) {
      // A list: one field per item, in order.
      const size_t n = lua_objlen(L, v);
      size_t count = 0;
      lua_pushnil(L);
      while (lua_next(L, v) != 0) {
        ++count;
        lua_pop(L, 1);
      }
      if (count != n) {
        lua_settop(L, top);
        return std::string(fn) + ": form field \"" + std::string(key) +
               "\" is a table that is not a list; " + std::string(kFormValues);
      }
      for (size_t i = 1; i <= n && error.empty(); ++i) {
        lua_rawgeti(L, v, static_cast<int>(i));
        if (lua_istable(L, -1) && !IsFile(L, -1, meta_idx)) {
          error = std::string(fn) + ": form field \"" + std::string(key) + "\" item " +
                  std::to_string(i) + " is a table; " + std::string(kFormValues);
        } else {
          error = AddFormValue(L, s, fn, key, meta_idx, static_cast<int>(i), &has_file);
        }
        lua_pop(L, 1);
      }
    } else {
      error = AddFormValue(L, s, fn, key, meta_idx, 0, &has_file);
    }
    lua_settop(L, meta_idx);
    if (!error.empty()) {
      lua_settop(L, top);
      return error;
    }
  }
  lua_settop(L, top);
  for (const auto& [field, pos_len] : s.number_fields) {
    s.fields[field].value = std::string_view(s.numbers).substr(pos_len.first, pos_len.second);
  }

  r.body_storage.clear();
  *auto_content_type = {};
  if (has_file && user_ct_index >= 0 && !IsMultipartFormData(user_ct)) {
    // The body must be multipart to carry a file; a server would get it
    // under the user's type and without its boundary.
    return std::string(fn) + ": a body with an http.file is sent as multipart/form-data, but " +
           "params.headers sets Content-Type \"" + std::string(user_ct) +
           "\"; remove that header (or set multipart/form-data)";
  }
  if (!has_file && !IsMultipartFormData(user_ct)) {
    form::EncodeUrlEncoded(s.fields, r.body_storage);
    if (user_ct_index < 0) *auto_content_type = "application/x-www-form-urlencoded";
  } else {
    std::string_view boundary = form::BoundaryParam(user_ct);
    if (!boundary.empty()) {  // the user's own boundary
      if (form::BoundaryOccurs(s.fields, boundary)) {
        return std::string(fn) +
               ": the boundary in params.headers' Content-Type occurs in the "
               "body; leave the boundary out and stampede picks one";
      }
    } else {
      // A random boundary that occurs in no part (a clash is astronomically rare).
      for (int attempt = 0;; ++attempt) {
        s.boundary.clear();
        form::AppendBoundary(vu.rng()(), vu.rng()(), s.boundary);
        if (!form::BoundaryOccurs(s.fields, s.boundary)) break;
        if (attempt == 16) return std::string(fn) + ": could not pick a multipart boundary";
      }
      boundary = s.boundary;
      if (user_ct_index >= 0 && IsMultipartFormData(user_ct)) {
        r.headers[user_ct_index].second.append("; boundary=");
        r.headers[user_ct_index].second.append(s.boundary);
      } else if (user_ct_index < 0) {
        s.content_type.assign("multipart/form-data; boundary=");
        s.content_type.append(s.boundary);
        *auto_content_type = s.content_type;
      }
    }
    form::EncodeMultipart(s.fields, boundary, r.body_storage);
  }
  r.body_view = r.body_storage;
  return {};
}

// http.file(data [, filename [, content_type]]): k6's FileData, a table
// {data, filename, content_type} marked by the kFileMeta metatable.
int HttpFile(lua_State* L) {
  constexpr const char* kUsage = "http.file(data [, filename [, content_type]]): ";
  if (lua_type(L, 1) != LUA_TSTRING) {
    RaiseError(L, std::string(kUsage) + "data must be a string (open(path) returns one), got " +
                      lua_typename(L, lua_type(L, 1)));
  }
  if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TSTRING) {
    RaiseError(L, std::string(kUsage) + "filename must be a string, got " +
                      lua_typename(L, lua_type(L, 2)));
  }
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TSTRING) {
      RaiseError(L, std::string(kUsage) + "content_type must be a string, got " +
                        lua_typename(L, lua_type(L, 3)));
    }
    if (ToView(L, 3).find_first_of("\r\n") != std::string_view::npos) {
      RaiseError(L, std::string(kUsage) + "content_type must not contain CR or LF");
    }
  }
  lua_createtable(L, 0, 3);
  lua_pushvalue(L, 1);
  lua_setfield(L, -2, "data");
  if (lua_type(L, 2) == LUA_TSTRING) {
    lua_pushvalue(L, 2);
  } else {
    // k6's default filename: the current time in nanoseconds.
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count();
    char buf[24];
    const int n = std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(ns));
    lua_pushlstring(L, buf, static_cast<size_t>(n));
  }
  lua_setfield(L, -2, "filename");
  if (lua_type(L, 3) == LUA_TSTRING) {
    lua_pushvalue(L, 3);
  } else {
    lua_pushliteral(L, "application/octet-stream");
  }
  lua_setfield(L, -2, "content_type");
  luaL_newmetatable(L, kFileMeta);  // made once, found afterwards
  lua_setmetatable(L, -2);
  return 1;
}

// Fills `r` from (method, url, body, params). Returns an error message or "".
std::string FillRequest(lua_State* L, Runtime& rt, Vu& vu, Vu::Request& r, std::string_view fn,
                        std::string_view method, int url_idx, int body_idx, int params_idx) {
  if (lua_type(L, url_idx) != LUA_TSTRING) {
    return std::string(fn) + ": the URL must be a string, got " +
           lua_typename(L, lua_type(L, url_idx));
  }
  std::string error;
  const Runtime::TargetRef* target = rt.FindTarget(ToView(L, url_idx), &error);
  if (target == nullptr) return std::string(fn) + ": " + error;
  r.target = *target;
  r.method.assign(method.data(), method.size());
  for (char& c : r.method) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));

  r.body_view = {};
  if (body_idx != 0) {
    const int t = lua_type(L, body_idx);
    if (t != LUA_TNIL && t != LUA_TNONE && t != LUA_TSTRING && t != LUA_TTABLE) {
      return std::string(fn) + ": the body must be a string or a table, got " + lua_typename(L, t);
    }
  }

  // params
  size_t nheaders = 0;
  r.name.clear();
  r.tags.clear();
  r.redirects_left = 10;
  r.timeout_ns = 0;
  r.http2_prior_knowledge = rt.options().http2_prior_knowledge;
  r.want_body = !rt.options().discard_response_bodies;
  r.response_callback = vu.response_callback();
  int user_content_type = -1;  // index of the user's Content-Type in r.headers
  bool user_cookie = false, user_traceparent = false, user_baggage = false, user_connection = false;
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
        if (k.size() == 12 && strncasecmp(k.data(), "content-type", 12) == 0) {
          user_content_type = static_cast<int>(nheaders);
        }
        if (k.size() == 6 && strncasecmp(k.data(), "cookie", 6) == 0) user_cookie = true;
        if (k.size() == 11 && strncasecmp(k.data(), "traceparent", 11) == 0) user_traceparent = true;
        if (k.size() == 7 && strncasecmp(k.data(), "baggage", 7) == 0) user_baggage = true;
        if (k.size() == 10 && strncasecmp(k.data(), "connection", 10) == 0) user_connection = true;
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

    lua_getfield(L, params_idx, "http2PriorKnowledge");
    if (lua_isboolean(L, -1)) {
      r.http2_prior_knowledge = lua_toboolean(L, -1) != 0;
    } else if (!lua_isnil(L, -1)) {
      lua_pop(L, 1);
      return std::string(fn) + ": params.http2PriorKnowledge must be true or false";
    }
    lua_pop(L, 1);

    lua_getfield(L, params_idx, "responseType");
    if (lua_type(L, -1) == LUA_TSTRING) r.want_body = ToView(L, -1) != "none";
    lua_pop(L, 1);

    // k6's `responseCallback: null` is `false` here (a nil field is absent).
    lua_getfield(L, params_idx, "responseCallback");
    if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) {
      r.response_callback = ResponseCallback::None();
    } else if (const ResponseCallback* cb = ToCallback(L, -1)) {
      r.response_callback = *cb;
    } else if (!lua_isnil(L, -1)) {
      std::string type = lua_typename(L, lua_type(L, -1));
      lua_pop(L, 1);
      return std::string(fn) +
             ": params.responseCallback must be the result of http.expectedStatuses(...) or "
             "false, got " + type;
    }
    lua_pop(L, 1);
  }
  if (body_idx != 0 && lua_type(L, body_idx) == LUA_TSTRING) {
    r.body_view = ToView(L, body_idx);
  } else if (body_idx != 0 && lua_type(L, body_idx) == LUA_TTABLE) {
    // The body's own Content-Type, when the user set none; else "".
    std::string_view auto_content_type;
    error = EncodeTableBody(L, vu, r, fn, body_idx, user_content_type, &auto_content_type);
    if (!error.empty()) return error;
    if (!auto_content_type.empty()) {
      if (r.headers.size() <= nheaders) r.headers.emplace_back();
      r.headers[nheaders].first.assign("Content-Type");
      r.headers[nheaders].second.assign(auto_content_type);
      ++nheaders;
    }
  }
  if (!user_cookie) {
    if (const std::string* cookie = vu.CookieHeaderFor((*target)->url.host)) {
      if (r.headers.size() <= nheaders) r.headers.emplace_back();
      r.headers[nheaders].first.assign("Cookie");
      r.headers[nheaders].second.assign(*cookie);
      ++nheaders;
    }
  }
  r.user_headers = nheaders;
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
  // noConnectionReuse: tell the server too, as k6 (Go's DisableKeepAlives) does.
  if (ro.no_connection_reuse && !user_connection) r.header_views.push_back({"Connection", "close"});
  return {};
}

// Serialises `r` for its current target and method.
std::string WriteRequest(Runtime& rt, Vu::Request& r) {
  const bool plain = r.user_headers == 0 && r.body_view.empty();
  if (plain && r.written_target == r.target && r.written_views == r.header_views.size() &&
      r.written_method == r.method && r.written_generation == rt.options_generation()) {
    // The same request as the slot's last one: only the traceparent differs.
    if (r.traceparent_at != std::string_view::npos) {
      std::memcpy(r.bytes.data() + r.traceparent_at, r.traceparent, otel::kTraceparentSize);
    }
  } else {
    r.written_target.reset();
    r.bytes.Clear();
    std::string message;
    http::RequestHead head{r.method, r.target->host_header, r.target->url.target, r.header_views};
    if (rt.writer().Write(head, r.body_view, r.bytes, &message) != http::RequestError::kNone) {
      return message;
    }
    if (plain) {
      r.written_target = r.target;
      r.written_method = r.method;
      r.written_generation = rt.options_generation();
      r.written_views = r.header_views.size();
      r.traceparent_at = std::string_view::npos;
      for (const http::Header& h : r.header_views) {
        if (h.value.data() == r.traceparent) {
          r.traceparent_at =
              r.bytes.view().find(std::string_view(r.traceparent, otel::kTraceparentSize));
        }
      }
    }
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

}  // namespace

// Response metatable: res:json(), lazy res.headers and res.timings.
void InstallResponseMeta(lua_State* L, Runtime& rt) {
  luaL_newmetatable(L, kResponseMeta);
  lua_pushlightuserdata(L, &rt);
  lua::PushClosure(L, rt, ResponseJson);
  lua_pushcclosure(L, ResponseIndex, 2);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
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
  SetFunction(L, rt, "file", HttpFile);
  AddResponseCallbackFunctions(L, rt);
  return 1;
}

// Registry key of the response metatable.


namespace {

using lua::ToView;

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
  if (r.status > 0) tags.push_back({"proto", r.http_version == 20 ? "HTTP/2.0" : "HTTP/1.1"});
  if (r.error != net::NetError::kNone) tags.push_back({"error_code", net::Name(r.error)});
  const ResponseVerdict verdict =
      r.response_callback.Judge(r.status, r.error != net::NetError::kNone);
  if (verdict != ResponseVerdict::kUnjudged) {
    tags.push_back({"expected_response", verdict == ResponseVerdict::kExpected ? "true" : "false"});
  }
  vu.AppendContextTags(tags);
  for (const auto& [k, v] : r.tags) tags.push_back({k, v});
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
  host->OnRequest(vu, r, tags, verdict, trace);
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
  const Runtime::TargetRef* target = vu.runtime().FindTarget(next, &error);
  if (target == nullptr) return false;
  r.target = *target;
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
  // Built by the prelude's constructor (make_response), called on the main
  // state: the coroutine is suspended in its yield, and a call must not run
  // on it. Nothing else runs on the main state while the loop completes
  // requests. The result moves to the coroutine's stack.
  Runtime& rt = r.vu.runtime();
  lua_State* L = rt.state();
  lua_rawgeti(L, LUA_REGISTRYINDEX, rt.response_ctor_ref());
  lua_pushnumber(L, r.status);
  lua_pushlstring(L, r.target->redacted.data(), r.target->redacted.size());
  const bool failed = r.error != net::NetError::kNone;
  if (!failed && r.keep_body_bytes > 0) {
    lua_pushlstring(L, r.body.data(), r.body.size());
  } else {
    lua_pushnil(L);
  }
  // `headers` and `timings` are built on first access (most scripts never
  // read them): the raw values are kept in two compact strings, decoded by
  // the metatable's __index.
  if (!failed && !r.headers_in.empty()) {
    thread_local std::string packed;
    packed.clear();
    for (size_t i = 0; i < r.headers_in.size(); ++i) {
      std::string_view n = r.headers_in.name(i), v = r.headers_in.value(i);
      uint32_t lens[2] = {static_cast<uint32_t>(n.size()), static_cast<uint32_t>(v.size())};
      packed.append(reinterpret_cast<const char*>(lens), sizeof lens);
      packed.append(n);
      packed.append(v);
    }
    lua_pushlstring(L, packed.data(), packed.size());
  } else {
    lua_pushnil(L);
  }
  const http::Timings& t = r.timings;
  double ms[8] = {t.BlockedNs() / 1e6,  t.DnsNs() / 1e6,     t.ConnectingNs() / 1e6,
                  t.TlsNs() / 1e6,      t.SendingNs() / 1e6, t.WaitingNs() / 1e6,
                  t.ReceivingNs() / 1e6, t.DurationNs() / 1e6};
  lua_pushlstring(L, reinterpret_cast<const char*>(ms), sizeof ms);
  // k6's proto: the protocol the response came in; empty without one.
  if (r.status == 0) {
    lua_pushliteral(L, "");
  } else if (r.http_version == 20) {
    lua_pushliteral(L, "HTTP/2.0");
  } else {
    lua_pushliteral(L, "HTTP/1.1");
  }
  lua_call(L, 6, 1);
  if (failed) {
    std::string_view code = net::Name(r.error);
    lua_pushlstring(L, code.data(), code.size());
    lua_setfield(L, -2, "error_code");
    lua_pushlstring(L, r.error_detail.data(), r.error_detail.size());
    lua_setfield(L, -2, "error");
  }
  lua_xmove(L, co, 1);
}

}  // namespace stampede::script