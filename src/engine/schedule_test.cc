#include "engine/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "engine/plan.h"

namespace stampede::engine {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kS = 1'000'000'000;

// ---------------------------------------------------------------------------
// Reference model of ramping-vus: k6's list of raw execution steps, built one
// VU at a time (VU v of a ramp-up starts at end - floor(D * (to - v) / (to -
// from)); a ramp-down to w VUs happens at end - floor(D * (w - to) / (from -
// to)); a 0-long stage jumps; everything drops to 0 at the end). The count
// at t is the last step at or before t.
struct Step {
  int64_t at;
  int64_t vus;
};

std::vector<Step> ReferenceSteps(int64_t start_vus, const std::vector<Stage>& stages) {
  std::vector<Step> steps{{0, start_vus}};
  int64_t from = start_vus;
  int64_t stage_start = 0;
  for (const Stage& st : stages) {
    int64_t d = st.duration_ns;
    int64_t end = stage_start + d;
    int64_t to = st.target;
    if (d == 0) {
      steps.push_back({stage_start, to});
    } else if (to > from) {
      for (int64_t v = from + 1; v <= to; ++v)
        steps.push_back({end - d * (to - v) / (to - from), v});
    } else if (to < from) {
      for (int64_t w = from - 1; w >= to; --w)
        steps.push_back({end - d * (w - to) / (from - to), w});
    }
    from = to;
    stage_start = end;
  }
  steps.push_back({stage_start, 0});
  return steps;
}

int64_t ReferenceVusAt(const std::vector<Step>& steps, int64_t t) {
  int64_t vus = 0;
  for (const Step& s : steps) {
    if (s.at <= t) vus = s.vus;
  }
  return vus;
}

struct RampCase {
  int64_t start_vus;
  std::vector<Stage> stages;  // durations in plain ns, small enough to check every ns
};

std::vector<RampCase> RampCases() {
  return {
      {0, {{1000, 10}, {500, 10}, {1000, 0}}},
      {1, {{1000, 7}, {0, 3}, {500, 3}, {700, 0}, {300, 12}, {0, 5}, {1000, 5}, {400, 0}}},
      {3, {{7, 40}, {5, 0}, {13, 13}}},            // several VUs per ns
      {10, {{999, 1}, {1, 9}, {0, 0}, {250, 4}}},  // ramp down, 1 ns stage, jump to 0
      {0, {{0, 6}, {100, 6}, {0, 0}, {100, 0}}},   // jumps only
      {5, {{333, 5}}},                             // flat
      {0, {{1000, 3}, {1000, 17}, {1000, 2}}},
  };
}

TEST(RampingVusScheduleTest, MatchesK6StepsAtEveryInstant) {
  for (const RampCase& c : RampCases()) {
    RampingVusSchedule schedule(c.start_vus, c.stages);
    std::vector<Step> steps = ReferenceSteps(c.start_vus, c.stages);
    for (int64_t t = -3; t <= schedule.TotalDurationNs() + 3; ++t) {
      int64_t expected = t < 0 ? 0 : ReferenceVusAt(steps, t);
      ASSERT_EQ(schedule.VusAt(t), expected) << "t=" << t << " start=" << c.start_vus;
    }
  }
}

TEST(RampingVusScheduleTest, SecondsScaleRampUpAndDown) {
  // 0 → 10 over 10s: VU n starts at n seconds.
  RampingVusSchedule up(0, {{10 * kS, 10}, {10 * kS, 10}, {10 * kS, 0}});
  EXPECT_EQ(up.VusAt(0), 0);
  EXPECT_EQ(up.VusAt(kS - 1), 0);
  EXPECT_EQ(up.VusAt(kS), 1);
  EXPECT_EQ(up.VusAt(5 * kS + 400 * kMs), 5);
  EXPECT_EQ(up.VusAt(10 * kS - 1), 9);
  EXPECT_EQ(up.VusAt(10 * kS), 10);
  EXPECT_EQ(up.VusAt(15 * kS), 10);  // flat stage
  // 10 → 0 over 10s: the 10th VU stops at 21s, the last at 30s.
  EXPECT_EQ(up.VusAt(21 * kS - 1), 10);
  EXPECT_EQ(up.VusAt(21 * kS), 9);
  EXPECT_EQ(up.VusAt(29 * kS + 999 * kMs), 1);
  EXPECT_EQ(up.VusAt(30 * kS), 0);
  EXPECT_EQ(up.TotalDurationNs(), 30 * kS);
  EXPECT_EQ(up.MaxVus(), 10);
  EXPECT_EQ(up.NextChangeNs(0), kS);
  EXPECT_EQ(up.NextChangeNs(10 * kS), 21 * kS);
  EXPECT_EQ(up.NextChangeNs(29 * kS), 30 * kS);
  EXPECT_EQ(up.NextChangeNs(30 * kS), kNeverNs);
}

TEST(RampingVusScheduleTest, ZeroDurationStageIsAJump) {
  RampingVusSchedule s(1, {{0, 5}, {10 * kS, 5}, {0, 2}, {10 * kS, 2}});
  EXPECT_EQ(s.VusAt(0), 5);  // a jump at 0 applies at once
  EXPECT_EQ(s.VusAt(10 * kS - 1), 5);
  EXPECT_EQ(s.VusAt(10 * kS), 2);
  EXPECT_EQ(s.NextChangeNs(0), 10 * kS);
  EXPECT_EQ(s.NextChangeNs(-1), 0);
  EXPECT_EQ(s.VusAt(-1), 0);
}

TEST(RampingVusScheduleTest, EndsAtZero) {
  // k6: at the end of the stages the executor's VUs stop, even at a
  // non-zero target (they get gracefulStop to finish).
  RampingVusSchedule s(0, {{10 * kS, 10}});
  EXPECT_EQ(s.VusAt(10 * kS - 1), 9);
  EXPECT_EQ(s.VusAt(10 * kS), 0);
  EXPECT_EQ(s.NextChangeNs(9 * kS), 10 * kS);
}

// For every t in the range: VusAt() is constant over [t, NextChangeNs(t))
// and differs at NextChangeNs(t).
void CheckNextChange(const RampingVusSchedule& s, int64_t from, int64_t to) {
  std::vector<int64_t> vus;
  for (int64_t t = from; t <= to; ++t) vus.push_back(s.VusAt(t));
  // next_diff[i]: the first index > i whose value differs from vus[i].
  std::vector<int64_t> next_diff(vus.size(), -1);
  for (int64_t i = static_cast<int64_t>(vus.size()) - 2; i >= 0; --i) {
    next_diff[i] = vus[i + 1] != vus[i] ? i + 1 : next_diff[i + 1];
  }
  for (size_t i = 0; i + 1 < vus.size(); ++i) {
    int64_t t = from + static_cast<int64_t>(i);
    int64_t next = s.NextChangeNs(t);
    if (next_diff[i] < 0) {
      // No change up to `to`, which is past the end: there is none at all.
      ASSERT_EQ(next, kNeverNs) << "t=" << t;
    } else {
      ASSERT_EQ(next, from + next_diff[i]) << "t=" << t;
    }
  }
}

TEST(RampingVusScheduleTest, NextChangeIsExact) {
  for (const RampCase& c : RampCases()) {
    for (uint64_t workers = 1; workers <= 4; ++workers) {
      for (uint64_t w = 0; w < workers; ++w) {
        RampingVusSchedule s(c.start_vus, c.stages, Stripe{w, workers});
        CheckNextChange(s, -3, s.TotalDurationNs() + 3);
      }
    }
  }
}

TEST(RampingVusScheduleTest, WorkersSumToTheWholeAtEveryInstant) {
  for (const RampCase& c : RampCases()) {
    RampingVusSchedule whole(c.start_vus, c.stages);
    for (uint64_t workers = 1; workers <= 6; ++workers) {
      std::vector<RampingVusSchedule> shares;
      int64_t max_sum = 0;
      for (uint64_t w = 0; w < workers; ++w) {
        shares.emplace_back(c.start_vus, c.stages, Stripe{w, workers});
        max_sum += shares.back().MaxVus();
      }
      EXPECT_EQ(max_sum, whole.MaxVus());
      for (int64_t t = -1; t <= whole.TotalDurationNs() + 1; ++t) {
        int64_t sum = 0;
        int64_t lo = whole.VusAt(t), hi = 0;
        for (const RampingVusSchedule& s : shares) {
          int64_t v = s.VusAt(t);
          sum += v;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
        }
        ASSERT_EQ(sum, whole.VusAt(t)) << "t=" << t << " workers=" << workers;
        ASSERT_LE(hi - lo, 1) << "t=" << t;  // balanced at every instant
      }
    }
  }
}

TEST(RampingVusScheduleTest, LargeRampVisitsEveryCountOnce) {
  // 0 → 100000 VUs over an hour, then back down over a minute.
  RampingVusSchedule s(0, {{3600 * kS, 100000}, {60 * kS, 0}});
  EXPECT_EQ(s.VusAt(1800 * kS), 50000);
  int64_t changes = 0;
  int64_t previous = s.VusAt(0);
  for (int64_t t = s.NextChangeNs(0); t != kNeverNs; t = s.NextChangeNs(t)) {
    int64_t now = s.VusAt(t);
    ASSERT_EQ(std::abs(now - previous), 1) << "t=" << t;
    previous = now;
    ++changes;
  }
  EXPECT_EQ(changes, 200000);
  EXPECT_EQ(previous, 0);
}

TEST(RampingVusScheduleTest, FromScenario) {
  Plan whole =
      ParsePlan(nlohmann::json::parse(R"({"stages": [{"duration": "10s", "target": 8}]})"), {});
  Plan share = SegmentFor(whole, 1, 4);
  RampingVusSchedule s(share.scenarios.at(0));
  // startVUs 1 (global VU 0, worker 0's); worker 1 owns global VUs 1 and 5.
  EXPECT_EQ(s.VusAt(0), 0);
  EXPECT_EQ(s.MaxVus(), 2);
  // The global count reaches 2 (VU 1 starts) at 10s - floor(10s * 6/7).
  EXPECT_EQ(s.NextChangeNs(0), 10 * kS - 10 * kS * 6 / 7);
}

// ---------------------------------------------------------------------------
// Arrival schedules

TEST(ArrivalScheduleTest, ConstantRateInstants) {
  ArrivalSchedule s = ArrivalSchedule::Constant(3, kS, 2 * kS);
  ASSERT_EQ(s.TotalArrivals(), 6u);
  EXPECT_EQ(s.ArrivalNs(0), 0);
  EXPECT_EQ(s.ArrivalNs(1), 333'333'333);
  EXPECT_EQ(s.ArrivalNs(2), 666'666'666);
  EXPECT_EQ(s.ArrivalNs(3), kS);
  EXPECT_EQ(s.ArrivalNs(5), 1'666'666'666);
  EXPECT_EQ(s.ArrivalNs(6), kNeverNs);
  EXPECT_EQ(s.DurationNs(), 2 * kS);

  // 1 per second for 10s: 0s .. 9s, not 10s.
  ArrivalSchedule t = ArrivalSchedule::Constant(1, kS, 10 * kS);
  EXPECT_EQ(t.TotalArrivals(), 10u);
  EXPECT_EQ(t.ArrivalNs(9), 9 * kS);
  // 2 per minute for 1m: 0s, 30s.
  ArrivalSchedule u = ArrivalSchedule::Constant(2, 60 * kS, 60 * kS);
  EXPECT_EQ(u.TotalArrivals(), 2u);
  EXPECT_EQ(u.ArrivalNs(1), 30 * kS);
  // 7 per second for 1.5s: 10.5 → 11 starts (the 11th at 1.428s).
  EXPECT_EQ(ArrivalSchedule::Constant(7, kS, 1500 * kMs).TotalArrivals(), 11u);
}

TEST(ArrivalScheduleTest, ConstantRateArrivalsBefore) {
  ArrivalSchedule s = ArrivalSchedule::Constant(1000, kS, 60 * kS);
  EXPECT_EQ(s.ArrivalsBefore(0), 0u);
  EXPECT_EQ(s.ArrivalsBefore(1), 1u);
  EXPECT_EQ(s.ArrivalsBefore(kS), 1000u);
  EXPECT_EQ(s.ArrivalsBefore(kS + 1), 1001u);
  EXPECT_EQ(s.ArrivalsBefore(kNeverNs), 60000u);
}

// The multiset of all workers' start instants equals the whole's.
void CheckStripesCoverTheWhole(const ArrivalSchedule& whole,
                               const std::vector<ArrivalSchedule>& shares) {
  std::vector<int64_t> expected;
  for (uint64_t k = 0; k < whole.TotalArrivals(); ++k) expected.push_back(whole.ArrivalNs(k));
  std::vector<int64_t> got;
  for (const ArrivalSchedule& s : shares) {
    for (uint64_t j = 0; j < s.TotalArrivals(); ++j) {
      EXPECT_EQ(s.ArrivalNs(j), whole.ArrivalNs(s.GlobalIndex(j)));
      got.push_back(s.ArrivalNs(j));
    }
    EXPECT_EQ(s.ArrivalNs(s.TotalArrivals()), kNeverNs);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected);
}

TEST(ArrivalScheduleTest, ConstantRateStripes) {
  ArrivalSchedule whole = ArrivalSchedule::Constant(7, kS, 10 * kS);
  for (uint64_t workers = 1; workers <= 5; ++workers) {
    std::vector<ArrivalSchedule> shares;
    for (uint64_t w = 0; w < workers; ++w) {
      shares.push_back(ArrivalSchedule::Constant(7, kS, 10 * kS, Stripe{w, workers}));
    }
    CheckStripesCoverTheWhole(whole, shares);
  }
  EXPECT_EQ(ArrivalSchedule::Constant(7, kS, 10 * kS, Stripe{0, 0}).TotalArrivals(), 0u);
}

TEST(ArrivalScheduleTest, RampingFirstArrivalAfterOneIterationOfArea) {
  // k6: a ramping-arrival-rate stage at a constant 2/s starts at 0.5s.
  ArrivalSchedule s = ArrivalSchedule::Ramping(2, kS, {{10 * kS, 2}});
  EXPECT_EQ(s.ArrivalNs(0), 500 * kMs);
  EXPECT_EQ(s.ArrivalNs(1), kS);
  EXPECT_EQ(s.TotalArrivals(), 19u);  // the 20th would start at 10s, the end
  EXPECT_EQ(s.ArrivalNs(18), 9500 * kMs);
}

TEST(ArrivalScheduleTest, RampingFromZeroMatchesTheClosedForm) {
  // 0 → 10/s over 10s: area(x) = x^2 / 2 (x in s), so start k at sqrt(2(k+1)).
  ArrivalSchedule s = ArrivalSchedule::Ramping(0, kS, {{10 * kS, 10}, {5 * kS, 10}});
  for (uint64_t k = 0; k < 49; ++k) {
    double expected = std::sqrt(2.0 * static_cast<double>(k + 1)) * 1e9;
    EXPECT_NEAR(static_cast<double>(s.ArrivalNs(k)), expected, 2.0) << k;
  }
  EXPECT_EQ(s.ArrivalNs(49), 10 * kS);  // area 50 exactly at the stage's end
  EXPECT_EQ(s.ArrivalNs(50), 10 * kS + 100 * kMs);
  // 50 + 5s * 10/s = 100, the 100th exactly at the end: 99 start.
  EXPECT_EQ(s.TotalArrivals(), 99u);
}

// Numerically integrates the piecewise-linear rate and checks that the
// number of starts in [0, t) stays within 1 of the integral.
void CheckAgainstIntegral(const ArrivalSchedule& s, int64_t start_rate, int64_t time_unit_ns,
                          const std::vector<Stage>& stages) {
  auto rate_at = [&](int64_t t) {  // iterations per ns at t
    int64_t from = start_rate;
    int64_t at = 0;
    for (const Stage& st : stages) {
      if (st.duration_ns > 0 && t < at + st.duration_ns) {
        double x = static_cast<double>(t - at) / static_cast<double>(st.duration_ns);
        return (static_cast<double>(from) + (static_cast<double>(st.target - from)) * x) /
               static_cast<double>(time_unit_ns);
      }
      at += st.duration_ns;
      from = st.target;
    }
    return 0.0;
  };
  const int64_t total = s.DurationNs();
  const int64_t step = std::max<int64_t>(total / 20000, 1);
  double area = 0;
  uint64_t checked = 0;
  for (int64_t t = 0; t < total; t += step) {
    int64_t next = std::min(t + step, total);
    area += (rate_at(t) + rate_at(next - 1)) / 2 * static_cast<double>(next - t);
    double count = static_cast<double>(s.ArrivalsBefore(next));
    ASSERT_NEAR(count, area, 1.0 + 1e-6 * area) << "t=" << next;
    ++checked;
  }
  EXPECT_GT(checked, 1000u);
  // Monotone instants.
  for (uint64_t j = 1; j < s.TotalArrivals(); ++j) ASSERT_LE(s.ArrivalNs(j - 1), s.ArrivalNs(j));
  if (s.TotalArrivals() > 0) {
    EXPECT_LT(s.ArrivalNs(s.TotalArrivals() - 1), total);
  }
}

TEST(ArrivalScheduleTest, RampingFollowsTheIntegralOfTheRate) {
  struct Case {
    int64_t start_rate;
    int64_t time_unit_ns;
    std::vector<Stage> stages;
  };
  const std::vector<Case> cases = {
      {0, kS, {{10 * kS, 10}, {10 * kS, 10}, {10 * kS, 0}}},
      {50, kS, {{30 * kS, 5}, {0, 80}, {20 * kS, 80}, {10 * kS, 81}}},
      {0, 60 * kS, {{5 * 60 * kS, 300}, {60 * kS, 0}}},  // per-minute rates
      {1000, kS, {{2 * kS, 3000}, {3 * kS, 1}}},
      {7, 100 * kMs, {{1 * kS, 0}, {1 * kS, 0}, {1 * kS, 9}}},  // with a zero-rate gap
  };
  for (const Case& c : cases) {
    ArrivalSchedule s = ArrivalSchedule::Ramping(c.start_rate, c.time_unit_ns, c.stages);
    CheckAgainstIntegral(s, c.start_rate, c.time_unit_ns, c.stages);
    for (uint64_t workers = 2; workers <= 4; ++workers) {
      std::vector<ArrivalSchedule> shares;
      for (uint64_t w = 0; w < workers; ++w) {
        shares.push_back(
            ArrivalSchedule::Ramping(c.start_rate, c.time_unit_ns, c.stages, Stripe{w, workers}));
      }
      CheckStripesCoverTheWhole(s, shares);
    }
  }
}

TEST(ArrivalScheduleTest, RampDownToZero) {
  // 10/s → 0 over 10s: area 50; the 50th would start exactly at 10s.
  ArrivalSchedule s = ArrivalSchedule::Ramping(10, kS, {{10 * kS, 0}});
  EXPECT_EQ(s.TotalArrivals(), 49u);
  // area(x) = 10x - x^2/2 = 1 at x = 10 - sqrt(98).
  EXPECT_NEAR(static_cast<double>(s.ArrivalNs(0)), (10 - std::sqrt(98.0)) * 1e9, 2.0);
}

TEST(ArrivalScheduleTest, AllZeroRatesStartNothing) {
  ArrivalSchedule s = ArrivalSchedule::Ramping(0, kS, {{10 * kS, 0}});
  EXPECT_EQ(s.TotalArrivals(), 0u);
  EXPECT_EQ(s.ArrivalNs(0), kNeverNs);
  EXPECT_EQ(s.ArrivalsBefore(kNeverNs), 0u);
}

TEST(ArrivalScheduleTest, FromSegmentedScenarios) {
  Plan whole = ParsePlan(nlohmann::json::parse(R"({"scenarios": {
      "car": {"executor": "constant-arrival-rate", "rate": 30, "timeUnit": "1m",
              "duration": "5m", "preAllocatedVUs": 2, "maxVUs": 3},
      "rar": {"executor": "ramping-arrival-rate", "startRate": 5, "preAllocatedVUs": 1,
              "maxVUs": 10, "stages": [{"duration": "20s", "target": 50}]}}})"),
                         {});
  for (size_t i = 0; i < whole.scenarios.size(); ++i) {
    ArrivalSchedule all = ArrivalSchedule::For(whole.scenarios[i]);
    EXPECT_GT(all.TotalArrivals(), 100u);
    std::vector<ArrivalSchedule> shares;
    uint64_t sum = 0;
    for (uint32_t w = 0; w < 4; ++w) {
      shares.push_back(ArrivalSchedule::For(SegmentFor(whole, w, 4).scenarios[i]));
      sum += shares.back().TotalArrivals();
    }
    EXPECT_EQ(sum, all.TotalArrivals());
    CheckStripesCoverTheWhole(all, shares);
  }
  // maxVUs 3 < 4 workers: worker 3 has no VU, hence no starts.
  const Plan last = SegmentFor(whole, 3, 4);
  const Scenario& car = last.scenarios[0];
  EXPECT_EQ(car.name, "car");
  EXPECT_EQ(car.max_vus, 0);
  EXPECT_EQ(ArrivalSchedule::For(car).TotalArrivals(), 0u);
  EXPECT_FALSE(car.HasWork());
}

}  // namespace
}  // namespace stampede::engine
