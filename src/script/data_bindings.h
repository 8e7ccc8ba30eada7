// Internal to script/: `require("stampede.data")`, k6's SharedArray for Lua.
// data.csv(path [, options]) and data.json(path [, options]) load a file at
// init into a process-wide read-only Dataset (script/shared_data.h) shared by
// every worker's Lua state; the script gets a userdata handle whose rows are
// read by index (a fresh Lua table per access) and through the helpers
// perVu(), unique() and random(). Misuse and bad files raise Lua errors.
#pragma once

struct lua_State;

namespace stampede::script {

// The module opener for package.preload: a closure whose first upvalue is
// the Runtime (lua::PushClosure). Pushes the module table; returns 1.
int OpenDataModule(lua_State* L);

}  // namespace stampede::script
