// libFuzzer target for the script's `options` table
// (src/engine/script_options.h ParseScriptOptions, and src/engine/plan.h
// ParsePlan / SegmentFor, which read the load model out of the same table).
//
// What is fuzzed: the table as JSON text. A script's `options` reaches the
// engine as JSON (the Lua table is converted by the script layer, which has
// its own tests); the parse entry points take nlohmann::json, so this target
// needs no Lua state and runs at parser speed. Byte 0 picks CLI overrides
// (--vus / --duration / --iterations / --stage) to combine with the table,
// as `stampede run` does; the rest is the JSON text.
//
// Invariants (a broken one aborts; a ConfigError is a normal refusal, any
// other exception is a finding):
//   - script options: batch limits in [0, kMaxBatch], timeouts > 0; parsing
//     is a pure function (same input, same options and warning);
//   - plan: at least one scenario, sorted by start time then name, names
//     non-empty; durations, VUs and rates non-negative; TotalDurationNs and
//     MaxVus don't overflow into negatives;
//   - SegmentFor for 1..3 workers: the workers' `vus`, `pre_allocated_vus`
//     and `max_vus` shares add up to the whole's, and one worker's share is
//     the whole.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "core/error.h"
#include "engine/plan.h"
#include "engine/script_options.h"

namespace stampede::engine {
namespace {

using ::stampede::fuzz::Require;

using ::stampede::fuzz::Refused;

bool SameOptions(const ScriptOptions& a, const ScriptOptions& b) {
  return a.discard_response_bodies == b.discard_response_bodies &&
         a.insecure_skip_tls_verify == b.insecure_skip_tls_verify &&
         a.user_agent == b.user_agent && a.setup_timeout_ns == b.setup_timeout_ns &&
         a.teardown_timeout_ns == b.teardown_timeout_ns &&
         a.no_connection_reuse == b.no_connection_reuse &&
         a.no_vu_connection_reuse == b.no_vu_connection_reuse && a.batch == b.batch &&
         a.batch_per_host == b.batch_per_host && a.ignored_warning == b.ignored_warning;
}


void FuzzScriptOptions(const nlohmann::json& j, std::string_view text) {
  ScriptOptions o;
  if (Refused([&] { o = ParseScriptOptions(j); })) return;
  if (o.batch) Require(*o.batch >= 0 && *o.batch <= kMaxBatch, "batch out of range", text);
  if (o.batch_per_host) {
    Require(*o.batch_per_host >= 0 && *o.batch_per_host <= kMaxBatch, "batchPerHost out of range",
            text);
  }
  if (o.setup_timeout_ns) Require(*o.setup_timeout_ns > 0, "setupTimeout <= 0", text);
  if (o.teardown_timeout_ns) Require(*o.teardown_timeout_ns > 0, "teardownTimeout <= 0", text);
  Require(o.ignored_warning.find('\n') == std::string::npos, "a multi-line warning", text);
  Require(SameOptions(o, ParseScriptOptions(j)), "ParseScriptOptions is not pure", text);
}

PlanOverrides Overrides(uint8_t mode) {
  PlanOverrides cli;
  if (mode & 1) cli.vus = 1 + (mode >> 4);
  if (mode & 2) cli.duration_ns = int64_t{1'000'000'000} * (1 + (mode >> 5));
  if (mode & 4) cli.iterations = 1 + (mode >> 3);
  if (mode & 8) cli.stages = std::vector<Stage>{{1'000'000'000, 2}, {2'000'000'000, 0}};
  return cli;
}

void FuzzPlan(const nlohmann::json& j, uint8_t mode, std::string_view text) {
  Plan plan;
  if (Refused([&] { plan = ParsePlan(j, Overrides(mode)); })) return;
  Require(!plan.scenarios.empty(), "a plan without scenarios", text);
  for (size_t i = 0; i < plan.scenarios.size(); ++i) {
    const Scenario& s = plan.scenarios[i];
    Require(!s.name.empty(), "an unnamed scenario", text);
    if (i > 0) {
      const Scenario& p = plan.scenarios[i - 1];
      Require(p.start_time_ns < s.start_time_ns ||
                  (p.start_time_ns == s.start_time_ns && p.name < s.name),
              "scenarios not sorted (or a duplicate name)", text);
    }
    Require(s.start_time_ns >= 0 && s.graceful_stop_ns >= 0 && s.duration_ns >= 0 &&
                s.max_duration_ns >= 0 && s.graceful_ramp_down_ns >= 0 && s.time_unit_ns > 0,
            "a negative time", text);
    Require(s.vus >= 0 && s.iterations >= 0 && s.start_vus >= 0 && s.rate >= 0 &&
                s.start_rate >= 0 && s.pre_allocated_vus >= 0 && s.max_vus >= 0,
            "a negative count", text);
    for (const Stage& st : s.stages) {
      Require(st.duration_ns >= 0 && st.target >= 0, "a negative stage", text);
    }
    Require(s.EndNs() >= 0, "EndNs overflowed", text);
  }
  Require(plan.TotalDurationNs() >= 0, "TotalDurationNs overflowed", text);
  (void)plan.MaxVus();

  for (uint32_t workers = 1; workers <= 3; ++workers) {
    std::vector<Plan> parts;
    for (uint32_t w = 0; w < workers; ++w) parts.push_back(SegmentFor(plan, w, workers));
    for (size_t i = 0; i < plan.scenarios.size(); ++i) {
      const Scenario& whole = plan.scenarios[i];
      int64_t vus = 0, pre = 0, max = 0;
      for (const Plan& part : parts) {
        Require(part.scenarios.size() == plan.scenarios.size(), "a worker lost a scenario", text);
        const Scenario& s = part.scenarios[i];
        Require(s.name == whole.name, "a worker's scenarios are in another order", text);
        vus += s.vus;
        pre += s.pre_allocated_vus;
        max += s.max_vus;
      }
      Require(vus == whole.vus && pre == whole.pre_allocated_vus && max == whole.max_vus,
              "the workers' VU shares do not add up to the whole", text);
    }
  }
}

}  // namespace
}  // namespace stampede::engine

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace stampede::engine;
  if (size == 0) return 0;
  const uint8_t mode = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  // setupTimeout / teardownTimeout go through plan.cc's duration reader too.
  if (j.is_discarded()) return 0;
  FuzzScriptOptions(j, text);
  FuzzPlan(j, mode, text);
  return 0;
}
