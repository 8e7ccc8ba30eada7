// Internal to script/: `require("stampede.json")`, the Lua form of k6's
// JSON.stringify / JSON.parse habit:
//
//   local json = require("stampede.json")
//   http.post(url, json.encode({ a = 1 }), { headers = { ["Content-Type"] = "application/json" } })
//   local v = json.decode('{"a": [1, 2]}')   --> { a = { 1, 2 } }
//
// Built on lua_json.h (nlohmann::json): tables with keys 1..n are arrays,
// other tables objects (keys sorted in the output); JSON null decodes to nil.
// Misuse or invalid input raises one-line Lua errors (decode names the
// position). Needs no Runtime: works in any lua_State. Cold path.
#pragma once

struct lua_State;

namespace stampede::script {

// Pushes the module table (encode, decode); returns 1.
int OpenJsonModule(lua_State* L);

}  // namespace stampede::script
