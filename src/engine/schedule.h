// Pure schedules of the load model: how many VUs a ramping-vus scenario has
// at an instant, and at which instants an arrival-rate scenario starts its
// iterations. No clock: times are plain nanoseconds since the scenario's own
// start (the engine adds Scenario::start_time_ns and its monotonic origin), so
// the engine can arm one timer for the next change instead of polling.
//
// Immutable after construction; every method is const and may be called from
// any thread. Constructors take validated values (engine/plan.h); behaviour
// on invalid ones (negative durations, time_unit <= 0) is unspecified.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "engine/plan.h"

namespace stampede::engine {

// Returned when there is no further change / arrival.
inline constexpr int64_t kNeverNs = std::numeric_limits<int64_t>::max();

// The VU count of a ramping-vus scenario over time (k6's "raw execution
// steps"). Within a stage going from `a` to `b` VUs over D ns, starting at S,
// the global count at S + x (0 <= x < D) is the linear value
// a + (b - a) * x / D rounded toward `a` (down while ramping up, up while
// ramping down): ramping 0 → 10 over 10s adds VU 1 at 1s and VU 10 at 10s;
// ramping 10 → 0 over 10s stops the 10th VU at 1s and the last one at 10s.
// A 0-long stage jumps at its start instant. At the end of the stages the
// count drops to 0 (the scenario's regular duration is over).
//
// With a stripe (an instance's or worker's share, see SegmentForInstance and
// SegmentFor), the share has the global VUs u (0-based) with
// stripe.Owns(u), and VusAt() is how many of those are below the global
// count: local VU j (global number stripe.Global(j)) should be running iff
// j < VusAt(t). Summed over the shares' stripes, VusAt() equals the global
// count at every instant.
//
// gracefulRampDown (Scenario::graceful_ramp_down_ns), enforced by the engine:
// when VusAt() decreases, the VUs with the highest local numbers are asked to
// stop: each finishes the iteration it is running (no new one starts) and is
// interrupted if that iteration is still running gracefulRampDown after the
// decrease. At the end of the stages the same applies with gracefulStop.
class RampingVusSchedule {
 public:
  RampingVusSchedule(int64_t start_vus, std::vector<Stage> stages, Stripe stripe = {});
  // From a ramping-vus scenario (start_vus, stages, stripe).
  explicit RampingVusSchedule(const Scenario& scenario);

  // VUs that should be running at t_ns (ns since the scenario's start).
  // 0 before 0 and from TotalDurationNs() on.
  int64_t VusAt(int64_t t_ns) const;

  // The first instant after t_ns at which VusAt() differs from VusAt(t_ns),
  // or kNeverNs. VusAt() is constant over [t_ns, NextChangeNs(t_ns)).
  int64_t NextChangeNs(int64_t t_ns) const;

  // The sum of the stages' durations (the regular duration).
  int64_t TotalDurationNs() const { return total_ns_; }
  // The most VUs VusAt() ever returns.
  int64_t MaxVus() const;

 private:
  struct Segment {
    int64_t start_ns;
    int64_t duration_ns;
    int64_t from;  // global VUs at the start of the stage
    int64_t to;    // global VUs at its end
  };
  int64_t GlobalVusAt(int64_t t_ns) const;
  int64_t NextCandidate(int64_t t_ns) const;
  int64_t Local(int64_t global) const;

  int64_t start_vus_;
  std::vector<Segment> segments_;
  Stripe stripe_;
  int64_t total_ns_ = 0;
};

// The start instants of an arrival-rate scenario's iterations.
//
// constant-arrival-rate (as k6): global iteration k (0-based) starts at
// floor(k * time_unit / rate), the first one at 0, while that is before
// `duration`.
//
// ramping-arrival-rate (as k6's cal()): the rate moves linearly within each
// stage from the previous target (or start_rate) to the stage's target;
// global iteration k starts at the first instant where the integral of the
// rate since 0 reaches k + 1 (so a stage at a constant 2/s starts its first
// iteration at 0.5s), computed analytically per stage (solving the quadratic
// area equation), while that is before the end of the stages.
//
// With a stripe (an instance's or worker's share), the share starts the
// global iterations stripe.Global(j), j = 0, 1, 2, ...: local index j. The
// union over the shares' stripes is exactly the global schedule.
class ArrivalSchedule {
 public:
  static ArrivalSchedule Constant(int64_t rate, int64_t time_unit_ns, int64_t duration_ns,
                                  Stripe stripe = {});
  static ArrivalSchedule Ramping(int64_t start_rate, int64_t time_unit_ns,
                                 std::vector<Stage> stages, Stripe stripe = {});
  // From a constant- or ramping-arrival-rate scenario.
  static ArrivalSchedule For(const Scenario& scenario);

  // Start instant (ns since the scenario's start) of this worker's j-th
  // iteration (0-based), or kNeverNs if j >= TotalArrivals(). Non-decreasing
  // in j.
  int64_t ArrivalNs(uint64_t j) const;
  // How many iterations this worker starts in all.
  uint64_t TotalArrivals() const { return total_local_; }
  // How many of this worker's iterations start before t_ns (binary search).
  uint64_t ArrivalsBefore(int64_t t_ns) const;
  // The global sequence number of local iteration j.
  uint64_t GlobalIndex(uint64_t j) const { return stripe_.Global(j); }
  // When new iterations stop: `duration` or the sum of the stages.
  int64_t DurationNs() const { return duration_ns_; }

 private:
  struct Segment {
    int64_t start_ns;
    int64_t duration_ns;
    int64_t from;       // rate at the start, per time unit
    int64_t to;         // rate at the end, per time unit
    __int128 area_end;  // 2 * time_unit * (iterations owed by its end)
  };
  ArrivalSchedule() = default;
  int64_t GlobalArrivalNs(uint64_t k) const;
  void Finish();

  bool constant_ = true;
  int64_t rate_ = 0;
  int64_t time_unit_ns_ = 1;
  int64_t duration_ns_ = 0;
  std::vector<Segment> segments_;
  Stripe stripe_;
  uint64_t total_global_ = 0;
  uint64_t total_local_ = 0;
};

}  // namespace stampede::engine
