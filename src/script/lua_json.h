// Conversions between Lua values and JSON (nlohmann::json) for the cold
// paths: the script's `options`, setup() data handed to every worker.
// Not for the request hot path.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

struct lua_State;

namespace stampede::script {

// Converts the value at `index`. Tables with keys 1..n are arrays, others
// objects (keys converted to strings). Returns false and sets *error (naming
// the `path`, e.g. "options.stages[2].target") for functions, userdata,
// threads, cycles or nesting deeper than 64.
bool LuaToJson(lua_State* L, int index, const std::string& path, nlohmann::json* out,
               std::string* error);

// Pushes `value` onto L's stack (null → nil).
void PushJson(lua_State* L, const nlohmann::json& value);

}  // namespace stampede::script
