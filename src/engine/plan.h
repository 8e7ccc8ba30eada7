// The load model: what the script's `options` (and the CLI's shortcut flags)
// ask the whole test to do, as a list of k6-style scenarios, and how that
// whole is split between workers so that the workers together do exactly it.
//
// Cold path, main thread: ParsePlan() and SegmentFor() run once before the
// workers start; the resulting Plan is plain, immutable data that any thread
// may read afterwards. Errors are thrown as core::ConfigError (exit code 104)
// whose message is one line naming the scenario, the option and the fix, e.g.
//   scenario "browse": ramping-vus needs "stages" (a list of {duration, target})
//
// Semantics follow k6 (lib/executor/*.go, lib/executor/execution_config_shortcuts.go,
// lib/options.go Apply, lib/types/types.go); deviations are marked "stampede:".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stampede::engine {

enum class ExecutorType {
  kSharedIterations,     // "shared-iterations": `iterations` shared by `vus`
  kPerVuIterations,      // "per-vu-iterations": each of `vus` runs `iterations`
  kConstantVus,          // "constant-vus": `vus` loop for `duration`
  kRampingVus,           // "ramping-vus": VU count follows `stages`
  kConstantArrivalRate,  // "constant-arrival-rate": `rate` starts per `timeUnit`
  kRampingArrivalRate,   // "ramping-arrival-rate": start rate follows `stages`
};

// k6's name of an executor ("ramping-vus", ...).
std::string_view ExecutorName(ExecutorType type);

// One stage of a ramp. For ramping-vus `target` is a VU count; for
// ramping-arrival-rate it is iterations started per `time_unit_ns`. The value
// moves linearly from the previous stage's target (or the start value) to
// `target` over `duration_ns`; a 0 duration is an instant jump.
struct Stage {
  int64_t duration_ns = 0;
  int64_t target = 0;
  bool operator==(const Stage&) const = default;
};

// A share of a numbered sequence (global VU numbers for ramping-vus, global
// iteration start numbers for the arrival-rate executors, global VU numbers
// of every executor in Scenario::vu_stripe): a periodic set of the numbers
// 0, 1, 2, ... The stripe owns number k iff k % period() is one of
// residues(), a sorted list of distinct values below period(). It is kept in
// its canonical form (the smallest period), so equal sets compare equal:
//   - the whole, {period 1, residues {0}}, is the default (unsegmented test);
//   - nothing: period 0, no residues (Empty());
//   - the classic "every stride-th from offset": Stripe(offset, stride).
// k6's execution-segment striping (engine/execution_segment.h) yields the
// general form; Compose() splits a stripe further between workers.
//
// The residue vector is built once, at plan time (cold path, may allocate);
// the queries below are O(log residues) and never allocate, so they may run
// per VU or iteration start. Immutable after construction; any thread may
// read it.
class Stripe {
 public:
  // The whole sequence.
  Stripe() : period_(1), residues_{0} {}
  // Owns k iff stride > 0 and k % stride == offset (offset < stride);
  // stride 0 owns nothing. Throws std::invalid_argument if offset >= stride
  // > 0.
  Stripe(uint64_t offset, uint64_t stride);
  // Owns k iff k % period is in `residues` (any order, no duplicates, each
  // below `period`; period 0 requires none). Throws std::invalid_argument on
  // a violation. Canonicalizes (e.g. {4, {0, 2}} becomes {2, {0}}).
  static Stripe FromResidues(uint64_t period, std::vector<uint64_t> residues);
  // Owns nothing.
  static Stripe None() { return Stripe(0, 0); }

  uint64_t period() const { return period_; }
  const std::vector<uint64_t>& residues() const { return residues_; }

  bool Owns(uint64_t k) const;
  // How many of the numbers 0 .. n-1 this stripe owns.
  uint64_t CountBelow(uint64_t n) const;
  // The global number of the stripe's `local`-th (0-based) member;
  // UINT64_MAX when Empty().
  uint64_t Global(uint64_t local) const;
  // The smallest owned number >= x / the largest owned number <= y, if any.
  std::optional<uint64_t> FirstAtOrAbove(uint64_t x) const;
  std::optional<uint64_t> LastAtOrBelow(uint64_t y) const;
  bool IsWhole() const { return period_ == 1; }
  bool Empty() const { return period_ == 0; }
  bool operator==(const Stripe&) const = default;

 private:
  void Canonicalize();

  uint64_t period_;
  std::vector<uint64_t> residues_;
};

// The members of `outer` whose index among outer's members (0-based, in
// increasing order) is congruent to `w` modulo `W`: worker w's part when
// `outer`'s members are dealt round-robin to W workers. If outer has m
// residues per period P, the result repeats every P * W / gcd(m, W) numbers
// with m / gcd(m, W) residues. The Compose(outer, W, w) for w = 0 .. W-1 are
// disjoint, their union is outer, and
// Compose(outer, W, w).CountBelow(n) == Stripe(w, W).CountBelow(outer.CountBelow(n)).
// Throws std::invalid_argument if W == 0 or w >= W. Cold path.
Stripe Compose(const Stripe& outer, uint64_t W, uint64_t w);

// One scenario, with k6's defaults filled in and validated. Times are
// nanoseconds relative to the start of the test (start_time_ns) or of the
// scenario (everything else).
//
// After SegmentForInstance() (engine/execution_segment.h) and/or
// SegmentFor(), the fields marked [share] hold this instance's or worker's
// share; the fields marked [shape] still describe the whole test, and the
// schedules in engine/schedule.h apply `stripe` to them.
struct Scenario {
  std::string name;  // matches ^[0-9a-zA-Z_-]+$; "default" for shortcuts
  ExecutorType type = ExecutorType::kPerVuIterations;
  std::string exec = "default";               // the script function each iteration runs
  int64_t start_time_ns = 0;                  // `startTime`, from the start of the test
  int64_t graceful_stop_ns = 30'000'000'000;  // `gracefulStop`
  // `tags` (added to every metric of the scenario) and `env`, sorted by key.
  std::vector<std::pair<std::string, std::string>> tags;
  std::vector<std::pair<std::string, std::string>> env;

  // shared-iterations, per-vu-iterations, constant-vus.
  int64_t vus = 0;  // [share] `vus`
  // shared-iterations: the total [share]; per-vu-iterations: per VU.
  int64_t iterations = 0;
  int64_t max_duration_ns = 0;  // shared/per-vu-iterations `maxDuration` (10m)
  // constant-vus and constant-arrival-rate `duration`.
  int64_t duration_ns = 0;

  // ramping-vus.
  int64_t start_vus = 0;                           // [shape] `startVUs`
  int64_t graceful_ramp_down_ns = 30'000'000'000;  // `gracefulRampDown`

  // Arrival-rate executors. Rates are iterations started per time_unit_ns.
  int64_t rate = 0;                      // [shape] constant-arrival-rate `rate`
  int64_t start_rate = 0;                // [shape] ramping-arrival-rate `startRate`
  int64_t time_unit_ns = 1'000'000'000;  // `timeUnit`
  int64_t pre_allocated_vus = 0;         // [share] `preAllocatedVUs`
  int64_t max_vus = 0;                   // [share] `maxVUs` (default preAllocatedVUs)

  // ramping-vus (VU targets) and ramping-arrival-rate (rate targets). [shape]
  std::vector<Stage> stages;

  // ramping-vus: which global VU numbers are this share's. Arrival-rate:
  // which global iteration start numbers are this share's. Whole otherwise.
  Stripe stripe;
  // Every executor: which global VU numbers (of `vus`, `startVUs`/stage
  // targets, `preAllocatedVUs`, `maxVUs` of the whole test) are this
  // share's; the [share] VU counts are vu_stripe.CountBelow(whole count).
  // For a VU count set at run time (the dashboard's set_vus), this share
  // runs vu_stripe.CountBelow(new count) VUs. Equals `stripe` for ramping-vus.
  Stripe vu_stripe;

  // The time during which new iterations may start: `duration`,
  // `maxDuration` or the sum of the stages' durations.
  int64_t RegularDurationNs() const;
  // When the scenario is over at the latest, from the start of the test:
  // start_time + regular duration + gracefulStop.
  int64_t EndNs() const { return start_time_ns + RegularDurationNs() + graceful_stop_ns; }
  // The most VUs this scenario (this worker's share of it) needs at once.
  int64_t PeakVus() const;
  // False when this worker's share is empty (no VUs, or no iterations).
  bool HasWork() const;
};

// Which part of the whole test a Plan describes.
enum class PlanPart {
  kWhole,     // ParsePlan(): the whole test
  kInstance,  // SegmentForInstance(): one instance's execution segment
  kWorker,    // SegmentFor(): one worker thread's share (final)
};

struct Plan {
  PlanPart part = PlanPart::kWhole;
  // Sorted by start time, then name.
  std::vector<Scenario> scenarios;
  // The test-wide `tags` option, sorted by key.
  std::vector<std::pair<std::string, std::string>> tags;

  // The longest the test can run: the max over scenarios of EndNs().
  int64_t TotalDurationNs() const;
  // The most VUs alive at once: the peak over time of the sum of the
  // PeakVus() of the scenarios active at that time (a scenario is active over
  // [start_time, EndNs())). For ramping-vus this reserves the stages' peak
  // for the whole scenario, so it may exceed k6's exact per-step count.
  uint32_t MaxVus() const;
};

// CLI flags that shape the load. Each one set takes precedence over the
// script's option of the same name, as in k6: setting --duration,
// --iterations or --stage drops ALL of the script's `duration`, `iterations`,
// `stages` and `scenarios` first (so CLI shortcuts replace script scenarios);
// --vus alone only replaces `vus`.
struct PlanOverrides {
  std::optional<int64_t> vus;
  std::optional<int64_t> duration_ns;
  std::optional<int64_t> iterations;
  std::optional<std::vector<Stage>> stages;  // --stage, in order
};

// Parses one `--stage` value, `<duration>:<target>` (e.g. `30s:50`), with
// the same duration syntax as --duration (core::ParseDuration).
// Throws core::ConfigError.
Stage ParseStageFlag(std::string_view text);

// One top-level duration option of the script (e.g. `setupTimeout`), read
// like every duration of the plan: a k6 duration string ("30s", "1m30s",
// "2d12h", "500" = 500 ms) or a JSON number of MILLISECONDS. Throws
// core::ConfigError `options: ...` naming `key` when `value` is of another
// type, malformed or negative.
int64_t ParseOptionDurationNs(const nlohmann::json& value, std::string_view key);

// Builds the plan of the whole test from the script's `options` table (as
// JSON; null or an object) and the CLI overrides.
//
// Keys read from `options`: vus, duration, iterations, stages, scenarios,
// tags, and gracefulStop (stampede: applies to the scenario derived from the
// shortcuts; k6 has no top-level gracefulStop). Other keys are ignored here.
//
// Shortcuts (k6 DeriveScenariosFromShortcuts), after applying `cli`:
//   iterations [+vus] [+duration] → shared-iterations "default", vus default
//                                   1, maxDuration = duration if set;
//   duration [+vus]               → constant-vus, vus default 1; duration
//                                   must be > 0;
//   stages [+vus]                 → ramping-vus, startVUs = vus (default 1);
//   vus only                      → shared-iterations with iterations = vus;
//   scenarios                     → as given;
//   nothing (or empty stages/scenarios) → per-vu-iterations, 1 VU, 1 iteration.
// iterations or duration together with stages, or any of iterations,
// duration, stages together with scenarios, is an error.
//
// Durations are k6's: a string such as "30s", "1m30s", "1h2m3.5s", "2d12h",
// or a number of MILLISECONDS (a JSON number, or a string holding only a
// number, as k6 reads JSON options).
//
// Throws core::ConfigError (one line) on the first invalid input: a value of
// the wrong type, an unknown executor, an unknown key in a scenario, a
// missing required option, a negative or too small value, maxVUs <
// preAllocatedVUs, a bad scenario name, conflicting shortcuts.
Plan ParsePlan(const nlohmann::json& options, const PlanOverrides& cli);

// Worker `worker`'s share (0-based, < workers) of `whole`: a plan returned
// by ParsePlan (the whole test) or by SegmentForInstance (this instance's
// share of it; then "the whole" below means that instance share, and the
// stripes below are composed with the instance's: Compose(instance stripe,
// workers, worker)). Summed over workers 0 .. workers-1, the load is exactly
// the whole's, at every instant:
//   - VUs are striped: the whole's VU number u (0-based among its members of
//     vu_stripe) belongs to worker u % workers, so `vus` /
//     `pre_allocated_vus` / `max_vus` become ceil-or-floor shares that add
//     up to the total, and vu_stripe = Compose(whole vu_stripe, workers,
//     worker); ramping-vus keeps the stages and sets `stripe` likewise, so a
//     worker runs its VUs exactly while the global VU count covers them (sum
//     of workers' counts = the whole's count at every instant).
//   - shared-iterations: the whole's iteration k goes to its VU k % vus,
//     hence to that VU's worker; `iterations` is the count of those
//     (proportional to the worker's VUs, remainder to the lowest workers).
//     per-vu-iterations keeps `iterations` per VU.
//   - arrival rates: the whole's j-th iteration start (j-th member of its
//     `stripe`) goes to worker j % m, where m = min(workers, whole maxVUs) so
//     that a worker with no VU gets no starts; `stripe` = Compose(whole
//     stripe, m, worker) (empty for workers >= m). The union of the workers'
//     start instants is exactly the whole's.
// The result's `part` is PlanPart::kWorker. Throws std::invalid_argument if
// workers == 0, worker >= workers, or `whole` is already a worker share.
Plan SegmentFor(const Plan& whole, uint32_t worker, uint32_t workers);

}  // namespace stampede::engine
