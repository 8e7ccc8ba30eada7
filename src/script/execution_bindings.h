// Internal to script/: `require("stampede.execution")` (execution_bindings.cc),
// k6's k6/execution over the running VU and the run's Execution.
#pragma once

struct lua_State;

namespace stampede::script {

// Pushes the module table; returns 1. A closure over the Runtime (upvalue 1).
int OpenExecutionModule(lua_State* L);

}  // namespace stampede::script
