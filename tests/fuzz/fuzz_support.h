// What every fuzz target of tests/fuzz shares: an invariant check that
// libFuzzer reports as a finding, and "the parser refused this input the
// way it refuses bad input" (a one-line core::ConfigError, never empty).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/error.h"

namespace stampede::fuzz {

// Aborts (a finding, with `what` and the input's `detail` on stderr: run.sh
// greps for "invariant broken") unless `condition` holds.
inline void Require(bool condition, const char* what, std::string_view detail = {}) {
  if (condition) return;
  std::fprintf(stderr, "invariant broken: %s\n%.*s\n", what, static_cast<int>(detail.size()),
               detail.data());
  std::abort();
}

// Runs f(); true when it threw core::ConfigError (with a message), false
// when it returned. Any other exception escapes: a finding.
template <typename F>
bool Refused(F&& f) {
  try {
    f();
    return false;
  } catch (const core::ConfigError& e) {
    Require(std::string_view(e.what()).size() > 0, "an empty error message");
    return true;
  }
}

}  // namespace stampede::fuzz
