// Internal to script/: the Lua API (`stampede.http`, check, sleep, group,
// fail, random_int, uuid, open, ENV, vu, scenario) and the glue that turns
// finished requests into Lua response tables and host callbacks.
#pragma once

#include "script/runtime.h"
#include "script/vu.h"

struct lua_State;

namespace stampede::script {

// Installs the API into L's globals and package.preload.
void OpenBindings(lua_State* L, Runtime& runtime);

// http_bindings.cc: `require("stampede.http")` (a closure over the Runtime),
// and the response objects' metatable, registered under kResponseMeta.
inline constexpr char kResponseMeta[] = "stampede.response";
int OpenHttpModule(lua_State* L);
void InstallResponseMeta(lua_State* L, Runtime& runtime);

// metrics_bindings.cc: `require("stampede.metrics")` (custom metrics) and the
// metric objects' metatable.
int OpenMetricsModule(lua_State* L);
void InstallMetricMeta(lua_State* L, Runtime& runtime);

// ws_bindings.cc: `require("stampede.ws")` (WebSockets, k6's k6/ws shape).
int OpenWsModule(lua_State* L);

// response_callback_bindings.cc: adds http.expectedStatuses and
// http.setResponseCallback to the module table on top of the stack, and
// reads a callback: the ResponseCallback of the expectedStatuses object at
// `idx`, or null when the value is something else.
void AddResponseCallbackFunctions(lua_State* L, Runtime& runtime);
const ResponseCallback* ToCallback(lua_State* L, int idx);

// Called when one request of a VU ends: reports it to the host, stores
// cookies, and, for a redirect that should be followed, sends the next hop
// and returns true.
bool FollowRedirect(Vu& vu, Vu::Request& request);

// Pushes the response object of a finished request onto `co`.
void PushResponse(lua_State* co, Vu::Request& request);

}  // namespace stampede::script
