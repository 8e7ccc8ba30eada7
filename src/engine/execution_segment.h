// k6 execution segments: how several stampede instances split one test so
// that together they run exactly the whole of it, each knowing only its own
// segment (a part [from, to] of the work, 0 <= from < to <= 1) and the
// sequence of all the instances' segments. Semantics follow k6
// (lib/execution_segment.go, lib/options.go Validate, lib/executor/*.go);
// deviations are marked "stampede:".
//
// Cold path, main thread: everything here runs once, while the plan is
// built; the results (Stripe, Plan) are plain immutable data that any thread
// may read. Errors in the user's input are thrown as core::ConfigError (exit
// code 104) with one line naming the flag, the bad value and the fix, e.g.
//   --execution-segment "3/4:1/4": the start must be below the end (e.g. 1/4:2/4)
// Errors in a caller's arguments are std::invalid_argument.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/plan.h"

namespace stampede::engine {

// The longest repeat (k6's "lcd": the least common denominator of the
// segments' lengths) of a striping. A stripe stores one residue per owned
// number of a period, so this bounds the memory (8 bytes a residue) and the
// time to build one. It also bounds every denominator the parsers accept.
inline constexpr uint64_t kMaxSegmentDenominator = 1'000'000;

// An exact rational num/den, always reduced (gcd 1) with den > 0.
struct Rational {
  uint64_t num = 0;
  uint64_t den = 1;

  // num/den reduced. Throws std::invalid_argument if den == 0.
  static Rational Of(uint64_t num, uint64_t den);
  // k6's RatString: "1/4", or "0", "1" for whole numbers.
  std::string ToString() const;
  bool operator==(const Rational&) const = default;
  std::strong_ordering operator<=>(const Rational& other) const;
};

// A part [from, to] of the whole test, 0 <= from < to <= 1. The default is
// 0:1, the whole test.
class ExecutionSegment {
 public:
  ExecutionSegment() = default;
  // Throws std::invalid_argument unless 0 <= from < to <= 1.
  ExecutionSegment(Rational from, Rational to);

  // Parses --execution-segment (k6 syntax): "<start>:<end>" or "<end>"
  // (meaning 0:<end>), each a fraction ("1/4"), a decimal ("0.25") or a
  // percentage ("25%"); "" is the whole test. stampede: spaces around the
  // values are ignored, and percentages may have decimals ("12.5%").
  // Throws core::ConfigError naming --execution-segment.
  static ExecutionSegment Parse(std::string_view text);

  Rational from() const { return from_; }
  Rational to() const { return to_; }
  Rational Length() const;
  bool IsWhole() const { return from_ == Rational{0, 1} && to_ == Rational{1, 1}; }
  // "1/4:1/2" (k6's String), parseable by Parse().
  std::string ToString() const;
  bool operator==(const ExecutionSegment&) const = default;

 private:
  Rational from_{0, 1};
  Rational to_{1, 1};
};

// The points r1 < r2 < ... < rn (n >= 2, 0 <= r1, rn <= 1) that cut the work
// into the segments r1:r2, r2:r3, ..., the parts of all the instances of a
// test. Empty (the default) means "not given".
class ExecutionSegmentSequence {
 public:
  ExecutionSegmentSequence() = default;
  // Throws std::invalid_argument unless the points are as above (or none).
  explicit ExecutionSegmentSequence(std::vector<Rational> points);

  // Parses --execution-segment-sequence (k6 syntax): comma-separated points
  // in the syntax of ExecutionSegment::Parse, e.g. "0,1/4,2/4,3/4,1"; ""
  // means not given. A sequence need not start at 0 or end at 1: the gaps
  // are filled with segments of their own (k6
  // GetFilledExecutionSegmentSequence). Throws core::ConfigError naming
  // --execution-segment-sequence.
  static ExecutionSegmentSequence Parse(std::string_view text);

  bool empty() const { return points_.empty(); }
  const std::vector<Rational>& points() const { return points_; }
  // The segments between consecutive points, in order.
  std::vector<ExecutionSegment> Segments() const;
  // "0,1/4,1/2,1" (k6's String), parseable by Parse(); "" when empty.
  std::string ToString() const;
  bool operator==(const ExecutionSegmentSequence&) const = default;

 private:
  std::vector<Rational> points_;
};

// One segment within its (filled) sequence, with k6's striping computed
// (k6's ExecutionTuple on an ExecutionSegmentSequenceWrapper).
//
// Striping (k6 NewExecutionSegmentSequenceWrapper): with L the least common
// denominator of the segments' lengths and n_i = length_i * L, the numbers
// 0 .. L-1 are dealt one by one, in order, each to the first segment, in
// order of decreasing n_i (ties: sequence order), whose count so far c_i
// satisfies t * n_i >= c_i * L (no segment ahead of its share); the pattern
// repeats every L. So segment i owns n_i of every L consecutive numbers,
// spread out as evenly as the greedy rule allows, and every number is owned
// by exactly one segment.
class ExecutionTuple {
 public:
  // `segment` within `sequence`. With no sequence (empty), the sequence is
  // 0, from, to, 1 (without the empty ends). Otherwise `segment` must be one
  // of the sequence's own segments (k6 Options.Validate), and the sequence
  // is filled with 0:r1 and rn:1 where it does not reach 0 or 1.
  // Throws core::ConfigError when the segment is not in the sequence, or
  // when the striping would repeat only after more than
  // kMaxSegmentDenominator numbers.
  ExecutionTuple(const ExecutionSegment& segment, const ExecutionSegmentSequence& sequence);

  // The filled sequence's points, 0 .. 1, and this segment's index in it.
  const std::vector<Rational>& points() const { return points_; }
  size_t index() const { return index_; }
  // L above (k6 LCD).
  uint64_t lcd() const { return lcd_; }
  // The numbers this segment owns (k6 GetStripedOffsets, as a residue set).
  const Stripe& stripe() const { return stripes_[index_]; }
  // Segment i's stripe, i < points().size() - 1.
  const Stripe& StripeOf(size_t i) const { return stripes_.at(i); }

  // This segment's share of `value` things (k6 ScaleInt64):
  // stripe().CountBelow(value). Summed over the sequence's segments it is
  // exactly `value`. value >= 0.
  int64_t Scale(int64_t value) const;

  // k6 GetNewExecutionTupleFromValue(value): the sequence re-cut so that
  // each segment's length is its share of `value` (Scale of its own tuple)
  // divided by `value`, segments with no share dropped, and this segment in
  // it; unchanged when value is a multiple of lcd(). nullopt when value < 1
  // or this segment's share of `value` is 0 (k6: an error, no work).
  // k6 re-cuts by `vus` to split shared-iterations' iterations and by
  // `maxVUs` to stripe the arrival-rate executors' iteration starts, so that
  // the starts follow the VUs. Throws std::length_error when the new
  // striping would repeat only after more than kMaxSegmentDenominator.
  std::optional<ExecutionTuple> ScaledBy(int64_t value) const;

 private:
  // Stripes the full sequence `points`; throws std::length_error as
  // StripeSegments does.
  ExecutionTuple(std::vector<Rational> points, size_t index);

  std::vector<Rational> points_;
  size_t index_ = 0;
  uint64_t lcd_ = 1;
  std::vector<Stripe> stripes_;
};

// k6's striping of a full sequence (see ExecutionTuple) given by the
// segments' lengths (each > 0, summing to exactly 1): one stripe per segment,
// and the period L. Throws std::invalid_argument if the lengths don't sum to
// 1, std::length_error if L > kMaxSegmentDenominator.
std::vector<Stripe> StripeSegments(const std::vector<Rational>& lengths, uint64_t* lcd = nullptr);

// This instance's share of the whole test (a plan from ParsePlan), when the
// instances run the segments of `sequence` and this one runs `segment`
// (k6's executors on an ExecutionTuple). Summed over the segments of a
// sequence from 0 to 1, every instance given that same sequence, the load is
// exactly the whole's, at every instant. (Without a sequence each instance
// stripes against its own 0, from, to, 1, and the shares need not add up,
// as in k6: give all instances the sequence.) With T the tuple of `segment`
// in `sequence`:
//   - every executor: vu_stripe = T.stripe() (the instance's global VU
//     numbers), and every VU count below is T.Scale(count) =
//     vu_stripe.CountBelow(count);
//   - shared-iterations: `vus` scaled; `iterations` =
//     T.ScaledBy(vus).Scale(iterations) (iterations follow the VUs; 0
//     without VUs);
//   - per-vu-iterations, constant-vus: `vus` scaled (iterations per VU kept);
//   - ramping-vus: `stripe` = T.stripe() over the global VU numbers,
//     `startVUs` and `stages` kept as the shape;
//   - constant-/ramping-arrival-rate: `preAllocatedVUs` and `maxVUs` scaled;
//     `stripe` = T.ScaledBy(maxVUs).stripe() over the global iteration start
//     numbers (empty when the instance has no VU of it), rates and stages
//     kept as the shape, so the instances' start instants interleave and
//     their union is the whole's schedule.
// Split further between the instance's worker threads with SegmentFor().
// With the whole segment (and no sequence, or "0,1") the share equals the
// whole (with part == PlanPart::kInstance).
// Throws core::ConfigError as ExecutionTuple does, and naming the scenario
// when a re-cut striping (by vus or maxVUs) would be too long; throws
// std::invalid_argument if `whole` is not a whole plan.
Plan SegmentForInstance(const Plan& whole, const ExecutionSegment& segment,
                        const ExecutionSegmentSequence& sequence);

}  // namespace stampede::engine
