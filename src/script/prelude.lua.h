// Lua source run before the user's script. check() and group() are written in
// Lua so that user functions they call may themselves block (yield): a C
// function cannot call user Lua that yields.
#pragma once

namespace stampede::script {

inline constexpr const char* kPrelude = R"LUA(
-- Locals, not globals, on the per-iteration paths (check runs every
-- iteration): a global lookup is a hash lookup in the interpreter.
local type, pcall, error, tostring, next = type, pcall, error, tostring, next
local record_check, group_enter, group_exit = __stampede.record_check,
    __stampede.group_enter, __stampede.group_exit
local span_begin, span_end, span_current = __stampede.span_begin, __stampede.span_end,
    __stampede.span_current

-- The response object of http.* (PushResponse in http_bindings.cc): a table
-- constructor with constant keys is far cheaper than the C API's one
-- lua_setfield (a key interned) per field. `headers` and `timings` are packed
-- strings that the metatable's __index decodes on first access.
do
  local setmetatable, meta = setmetatable, __stampede.response_meta
  __stampede.make_response = function(status, url, body, headers, timings, proto)
    return setmetatable({ status = status, url = url, proto = proto, body = body,
                          __headers = headers, __timings = timings }, meta)
  end
end

-- res:json() decodes with lua-cjson (JSON null is cjson.null, as in
-- OpenResty); without the module, the C decoder behind it answers instead.
do
  local ok, cjson = pcall(require, "cjson")
  if ok then
    local decode = cjson.decode
    __stampede.response_json = function(res)
      local body = rawget(res, "body")
      if type(body) ~= "string" then
        error("res:json(): the response has no body (discarded, or the request failed)", 2)
      end
      local parsed, value = pcall(decode, body)
      if not parsed then
        error("res:json(): the body is not valid JSON (" .. tostring(value) .. ")", 2)
      end
      return value
    end
  end
end

function check(value, sets, tags)
  if type(sets) ~= "table" then
    error("check(value, sets): sets must be a table of name = function(value) or boolean", 2)
  end
  if tags ~= nil and type(tags) ~= "table" then
    error("check(value, sets, tags): tags must be a table", 2)
  end
  local all = true
  for name, fn in next, sets do
    local passed
    if type(fn) == "function" then
      local ok, res = pcall(fn, value)
      if not ok then
        record_check(tostring(name), false, tags)
        error(res, 0)
      end
      passed = res and true or false
    else
      passed = fn and true or false
    end
    record_check(tostring(name), passed, tags)
    if not passed then all = false end
  end
  return all
end

function group(name, fn)
  if type(name) ~= "string" or name == "" then
    error("group(name, fn): name must be a non-empty string", 2)
  end
  if type(fn) ~= "function" then
    error("group(name, fn): fn must be a function", 2)
  end
  group_enter(name)
  local ok, res = pcall(fn)
  group_exit(not ok and tostring(res) or nil)
  if not ok then error(res, 0) end
  return res
end

trace = {}

-- trace.span(name, fn): fn runs inside an INTERNAL span, the parent of the
-- requests (and spans) it makes; returns fn's result.
function trace.span(name, fn)
  if type(name) ~= "string" or name == "" then
    error("trace.span(name, fn): name must be a non-empty string", 2)
  end
  if type(fn) ~= "function" then
    error("trace.span(name, fn): fn must be a function", 2)
  end
  span_begin(name)
  local ok, res = pcall(fn)
  span_end(not ok and tostring(res) or nil)
  if not ok then error(res, 0) end
  return res
end

-- trace.current(): { trace_id = "32 hex", span_id = "16 hex", sampled = bool }
-- of the innermost span (a trace.span, a group, or the iteration).
function trace.current()
  return span_current()
end

-- pairs() honours a __pairs metamethod, as in Lua 5.2 (LuaJIT's does not):
-- pairs(ENV) lists the environment although ENV is a proxy.
do
  local getmetatable, rawget, rawpairs = getmetatable, rawget, pairs
  function pairs(t)
    local mt = getmetatable(t)
    local mp = type(mt) == "table" and rawget(mt, "__pairs") or nil
    if mp ~= nil then return mp(t) end
    return rawpairs(t)
  end
end

function fail(message)
  error(message == nil and "fail() called" or tostring(message), 2)
end
)LUA";

}  // namespace stampede::script
