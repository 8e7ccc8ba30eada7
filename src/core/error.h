// Errors. Cold paths (flags, configuration, script load) throw ConfigError,
// caught once in main, which prints its one-line message and exits with the
// k6-compatible exit code. Hot paths never throw: they return values.
#pragma once

#include <stdexcept>
#include <string>

namespace stampede::core {

// Process exit codes, k6's where k6 has one.
enum class ExitCode : int {
  kOk = 0,
  kThresholdsFailed = 99,
  kInvalidConfig = 104,
  kAbortedBySignal = 105,
  kScriptException = 107,
  kScriptAborted = 108,  // execution.test.abort() (k6's ScriptAborted)
  // A distributed run lost an agent: the result is partial (stampede's own;
  // k6 has no such code, 109 and 110 are its Go panic and MarkedAsFailed).
  kPartialResult = 111,
};

// A user-facing configuration error. `what()` is one line that names the bad
// input and says how to fix it, e.g.
//   invalid --duration "10q": expected a duration such as 30s, 1m30s or 500ms
class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(const std::string& message, ExitCode code = ExitCode::kInvalidConfig)
      : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

}  // namespace stampede::core
