#include "engine/execution_segment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "engine/schedule.h"

namespace stampede::engine {
namespace {

using ::testing::ElementsAre;

constexpr int64_t kS = 1'000'000'000;

Rational R(uint64_t num, uint64_t den) { return Rational::Of(num, den); }

std::string SegmentErr(std::string_view text) {
  try {
    ExecutionSegment::Parse(text);
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
    return e.what();
  }
  return "<no error>";
}

std::string SequenceErr(std::string_view text) {
  try {
    ExecutionSegmentSequence::Parse(text);
  } catch (const core::ConfigError& e) {
    EXPECT_EQ(e.code(), core::ExitCode::kInvalidConfig);
    return e.what();
  }
  return "<no error>";
}

ExecutionTuple Tuple(std::string_view segment, std::string_view sequence) {
  return ExecutionTuple(ExecutionSegment::Parse(segment),
                        ExecutionSegmentSequence::Parse(sequence));
}

// A stripe in k6's GetStripedOffsets form: the first owned number, the
// gaps from each owned number to the next over one period of `lcd`.
struct Offsets {
  uint64_t start = 0;
  std::vector<uint64_t> offsets;
};

Offsets K6Offsets(const Stripe& stripe, uint64_t lcd) {
  std::vector<uint64_t> owned;
  for (uint64_t j = 0; stripe.Global(j) < lcd; ++j) owned.push_back(stripe.Global(j));
  Offsets out;
  if (owned.empty()) return out;
  out.start = owned.front();
  for (size_t i = 1; i < owned.size(); ++i) out.offsets.push_back(owned[i] - owned[i - 1]);
  out.offsets.push_back(owned.front() + lcd - owned.back());
  return out;
}

// ---------------------------------------------------------------------------
// Parsing

TEST(ExecutionSegmentTest, ParsesK6Syntax) {
  struct Case {
    const char* text;
    Rational from;
    Rational to;
  };
  const Case cases[] = {
      {"1/4:2/4", R(1, 4), R(1, 2)},
      {"0:1/3", R(0, 1), R(1, 3)},
      {"0.25:0.5", R(1, 4), R(1, 2)},
      {"50%:100%", R(1, 2), R(1, 1)},
      {"1/4", R(0, 1), R(1, 4)},
      {"75%", R(0, 1), R(3, 4)},
      {"2/4:75%", R(1, 2), R(3, 4)},
      {"0:1", R(0, 1), R(1, 1)},
      {".5:1.0", R(1, 2), R(1, 1)},
      {" 1/3 : 2/3 ", R(1, 3), R(2, 3)},  // stampede: spaces
      {"12.5%", R(0, 1), R(1, 8)},        // stampede: decimal percentages
      {"2235/5213:4/5", R(2235, 5213), R(4, 5)},
  };
  for (const Case& c : cases) {
    ExecutionSegment s = ExecutionSegment::Parse(c.text);
    EXPECT_EQ(s.from(), c.from) << c.text;
    EXPECT_EQ(s.to(), c.to) << c.text;
    // k6's String() form parses back to the same segment.
    EXPECT_EQ(ExecutionSegment::Parse(s.ToString()), s) << c.text;
  }
  EXPECT_EQ(ExecutionSegment::Parse("1/4:2/4").ToString(), "1/4:1/2");
  EXPECT_EQ(ExecutionSegment::Parse("1/4:2/4").Length(), R(1, 4));
  EXPECT_TRUE(ExecutionSegment::Parse("").IsWhole());  // k6: "" is 0:1
  EXPECT_TRUE(ExecutionSegment::Parse("0:100%").IsWhole());
  EXPECT_FALSE(ExecutionSegment::Parse("0:99%").IsWhole());
  EXPECT_EQ(ExecutionSegment().ToString(), "0:1");
}

TEST(ExecutionSegmentTest, BadSegmentsNameTheFlagValueAndFix) {
  const std::pair<const char*, const char*> cases[] = {
      {"3/4:1/4",
       R"(--execution-segment "3/4:1/4": the start must be below the end (e.g. 1/4:2/4))"},
      {"55%:50%",
       R"(--execution-segment "55%:50%": the start must be below the end (e.g. 1/4:2/4))"},
      {"1/2:1/2",
       R"(--execution-segment "1/2:1/2": the start must be below the end (e.g. 1/4:2/4))"},
      {"0", R"(--execution-segment "0": the start must be below the end (e.g. 1/4:2/4))"},
      {"125%", R"(--execution-segment "125%": the end can't be above 1 (e.g. 0:1))"},
      {"1/2:5/4", R"(--execution-segment "1/2:5/4": the end can't be above 1 (e.g. 1/2:1))"},
      {"125%:250%", R"(--execution-segment "125%:250%": the end can't be above 1 (e.g. 1/4:2/4))"},
      {"1a5",
       R"(--execution-segment "1a5": "1a5" is not a fraction, decimal or percentage (e.g. 1/4:2/4))"},
      {"1a5%:2/3",
       R"(--execution-segment "1a5%:2/3": "1a5%" is not a fraction, decimal or percentage (e.g. 1/4:2/4))"},
      {"1/4:",
       R"(--execution-segment "1/4:": "" is not a fraction, decimal or percentage (e.g. 1/4:2/4))"},
      {"1e-1",
       R"(--execution-segment "1e-1": "1e-1" is not a fraction, decimal or percentage (e.g. 1/4:2/4))"},
      {"-1/4:1/2",
       R"(--execution-segment "-1/4:1/2": "-1/4" can't be negative; use values from 0 to 1 (e.g. 1/4:2/4))"},
      {"1/0", R"(--execution-segment "1/0": "1/0" divides by zero (e.g. 1/4:2/4))"},
      {"1/4:1/2:1",
       R"(--execution-segment "1/4:1/2:1": expected <start>:<end> or <end>, e.g. 1/4:2/4 or 1/4)"},
      {"0.000000000000000001%",
       R"(--execution-segment "0.000000000000000001%": "0.000000000000000001%" is not a fraction, decimal or percentage (e.g. 1/4:2/4))"},
      {"0:1/3000001",
       R"(--execution-segment "0:1/3000001": "1/3000001" is too fine: use a denominator up to 1000000 (e.g. 1/4:2/4))"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(SegmentErr(text), message) << text;
}

TEST(ExecutionSegmentTest, ConstructorChecksTheRange) {
  EXPECT_THROW(ExecutionSegment(R(1, 2), R(1, 2)), std::invalid_argument);
  EXPECT_THROW(ExecutionSegment(R(0, 1), R(3, 2)), std::invalid_argument);
  EXPECT_NO_THROW(ExecutionSegment(R(0, 1), R(1, 1)));
  EXPECT_THROW(Rational::Of(1, 0), std::invalid_argument);
  EXPECT_EQ(R(2, 4), (Rational{1, 2}));
  EXPECT_LT(R(1, 3), R(1, 2));
  EXPECT_EQ(R(3, 1).ToString(), "3");
}

// k6 TestExecutionSegmentStringSequences.
TEST(ExecutionSegmentSequenceTest, ParsesK6Sequences) {
  struct Case {
    const char* text;
    std::vector<std::string> segments;
    bool can_reverse;
  };
  const Case cases[] = {
      {"0.5,1", {"1/2:1"}, false},
      {"1/2,1", {"1/2:1"}, true},
      {"1/3,2/3", {"1/3:2/3"}, true},
      {"0,1/3,2/3", {"0:1/3", "1/3:2/3"}, true},
      {"0,1/3,2/3,1", {"0:1/3", "1/3:2/3", "2/3:1"}, true},
      {"0.5,0.7", {"1/2:7/10"}, false},
      {"0.5,0.7,1", {"1/2:7/10", "7/10:1"}, false},
      {"0,1/13,2/13,1/3,1/2,3/4,1",
       {"0:1/13", "1/13:2/13", "2/13:1/3", "1/3:1/2", "1/2:3/4", "3/4:1"},
       true},
      {"0,1/4,2/4,3/4,1", {"0:1/4", "1/4:1/2", "1/2:3/4", "3/4:1"}, false},
      {"0, 25%, 0.5, 1", {"0:1/4", "1/4:1/2", "1/2:1"}, false},  // stampede: spaces
  };
  for (const Case& c : cases) {
    ExecutionSegmentSequence seq = ExecutionSegmentSequence::Parse(c.text);
    std::vector<std::string> got;
    for (const ExecutionSegment& s : seq.Segments()) got.push_back(s.ToString());
    EXPECT_EQ(got, c.segments) << c.text;
    if (c.can_reverse) {
      EXPECT_EQ(seq.ToString(), c.text);
    }
  }
  EXPECT_TRUE(ExecutionSegmentSequence::Parse("").empty());
  EXPECT_EQ(ExecutionSegmentSequence::Parse("0,1/4,2/4,3/4,1").points(),
            (std::vector<Rational>{R(0, 1), R(1, 4), R(1, 2), R(3, 4), R(1, 1)}));
}

TEST(ExecutionSegmentSequenceTest, BadSequencesNameTheFlagValueAndFix) {
  const std::pair<const char*, const char*> cases[] = {
      {"0.5",
       R"(--execution-segment-sequence "0.5": needs at least 2 points, the ends of the segments (e.g. 0,1/4,2/4,3/4,1))"},
      {"1,1",
       R"(--execution-segment-sequence "1,1": the points must increase, but 1 follows 1 (e.g. 0,1/4,2/4,3/4,1))"},
      {"1/2,1/3",
       R"(--execution-segment-sequence "1/2,1/3": the points must increase, but 1/3 follows 1/2 (e.g. 0,1/4,2/4,3/4,1))"},
      {"0,1,1/2",
       R"(--execution-segment-sequence "0,1,1/2": the points must increase, but 1/2 follows 1 (e.g. 0,1/4,2/4,3/4,1))"},
      {"-0.5,1",
       R"(--execution-segment-sequence "-0.5,1": "-0.5" can't be negative; use values from 0 to 1 (e.g. 0,1/4,2/4,3/4,1))"},
      {"0,1/2,3/2",
       R"(--execution-segment-sequence "0,1/2,3/2": 3/2 is above 1; the points go from 0 to 1 (e.g. 0,1/4,2/4,3/4,1))"},
      {"0,x,1",
       R"(--execution-segment-sequence "0,x,1": "x" is not a fraction, decimal or percentage (e.g. 0,1/4,2/4,3/4,1))"},
      {"0,,1",
       R"(--execution-segment-sequence "0,,1": "" is not a fraction, decimal or percentage (e.g. 0,1/4,2/4,3/4,1))"},
      {"0;1/2;1",
       R"(--execution-segment-sequence "0;1/2;1": "0;1/2;1" is not a fraction, decimal or percentage (e.g. 0,1/4,2/4,3/4,1))"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(SequenceErr(text), message) << text;
  EXPECT_THROW(ExecutionSegmentSequence({R(1, 2)}), std::invalid_argument);
  EXPECT_THROW(ExecutionSegmentSequence({R(1, 2), R(1, 3)}), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// The tuple: the segment in its filled sequence

TEST(ExecutionTupleTest, SegmentMustBeInTheGivenSequence) {
  auto err = [](std::string_view segment, std::string_view sequence) -> std::string {
    try {
      Tuple(segment, sequence);
    } catch (const core::ConfigError& e) {
      return e.what();
    }
    return "<no error>";
  };
  EXPECT_EQ(err("1/3:2/3", "0,1/4,1/2,1"),
            R"(--execution-segment "1/3:2/3" is not one of the segments of )"
            R"(--execution-segment-sequence "0,1/4,1/2,1"; use one of 0:1/4, 1/4:1/2, 1/2:1)");
  // k6 Options.Validate checks the sequence as given: a gap it would fill
  // is not one of its segments.
  EXPECT_EQ(err("0:1/4", "1/4,1/2"),
            R"(--execution-segment "0:1/4" is not one of the segments of )"
            R"(--execution-segment-sequence "1/4,1/2"; use one of 1/4:1/2)");
  // No --execution-segment (the whole) with a sequence that has more parts.
  EXPECT_EQ(err("", "0,1/2,1"),
            R"(--execution-segment "0:1" is not one of the segments of )"
            R"(--execution-segment-sequence "0,1/2,1"; use one of 0:1/2, 1/2:1)");
  EXPECT_EQ(err("", "0,1"), "<no error>");
  // A long list is cut.
  EXPECT_EQ(err("0:1/3", "0,1/10,2/10,3/10,4/10,5/10,6/10,7/10,8/10,9/10,1"),
            R"(--execution-segment "0:1/3" is not one of the segments of )"
            R"(--execution-segment-sequence "0,1/10,1/5,3/10,2/5,1/2,3/5,7/10,4/5,9/10,1"; use )"
            R"(one of 0:1/10, 1/10:1/5, 1/5:3/10, 3/10:2/5, 2/5:1/2, 1/2:3/5, 3/5:7/10, )"
            R"(7/10:4/5, ... (10 in all))");
}

TEST(ExecutionTupleTest, FillsTheSequenceLikeK6) {
  // No sequence: 0, from, to, 1.
  ExecutionTuple a = Tuple("1/4:1/2", "");
  EXPECT_EQ(a.points(), (std::vector<Rational>{R(0, 1), R(1, 4), R(1, 2), R(1, 1)}));
  EXPECT_EQ(a.index(), 1u);
  ExecutionTuple b = Tuple("0:1/4", "");
  EXPECT_EQ(b.points(), (std::vector<Rational>{R(0, 1), R(1, 4), R(1, 1)}));
  EXPECT_EQ(b.index(), 0u);
  ExecutionTuple whole = Tuple("", "");
  EXPECT_EQ(whole.points(), (std::vector<Rational>{R(0, 1), R(1, 1)}));
  EXPECT_TRUE(whole.stripe().IsWhole());
  // A sequence that starts after 0 or ends before 1 gets the gaps.
  ExecutionTuple c = Tuple("1/4:1/2", "1/4,1/2");
  EXPECT_EQ(c.points(), (std::vector<Rational>{R(0, 1), R(1, 4), R(1, 2), R(1, 1)}));
  EXPECT_EQ(c.index(), 1u);
}

// k6 TestGetStripedOffsets (lib/execution_segment_test.go), same table.
TEST(ExecutionTupleTest, K6GetStripedOffsets) {
  struct Case {
    const char* seq;
    const char* seg;
    uint64_t start;
    std::vector<uint64_t> offsets;
    uint64_t lcd;
  };
  const Case cases[] = {
      // full sequences
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0:0.3", 0, {4, 3, 3}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.3:0.5", 1, {4, 6}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.5:0.6", 2, {10}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", 3, {10}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.8:0.9", 8, {10}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", 9, {10}, 10},
      {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", 9, {10}, 10},
      {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0:0.2", 1, {4, 6}, 10},
      {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", 3, {10}, 10},
      // not full sequences
      {"0,0.2,0.5", "0:0.2", 3, {6, 4}, 10},
      {"0,0.2,0.5", "0.2:0.5", 1, {4, 2, 4}, 10},
      {"0,2/5,4/5", "0:2/5", 0, {3, 2}, 5},
      {"0,2/5,4/5", "2/5:4/5", 1, {3, 2}, 5},
      // no sequence
      {"", "0:0.2", 1, {5}, 5},
      {"", "0:1/5", 1, {5}, 5},
      {"", "0:2/10", 1, {5}, 5},
      {"", "0:0.4", 1, {2, 3}, 5},
      {"", "0:2/5", 1, {2, 3}, 5},
      {"", "2/5:4/5", 1, {3, 2}, 5},
      {"", "0:4/10", 1, {2, 3}, 5},
      {"", "1/10:5/10", 1, {2, 2, 4, 2}, 10},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "seq " << c.seq << " seg " << c.seg);
    ExecutionTuple t = Tuple(c.seg, c.seq);
    EXPECT_EQ(t.lcd(), c.lcd);
    Offsets got = K6Offsets(t.stripe(), t.lcd());
    EXPECT_EQ(got.start, c.start);
    EXPECT_EQ(got.offsets, c.offsets);
  }
}

// k6 TestSequenceLCD.
TEST(ExecutionTupleTest, K6SequenceLcd) {
  const std::pair<const char*, uint64_t> cases[] = {
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", 10},
      {"0,0.1,0.5,0.6,0.7,0.8,0.9,1", 10},
      {"0,0.2,0.5,0.6,0.7,0.8,0.9,1", 10},
      {"0,1/3,5/6", 6},
      {"0,1/3,4/7", 21},
  };
  for (const auto& [seq, lcd] : cases) {
    ExecutionSegmentSequence parsed = ExecutionSegmentSequence::Parse(seq);
    EXPECT_EQ(ExecutionTuple(parsed.Segments().front(), parsed).lcd(), lcd) << seq;
  }
}

// k6 TestExecutionTupleScale and TestBigScale.
TEST(ExecutionTupleTest, K6ScaleInt64) {
  EXPECT_EQ(Tuple("0.5", "").Scale(2), 1);
  EXPECT_EQ(Tuple("0.5", "").Scale(3), 2);
  EXPECT_EQ(Tuple("0.5:1.0", "").Scale(2), 1);
  EXPECT_EQ(Tuple("0.5:1.0", "").Scale(3), 1);
  EXPECT_EQ(Tuple("0.5", "0,0.5,1").Scale(2), 1);
  EXPECT_EQ(Tuple("0.5", "0,0.5,1").Scale(3), 2);
  EXPECT_EQ(Tuple("0.5:1.0", "0,0.5,1").Scale(2), 1);
  EXPECT_EQ(Tuple("0.5:1.0", "0,0.5,1").Scale(3), 1);
  EXPECT_EQ(Tuple("0:7/20", "0,7/20,7/10,1").Scale(50), 18);
}

// k6 TestNewExecutionTuple: ScaleInt64, and ScaleInt64 after
// GetNewExecutionTupleFromValue (nullopt where k6 returns an error).
TEST(ExecutionTupleTest, K6NewExecutionTuple) {
  using ScaleTable = std::map<int64_t, int64_t>;
  struct Case {
    const char* seg;
    const char* seq;
    ScaleTable scale;
    std::map<int64_t, std::optional<ScaleTable>> new_scale;
  };
  const ScaleTable identity{{50, 50}, {1, 1}, {0, 0}};
  const Case cases[] = {
      {"", "", identity, {{50, identity}, {1, identity}, {0, std::nullopt}}},
      {"0:1", "", identity, {{50, identity}, {1, identity}, {0, std::nullopt}}},
      {"0:1", "0,1", identity, {{50, identity}, {1, identity}, {0, std::nullopt}}},
      {"0:1/3",
       "0,1/3,2/3,1",
       {{50, 17}, {3, 1}, {2, 1}, {1, 1}, {0, 0}},
       {{50, ScaleTable{{50, 17}, {1, 1}, {0, 0}}},
        {20, ScaleTable{{50, 18}, {1, 1}, {0, 0}}},
        {3, ScaleTable{{50, 17}, {1, 1}, {0, 0}}},
        {2, ScaleTable{{50, 25}, {1, 1}, {0, 0}}},
        {1, ScaleTable{{50, 50}, {1, 1}, {0, 0}}},
        {0, std::nullopt}}},
      {"1/3:2/3",
       "0,1/3,2/3,1",
       {{50, 17}, {3, 1}, {2, 1}, {1, 0}, {0, 0}},
       {{50, ScaleTable{{50, 17}, {1, 0}, {0, 0}}},
        {20, ScaleTable{{50, 17}, {1, 0}, {0, 0}}},
        {3, ScaleTable{{50, 17}, {1, 0}, {0, 0}}},
        {2, ScaleTable{{50, 25}, {1, 0}, {0, 0}}},
        {1, std::nullopt},
        {0, std::nullopt}}},
      {"2/3:1",
       "0,1/3,2/3,1",
       {{50, 16}, {3, 1}, {2, 0}, {1, 0}, {0, 0}},
       {{50, ScaleTable{{50, 16}, {1, 0}, {0, 0}}},
        {20, ScaleTable{{50, 15}, {1, 0}, {0, 0}}},
        {3, ScaleTable{{50, 16}, {1, 0}, {0, 0}}},
        {2, std::nullopt},
        {1, std::nullopt},
        {0, std::nullopt}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "seg " << c.seg << " seq " << c.seq);
    ExecutionTuple t = Tuple(c.seg, c.seq);
    for (const auto& [value, want] : c.scale) EXPECT_EQ(t.Scale(value), want) << value;
    for (const auto& [by, table] : c.new_scale) {
      std::optional<ExecutionTuple> n = t.ScaledBy(by);
      ASSERT_EQ(n.has_value(), table.has_value()) << "ScaledBy " << by;
      if (!n) continue;
      for (const auto& [value, want] : *table) {
        EXPECT_EQ(n->Scale(value), want) << "ScaledBy " << by << " Scale " << value;
      }
    }
  }
}

// k6 TestGetNewExecutionTupleBesedOnValue.
TEST(ExecutionTupleTest, K6NewSequenceFromValue) {
  std::optional<ExecutionTuple> t = Tuple("0:1/3", "0,1/3,2/3,1").ScaledBy(20);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(ExecutionSegmentSequence(t->points()).ToString(), "0,7/20,7/10,1");
  EXPECT_EQ(t->index(), 0u);
}

// k6's ExecutionTuple doc comment: 0:1/2, 1/2:3/4, 3/4:1 stripe as
// 0 2 4 6 ... / 1 5 9 ... / 3 7 11 ..., and ScaleInt64 follows the stripes.
TEST(ExecutionTupleTest, K6DocExample) {
  const char* seq = "0,1/2,3/4,1";
  EXPECT_EQ(Tuple("0:1/2", seq).stripe(), Stripe(0, 2));
  EXPECT_EQ(Tuple("1/2:3/4", seq).stripe(), Stripe(1, 4));
  EXPECT_EQ(Tuple("3/4:1", seq).stripe(), Stripe(3, 4));
  std::vector<int64_t> a, b, c;
  for (int64_t v = 1; v <= 12; ++v) {
    a.push_back(Tuple("0:1/2", seq).Scale(v));
    b.push_back(Tuple("1/2:3/4", seq).Scale(v));
    c.push_back(Tuple("3/4:1", seq).Scale(v));
  }
  EXPECT_THAT(a, ElementsAre(1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6));
  EXPECT_THAT(b, ElementsAre(0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3));
  EXPECT_THAT(c, ElementsAre(0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3));
}

TEST(ExecutionTupleTest, TooFineSequencesAreConfigErrors) {
  // Primes: the lengths' common denominator 101*103*107*109 is above
  // kMaxSegmentDenominator, though every point's is below.
  std::string message = "<no error>";
  try {
    Tuple("0:1/101", "0,1/101,2/103,3/107,4/109,1");
  } catch (const core::ConfigError& e) {
    message = e.what();
  }
  EXPECT_EQ(message,
            R"(--execution-segment-sequence "0,1/101,2/103,3/107,4/109,1": the segments' )"
            R"(lengths are too fine to split VUs and iterations exactly: their striping would )"
            R"(repeat only every 1113121 numbers or more, above the limit of 1000000; use )"
            R"(fractions with smaller denominators, e.g. 0,1/4,2/4,3/4,1)");
}

// ---------------------------------------------------------------------------
// StripeSegments: the striping itself

TEST(StripeSegmentsTest, PartitionsEveryNumberInProportion) {
  std::mt19937_64 rng(20240611);
  for (int round = 0; round < 300; ++round) {
    // Random lengths summing to 1: numerators over a common denominator.
    size_t n = 1 + rng() % 8;
    std::vector<uint64_t> nums(n);
    uint64_t den = 0;
    for (uint64_t& x : nums) {
      x = 1 + rng() % 12;
      den += x;
    }
    std::vector<Rational> lengths;
    for (uint64_t x : nums) lengths.push_back(R(x, den));
    uint64_t lcd = 0;
    std::vector<Stripe> stripes = StripeSegments(lengths, &lcd);
    ASSERT_EQ(stripes.size(), n);
    for (uint64_t k = 0; k < 3 * lcd; ++k) {
      int owners = 0;
      for (const Stripe& s : stripes) owners += s.Owns(k) ? 1 : 0;
      ASSERT_EQ(owners, 1) << "k=" << k;
    }
    for (size_t i = 0; i < n; ++i) {
      // n_i of every lcd numbers.
      EXPECT_EQ(stripes[i].CountBelow(lcd), lengths[i].num * (lcd / lengths[i].den));
    }
  }
  EXPECT_THROW(StripeSegments({R(1, 2), R(1, 3)}), std::invalid_argument);
  EXPECT_THROW(StripeSegments({}), std::invalid_argument);
}

// ---------------------------------------------------------------------------
// SegmentForInstance

Plan Parse(const nlohmann::json& options) { return ParsePlan(options, {}); }

const Scenario& Only(const Plan& plan) {
  EXPECT_EQ(plan.scenarios.size(), 1u);
  return plan.scenarios.at(0);
}

Plan ForInstance(const Plan& whole, std::string_view seg, std::string_view seq) {
  return SegmentForInstance(whole, ExecutionSegment::Parse(seg),
                            ExecutionSegmentSequence::Parse(seq));
}

TEST(SegmentForInstanceTest, WholeSegmentIsTheWhole) {
  Plan whole = Parse(
      {{"scenarios",
        {{"a", {{"executor", "ramping-vus"}, {"stages", {{{"duration", "1s"}, {"target", 5}}}}}},
         {"b", {{"executor", "shared-iterations"}, {"vus", 3}, {"iterations", 10}}},
         {"c",
          {{"executor", "constant-arrival-rate"},
           {"rate", 5},
           {"duration", "1s"},
           {"preAllocatedVUs", 3}}}}}});
  for (const char* seq : {"", "0,1"}) {
    Plan share = ForInstance(whole, "", seq);
    EXPECT_EQ(share.part, PlanPart::kInstance);
    ASSERT_EQ(share.scenarios.size(), whole.scenarios.size());
    for (size_t i = 0; i < share.scenarios.size(); ++i) {
      const Scenario& s = share.scenarios[i];
      const Scenario& w = whole.scenarios[i];
      EXPECT_EQ(s.vus, w.vus);
      EXPECT_EQ(s.iterations, w.iterations);
      EXPECT_EQ(s.pre_allocated_vus, w.pre_allocated_vus);
      EXPECT_EQ(s.max_vus, w.max_vus);
      EXPECT_TRUE(s.stripe.IsWhole());
      EXPECT_TRUE(s.vu_stripe.IsWhole());
    }
  }
}

TEST(SegmentForInstanceTest, SharedIterationsFollowTheVus) {
  // k6 GetNewExecutionTupleFromValue example: 20 VUs over thirds are 7, 7,
  // 6; the 50 iterations follow the VUs (18, 17, 15), not the thirds.
  Plan whole = Parse({{"vus", 20}, {"iterations", 50}});
  const char* seq = "0,1/3,2/3,1";
  EXPECT_EQ(Only(ForInstance(whole, "0:1/3", seq)).vus, 7);
  EXPECT_EQ(Only(ForInstance(whole, "0:1/3", seq)).iterations, 18);
  EXPECT_EQ(Only(ForInstance(whole, "1/3:2/3", seq)).vus, 7);
  EXPECT_EQ(Only(ForInstance(whole, "1/3:2/3", seq)).iterations, 17);
  EXPECT_EQ(Only(ForInstance(whole, "2/3:1", seq)).vus, 6);
  EXPECT_EQ(Only(ForInstance(whole, "2/3:1", seq)).iterations, 15);
  // One VU over halves: the second instance has no VU, hence no iteration.
  Plan one = Parse({{"vus", 1}, {"iterations", 9}});
  EXPECT_EQ(Only(ForInstance(one, "0:1/2", "0,1/2,1")).iterations, 9);
  Scenario none = Only(ForInstance(one, "1/2:1", "0,1/2,1"));
  EXPECT_EQ(none.vus, 0);
  EXPECT_EQ(none.iterations, 0);
  EXPECT_FALSE(none.HasWork());
}

TEST(SegmentForInstanceTest, ArrivalStartsFollowTheMaxVus) {
  // maxVUs 1 over halves: the instance with the VU starts every iteration
  // (k6 re-cuts the sequence by maxVUs), the other none.
  nlohmann::json options = {{"scenarios",
                             {{"car",
                               {{"executor", "constant-arrival-rate"},
                                {"rate", 4},
                                {"duration", "2s"},
                                {"preAllocatedVUs", 1}}}}}};
  Plan whole = Parse(options);
  Scenario a = Only(ForInstance(whole, "0:1/2", "0,1/2,1"));
  Scenario b = Only(ForInstance(whole, "1/2:1", "0,1/2,1"));
  EXPECT_TRUE(a.stripe.IsWhole());
  EXPECT_EQ(a.max_vus, 1);
  EXPECT_TRUE(b.stripe.Empty());
  EXPECT_EQ(b.max_vus, 0);
  EXPECT_FALSE(b.HasWork());
  // maxVUs 2 (a multiple of the lcd 2): alternate starts.
  options["scenarios"]["car"]["preAllocatedVUs"] = 2;
  Plan two = Parse(options);
  EXPECT_EQ(Only(ForInstance(two, "0:1/2", "0,1/2,1")).stripe, Stripe(0, 2));
  EXPECT_EQ(Only(ForInstance(two, "1/2:1", "0,1/2,1")).stripe, Stripe(1, 2));
}

TEST(SegmentForInstanceTest, RampingVusStripesTheGlobalVus) {
  Plan whole = Parse({{"stages", {{{"duration", "4s"}, {"target", 8}}}}, {"vus", 0}});
  Scenario a = Only(ForInstance(whole, "0:1/2", "0,1/2,3/4,1"));
  EXPECT_EQ(a.stripe, Stripe(0, 2));
  EXPECT_EQ(a.vu_stripe, a.stripe);
  EXPECT_EQ(a.stages, Only(whole).stages);  // the shape is kept
  EXPECT_EQ(a.start_vus, Only(whole).start_vus);
  EXPECT_EQ(a.PeakVus(), 4);
  EXPECT_EQ(Only(ForInstance(whole, "3/4:1", "0,1/2,3/4,1")).PeakVus(), 2);
}

// As in k6: without --execution-segment-sequence each instance stripes
// against its own 0, from, to, 1, so thirds run with no sequence can miss
// (or double) VUs; with the sequence they add up.
TEST(SegmentForInstanceTest, WithoutASequenceSharesNeedNotAddUp) {
  auto total = [](int64_t vus, const char* seq) {
    Plan whole = Parse({{"duration", "1s"}, {"vus", vus}});
    int64_t sum = 0;
    for (const char* seg : {"0:1/3", "1/3:2/3", "2/3:1"})
      sum += Only(ForInstance(whole, seg, seq)).vus;
    return sum;
  };
  EXPECT_EQ(total(1, ""), 0);  // each third owns VU number 1 of every 3
  EXPECT_EQ(total(2, ""), 3);
  EXPECT_EQ(total(1, "0,1/3,2/3,1"), 1);
  EXPECT_EQ(total(2, "0,1/3,2/3,1"), 2);
}

TEST(SegmentForInstanceTest, InvalidArguments) {
  Plan whole = Parse({{"vus", 4}, {"iterations", 8}});
  Plan inst = ForInstance(whole, "0:1/2", "0,1/2,1");
  EXPECT_THROW(SegmentForInstance(inst, ExecutionSegment(), {}), std::invalid_argument);
  Plan worker = SegmentFor(inst, 0, 2);
  EXPECT_EQ(worker.part, PlanPart::kWorker);
  EXPECT_THROW(SegmentFor(worker, 0, 2), std::invalid_argument);
  EXPECT_THROW(SegmentForInstance(worker, ExecutionSegment(), {}), std::invalid_argument);
  EXPECT_THROW(ForInstance(whole, "0:1/3", "0,1/2,1"), core::ConfigError);
}

TEST(SegmentForInstanceTest, HugeMaxVusThatDoNotDivideAreConfigErrors) {
  // maxVUs prime and above the limit: k6 would stripe the starts with a
  // period of 1000003; stampede refuses with the fix.
  nlohmann::json options = {{"scenarios",
                             {{"car",
                               {{"executor", "constant-arrival-rate"},
                                {"rate", 4},
                                {"duration", "2s"},
                                {"preAllocatedVUs", 1},
                                {"maxVUs", 1000003}}}}}};
  Plan whole = Parse(options);
  std::string message = "<no error>";
  try {
    ForInstance(whole, "0:1/2", "0,1/2,1");
  } catch (const core::ConfigError& e) {
    message = e.what();
  }
  EXPECT_EQ(message,
            R"(scenario "car": "maxVUs" 1000003 can't be split exactly by )"
            R"(--execution-segment-sequence "0,1/2,1": their striping would repeat only every )"
            R"(1000003 numbers or more, above the limit of 1000000; use a "maxVUs" that is a )"
            R"(multiple of 2 or at most 1000000)");
  options["scenarios"]["car"]["maxVUs"] = 1000002;  // a multiple of the lcd: fine
  EXPECT_EQ(Only(ForInstance(Parse(options), "0:1/2", "0,1/2,1")).max_vus, 500001);
}

// ---------------------------------------------------------------------------
// Properties over random sequences: summed over the instances (and over
// each instance's workers), the load is exactly the whole's.

// A random full sequence 0 < ... < 1 of 1..8 segments with denominators
// up to 12.
std::vector<Rational> RandomPoints(std::mt19937_64& rng) {
  std::set<Rational> inner;
  size_t want = rng() % 8;  // 0..7 inner points: 1..8 segments
  while (inner.size() < want) {
    uint64_t den = 2 + rng() % 11;
    uint64_t num = 1 + rng() % (den - 1);
    inner.insert(R(num, den));
  }
  std::vector<Rational> points{R(0, 1)};
  points.insert(points.end(), inner.begin(), inner.end());
  points.push_back(R(1, 1));
  return points;
}

int64_t Rand(std::mt19937_64& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng() % static_cast<uint64_t>(hi - lo + 1));
}

nlohmann::json RandomStages(std::mt19937_64& rng, int64_t max_target, int64_t min_ms) {
  nlohmann::json stages = nlohmann::json::array();
  int64_t n = Rand(rng, 1, 4);
  for (int64_t i = 0; i < n; ++i) {
    stages.push_back({{"duration", Rand(rng, min_ms, 3000)}, {"target", Rand(rng, 0, max_target)}});
  }
  return stages;
}

nlohmann::json RandomOptions(std::mt19937_64& rng) {
  int64_t shared_vus = Rand(rng, 1, 40);
  int64_t car_pre = Rand(rng, 0, 15);
  int64_t rar_pre = Rand(rng, 0, 15);
  nlohmann::json ramp_stages = RandomStages(rng, 30, 0);
  ramp_stages.push_back({{"duration", 1000}, {"target", Rand(rng, 1, 30)}});  // peak > 0
  return {
      {"scenarios",
       {{"shared",
         {{"executor", "shared-iterations"},
          {"vus", shared_vus},
          {"iterations", shared_vus + Rand(rng, 0, 300)}}},
        {"pervu",
         {{"executor", "per-vu-iterations"},
          {"vus", Rand(rng, 1, 40)},
          {"iterations", Rand(rng, 1, 5)}}},
        {"constant", {{"executor", "constant-vus"}, {"vus", Rand(rng, 1, 40)}, {"duration", "5s"}}},
        {"ramp",
         {{"executor", "ramping-vus"}, {"startVUs", Rand(rng, 0, 20)}, {"stages", ramp_stages}}},
        {"car",
         {{"executor", "constant-arrival-rate"},
          {"rate", Rand(rng, 1, 40)},
          {"timeUnit", Rand(rng, 200, 2000)},
          {"duration", Rand(rng, 1000, 3000)},
          {"preAllocatedVUs", car_pre},
          {"maxVUs", car_pre + Rand(rng, car_pre == 0 ? 1 : 0, 15)}}},
        {"rar",
         {{"executor", "ramping-arrival-rate"},
          {"startRate", Rand(rng, 0, 20)},
          {"timeUnit", Rand(rng, 200, 2000)},
          {"stages", RandomStages(rng, 30, 1)},
          {"preAllocatedVUs", rar_pre},
          {"maxVUs", rar_pre + Rand(rng, rar_pre == 0 ? 1 : 0, 15)}}}}}};
}

const Scenario& Named(const Plan& plan, std::string_view name) {
  for (const Scenario& s : plan.scenarios) {
    if (s.name == name) return s;
  }
  throw std::logic_error("no scenario " + std::string(name));
}

// (global start number, instant) of every start of an arrival schedule.
std::vector<std::pair<uint64_t, int64_t>> Starts(const Scenario& s) {
  ArrivalSchedule a = ArrivalSchedule::For(s);
  std::vector<std::pair<uint64_t, int64_t>> out;
  for (uint64_t j = 0; j < a.TotalArrivals(); ++j)
    out.emplace_back(a.GlobalIndex(j), a.ArrivalNs(j));
  return out;
}

// Instants at which to compare ramping-vus counts: every stage boundary
// (and just before it), every change of the whole's count, random ones.
std::vector<int64_t> RampInstants(const Scenario& whole, std::mt19937_64& rng) {
  RampingVusSchedule ramp(whole);
  std::vector<int64_t> at{-1, 0};
  int64_t end = 0;
  for (const Stage& st : whole.stages) {
    end += st.duration_ns;
    at.push_back(end - 1);
    at.push_back(end);
  }
  for (int64_t t = 0; t != kNeverNs && at.size() < 400; t = ramp.NextChangeNs(t)) {
    at.push_back(t);
    at.push_back(t - 1);
  }
  for (int i = 0; i < 50; ++i) at.push_back(Rand(rng, 0, std::max<int64_t>(end, 1)));
  return at;
}

TEST(SegmentForInstanceTest, RandomSequencesSumToTheWhole) {
  std::mt19937_64 rng(0x5e6'0e47);
  int checked_sequences = 0;
  int non_trivial_stripes = 0;
  for (int round = 0; round < 500; ++round) {
    std::vector<Rational> points = RandomPoints(rng);
    ExecutionSegmentSequence seq(points);
    Plan whole = Parse(RandomOptions(rng));
    SCOPED_TRACE(testing::Message() << "round " << round << " seq " << seq.ToString());
    const int workers_max = 1 + static_cast<int>(rng() % 4);

    // Sums over instances (level 1) and over instances x workers (level 2).
    struct Sums {
      int64_t shared_vus = 0, shared_iters = 0, pervu_vus = 0, constant_vus = 0;
      int64_t car_pre = 0, car_max = 0, rar_pre = 0, rar_max = 0, ramp_peak = 0;
      std::vector<std::pair<uint64_t, int64_t>> car_starts, rar_starts;
      std::vector<Plan> shares;
    };
    Sums inst_sums, worker_sums;
    auto add = [&](Sums& sums, const Plan& share) {
      const Scenario& shared = Named(share, "shared");
      sums.shared_vus += shared.vus;
      sums.shared_iters += shared.iterations;
      if (shared.vus == 0) {
        EXPECT_EQ(shared.iterations, 0);
      } else {
        EXPECT_GE(shared.iterations, shared.vus);  // one per VU at least
      }
      const Scenario& pervu = Named(share, "pervu");
      sums.pervu_vus += pervu.vus;
      EXPECT_EQ(pervu.iterations, Named(whole, "pervu").iterations);
      sums.constant_vus += Named(share, "constant").vus;
      sums.ramp_peak += Named(share, "ramp").PeakVus();
      for (const char* name : {"car", "rar"}) {
        const Scenario& s = Named(share, name);
        if (!s.stripe.Empty()) {
          EXPECT_GE(s.max_vus, 1) << name << ": starts without a VU";
        }
        auto starts = Starts(s);
        auto& all = std::string_view(name) == "car" ? sums.car_starts : sums.rar_starts;
        all.insert(all.end(), starts.begin(), starts.end());
      }
      sums.car_pre += Named(share, "car").pre_allocated_vus;
      sums.car_max += Named(share, "car").max_vus;
      sums.rar_pre += Named(share, "rar").pre_allocated_vus;
      sums.rar_max += Named(share, "rar").max_vus;
      // Every VU count is the share's vu_stripe applied to the whole's.
      for (const char* name : {"shared", "pervu", "constant"}) {
        EXPECT_EQ(Named(share, name).vus,
                  static_cast<int64_t>(
                      Named(share, name)
                          .vu_stripe.CountBelow(static_cast<uint64_t>(Named(whole, name).vus))))
            << name;
      }
      EXPECT_EQ(Named(share, "car").max_vus,
                static_cast<int64_t>(
                    Named(share, "car")
                        .vu_stripe.CountBelow(static_cast<uint64_t>(Named(whole, "car").max_vus))));
      EXPECT_EQ(Named(share, "ramp").vu_stripe, Named(share, "ramp").stripe);
      sums.shares.push_back(share);
    };

    for (const ExecutionSegment& seg : seq.Segments()) {
      Plan inst = SegmentForInstance(whole, seg, seq);
      ASSERT_EQ(inst.part, PlanPart::kInstance);
      if (!Named(inst, "ramp").stripe.IsWhole()) ++non_trivial_stripes;
      add(inst_sums, inst);
      for (int w = 0; w < workers_max; ++w) {
        add(worker_sums,
            SegmentFor(inst, static_cast<uint32_t>(w), static_cast<uint32_t>(workers_max)));
      }
    }

    std::vector<std::pair<uint64_t, int64_t>> car_whole = Starts(Named(whole, "car"));
    std::vector<std::pair<uint64_t, int64_t>> rar_whole = Starts(Named(whole, "rar"));
    const Scenario& ramp_whole = Named(whole, "ramp");
    std::vector<int64_t> instants = RampInstants(ramp_whole, rng);
    RampingVusSchedule ramp_all(ramp_whole);

    for (Sums* sums : {&inst_sums, &worker_sums}) {
      SCOPED_TRACE(sums == &inst_sums ? "instances" : "instances x workers");
      EXPECT_EQ(sums->shared_vus, Named(whole, "shared").vus);
      EXPECT_EQ(sums->shared_iters, Named(whole, "shared").iterations);
      EXPECT_EQ(sums->pervu_vus, Named(whole, "pervu").vus);
      EXPECT_EQ(sums->constant_vus, Named(whole, "constant").vus);
      EXPECT_EQ(sums->ramp_peak, ramp_whole.PeakVus());
      EXPECT_EQ(sums->car_pre, Named(whole, "car").pre_allocated_vus);
      EXPECT_EQ(sums->car_max, Named(whole, "car").max_vus);
      EXPECT_EQ(sums->rar_pre, Named(whole, "rar").pre_allocated_vus);
      EXPECT_EQ(sums->rar_max, Named(whole, "rar").max_vus);
      // The union of the start instants is the whole schedule, exactly.
      std::sort(sums->car_starts.begin(), sums->car_starts.end());
      std::sort(sums->rar_starts.begin(), sums->rar_starts.end());
      EXPECT_EQ(sums->car_starts, car_whole);
      EXPECT_EQ(sums->rar_starts, rar_whole);
      // ramping-vus: the counts add up to the global count at every instant.
      std::vector<RampingVusSchedule> ramps;
      for (const Plan& p : sums->shares) ramps.emplace_back(Named(p, "ramp"));
      for (int64_t t : instants) {
        int64_t sum = 0;
        for (const RampingVusSchedule& r : ramps) sum += r.VusAt(t);
        ASSERT_EQ(sum, ramp_all.VusAt(t)) << "t=" << t;
      }
      // The shares' VU numbers partition the whole's.
      for (uint64_t k = 0; k < 64; ++k) {
        int owners = 0;
        for (const Plan& p : sums->shares) owners += Named(p, "constant").vu_stripe.Owns(k) ? 1 : 0;
        ASSERT_EQ(owners, 1) << "VU " << k;
      }
    }
    ++checked_sequences;
  }
  EXPECT_EQ(checked_sequences, 500);
  EXPECT_GT(non_trivial_stripes, 500);  // the random sequences did segment
}

}  // namespace
}  // namespace stampede::engine
