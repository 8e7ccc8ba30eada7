#include "ui/slow_requests.h"

#include <gtest/gtest.h>

#include <string>

namespace stampede::ui {
namespace {

constexpr int64_t kStart = 1'700'000'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

SlowRequest At(int64_t end_offset_ns, double ms, std::string id) {
  SlowRequest r;
  r.span_id = std::move(id);
  r.trace_id = std::string(32, 'a');
  r.name = "GET /x";
  r.method = "GET";
  r.status = 200;
  r.end_unix_ns = kStart + end_offset_ns;
  r.duration_ms = ms;
  r.total_ms = ms + 1;
  return r;
}

TEST(SlowRequests, KeepsTheSlowestOfEachSecondSlowestFirst) {
  SlowRequests s(kStart, /*per_second=*/3);
  for (int i = 0; i < 20; ++i) s.Offer(At(kSec / 2 + i, i % 7 + 0.5 * i, "s" + std::to_string(i)));
  s.Offer(At(kSec + 5, 1000, "next-second"));
  std::vector<SlowRequest> got = s.Slowest(kStart, kStart + kSec, 10);
  ASSERT_EQ(got.size(), 3u);
  // Durations i % 7 + i / 2: the three largest are i = 19 (14.5), 18 (13), 13 (12.5).
  EXPECT_EQ(got[0].span_id, "s19");
  EXPECT_EQ(got[1].span_id, "s18");
  EXPECT_EQ(got[2].span_id, "s13");
  EXPECT_EQ(s.offered(), 21u);
  ASSERT_EQ(s.Slowest(kStart + kSec, kStart + 2 * kSec, 10).size(), 1u);
  EXPECT_EQ(s.Slowest(kStart + kSec, kStart + 2 * kSec, 10)[0].span_id, "next-second");
}

TEST(SlowRequests, WindowIsHalfOpenAndLimited) {
  SlowRequests s(kStart);
  s.Offer(At(100, 5, "at-100"));
  s.Offer(At(200, 9, "at-200"));
  s.Offer(At(300, 7, "at-300"));
  // (100, 300]: not the one that ended at 100.
  std::vector<SlowRequest> got = s.Slowest(kStart + 100, kStart + 300, 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].span_id, "at-200");
  EXPECT_EQ(got[1].span_id, "at-300");
  EXPECT_EQ(s.Slowest(kStart + 100, kStart + 300, 1).size(), 1u);
  EXPECT_TRUE(s.Slowest(kStart + 300, kStart + 300, 10).empty());
  EXPECT_TRUE(s.Slowest(kStart + 400, kStart + 100, 10).empty());
}

TEST(SlowRequests, WindowAcrossSecondsMergesThem) {
  SlowRequests s(kStart);
  s.Offer(At(kSec - 10, 3, "end-of-0"));
  s.Offer(At(kSec + 10, 4, "start-of-1"));
  s.Offer(At(2 * kSec + 10, 99, "second-2"));
  std::vector<SlowRequest> got = s.Slowest(kStart + kSec - 100, kStart + kSec + 100, 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].span_id, "start-of-1");
  EXPECT_EQ(got[1].span_id, "end-of-0");
}

TEST(SlowRequests, BeforeTheStartLandsInItsOwnSecond) {
  SlowRequests s(kStart);
  s.Offer(At(-5, 8, "setup"));  // setup() ran before the load started
  s.Offer(At(5, 2, "first"));
  std::vector<SlowRequest> got = s.Slowest(kStart - kSec, kStart, 10);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].span_id, "setup");
}

TEST(SlowRequests, MemoryIsBoundedToTheNewestSeconds) {
  SlowRequests s(kStart, /*per_second=*/2, /*max_seconds=*/5);
  for (int sec = 0; sec < 50; ++sec) {
    for (int i = 0; i < 10; ++i) s.Offer(At(sec * kSec + i, i, std::to_string(sec) + "-" + std::to_string(i)));
  }
  // Only seconds 45..49 are kept, two requests each.
  EXPECT_TRUE(s.Slowest(kStart, kStart + 45 * kSec - 1, 100).empty());
  std::vector<SlowRequest> kept = s.Slowest(kStart, kStart + 60 * kSec, 100);
  EXPECT_EQ(kept.size(), 10u);
  // A late span of a forgotten second is ignored, not re-added.
  s.Offer(At(3 * kSec, 1e6, "late"));
  EXPECT_TRUE(s.Slowest(kStart + 3 * kSec - 1, kStart + 4 * kSec, 100).empty());
}

TEST(SlowRequests, LongNamesAreCut) {
  SlowRequests s(kStart);
  SlowRequest r = At(10, 1, "x");
  r.name = std::string(10000, 'n');
  s.Offer(r);
  EXPECT_EQ(s.Slowest(kStart, kStart + kSec, 1)[0].name.size(), 512u);
}

}  // namespace
}  // namespace stampede::ui
