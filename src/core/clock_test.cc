#include "core/clock.h"

#include <gtest/gtest.h>

#include <ctime>

namespace stampede::core {
namespace {

TEST(MonotonicClockTest, NeverGoesBackwards) {
  MonotonicClock clock;
  int64_t prev = clock.NowNs();
  for (int i = 0; i < 10'000; ++i) {
    int64_t now = clock.NowNs();
    ASSERT_GE(now, prev);
    prev = now;
  }
}

TEST(FakeClockTest, MovesOnlyWhenTold) {
  FakeClock clock(100);
  EXPECT_EQ(clock.NowNs(), 100);
  EXPECT_EQ(clock.NowNs(), 100);
  clock.AdvanceNs(50);
  EXPECT_EQ(clock.NowNs(), 150);
  clock.SetNs(7 * kNsPerSec);
  EXPECT_EQ(clock.NowNs(), 7'000'000'000);
}

TEST(FakeClockTest, UsableThroughTheSeam) {
  FakeClock fake;
  const Clock& clock = fake;
  fake.AdvanceNs(kNsPerMs);
  EXPECT_EQ(clock.NowNs(), 1'000'000);
}

TEST(WallAnchorTest, MapsMonotonicToUnixTime) {
  WallAnchor anchor(/*mono_ns=*/1'000, /*unix_ns=*/1'700'000'000 * kNsPerSec);
  EXPECT_EQ(anchor.ToUnixNs(1'000), 1'700'000'000 * kNsPerSec);
  EXPECT_EQ(anchor.ToUnixNs(1'000 + 5 * kNsPerMs), 1'700'000'000 * kNsPerSec + 5'000'000);
  EXPECT_EQ(anchor.ToUnixNs(0), 1'700'000'000 * kNsPerSec - 1'000);
}

TEST(WallAnchorTest, AnchorsFromClockAndRealtime) {
  FakeClock clock(42);
  timespec before;
  clock_gettime(CLOCK_REALTIME, &before);
  WallAnchor anchor(clock);
  timespec after;
  clock_gettime(CLOCK_REALTIME, &after);
  EXPECT_EQ(anchor.mono_ns(), 42);
  EXPECT_GE(anchor.unix_ns(), before.tv_sec * kNsPerSec + before.tv_nsec);
  EXPECT_LE(anchor.unix_ns(), after.tv_sec * kNsPerSec + after.tv_nsec);
}

}  // namespace
}  // namespace stampede::core
