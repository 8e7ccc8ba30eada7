// The script's top-level `options` other than the load model (which
// ParsePlan reads) and the thresholds (metrics::ThresholdSet): HTTP client
// behaviour, lifecycle time limits, and the check of the table's keys.
//
// Cold path, main thread, pure: ParseScriptOptions() runs once before the
// workers start. Errors are thrown as core::ConfigError (exit code 104) with
// one line naming the option, what was given and what is expected, e.g.
//   options: "discardResponseBodies" must be a boolean (true or false), got "yes"
//
// Semantics follow k6 (lib/options.go); deviations are marked "stampede:".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace stampede::engine {

// What the script's `options` set; an absent (nil) option is nullopt.
struct ScriptOptions {
  std::optional<bool> discard_response_bodies;   // `discardResponseBodies`
  std::optional<bool> insecure_skip_tls_verify;  // `insecureSkipTLSVerify`
  std::optional<std::string> user_agent;         // `userAgent`
  std::optional<int64_t> setup_timeout_ns;       // `setupTimeout`, > 0
  std::optional<int64_t> teardown_timeout_ns;    // `teardownTimeout`, > 0
  // `noConnectionReuse`: every request on a new connection, closed after it.
  std::optional<bool> no_connection_reuse;
  // `noVUConnectionReuse`: a VU's connections are closed at the end of each
  // iteration (never reused by its next iteration, nor by another VU).
  std::optional<bool> no_vu_connection_reuse;
  // `http2PriorKnowledge` (stampede's): http:// requests speak h2c.
  std::optional<bool> http2_prior_knowledge;
  // `batch` / `batchPerHost`: the most requests of one http.batch() call in
  // flight at once, in total and per host (0: no limit). k6's defaults are
  // kDefaultBatch and kDefaultBatchPerHost.
  std::optional<int64_t> batch;
  std::optional<int64_t> batch_per_host;

  // One line (no prefix) naming the top-level keys stampede does not read —
  // k6 options it does not implement, and unknown names with the closest
  // known option when one is near (a likely typo) — or empty when every key
  // is known. The run goes on: the caller prints it as a warning.
  std::string ignored_warning;
};

inline constexpr int64_t kDefaultBatch = 20;
inline constexpr int64_t kDefaultBatchPerHost = 6;
// Keeps batch limits in uint32_t.
inline constexpr int64_t kMaxBatch = 1'000'000;

// Reads and type-checks `options` (the script's global as JSON: null or an
// object; null values count as absent). Keys of the load model and the
// thresholds are only recognised here, not validated. Throws
// core::ConfigError for a known option of the wrong type or out of range, and
// for an `options` that is not a table.
ScriptOptions ParseScriptOptions(const nlohmann::json& options);

// The top-level option names stampede reads, and the k6 option names it knows
// but ignores (sorted). For documentation and tests.
const std::vector<std::string_view>& KnownTopLevelOptions();
const std::vector<std::string_view>& IgnoredK6Options();

}  // namespace stampede::engine
