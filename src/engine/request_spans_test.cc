// The store gate (RequestSpans::set_store_gate): what a worker records when
// spans go only to the run store.
#include "engine/request_spans.h"

#include <gtest/gtest.h>

namespace stampede::engine {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1'000'000'000;

struct Harness {
  otel::SpanSink sink{otel::SpanSink::Options{.chunk_bytes = 1 << 20, .chunk_count = 4}};
  core::WallAnchor anchor{0, 1'700'000'000LL * kSec};
  otel::IdGenerator ids{7};
  RequestSpans spans{&sink, anchor, ids, /*keep_slower_than_ns=*/0};
  RequestSpanInfo info;
  Harness() {
    info.trace_flags = otel::kFlagSampled;
    info.method = "GET";
  }
  // A request of `total_ns` that ended at `end_ns`.
  static RequestOutcome Outcome(int64_t end_ns, int64_t total_ns, int status = 200) {
    RequestOutcome o;
    o.timings.start_ns = end_ns - total_ns;
    o.timings.end_ns = end_ns;
    o.status = status;
    return o;
  }
};

TEST(RequestSpansTest, WithoutTheGateEverySampledRequestIsKept) {
  Harness h;
  int kept = 0;
  for (int i = 0; i < 1000; ++i) kept += h.spans.Keeps(Harness::Outcome(kSec + i, kMs), h.info, false);
  EXPECT_EQ(kept, 1000);
}

TEST(RequestSpansTest, TheGateKeepsTheFirstHalfBudgetThenTheSlowAndAllFailed) {
  Harness h;
  h.spans.set_store_gate(100);
  ASSERT_TRUE(h.spans.gated());
  // Second 0: 1000 fast requests (1 ms) and 10 slow ones (64 ms).
  int kept = 0;
  for (int i = 0; i < 1000; ++i) {
    kept += h.spans.Keeps(Harness::Outcome(kSec + i * kMs / 2, kMs), h.info, false);
  }
  EXPECT_EQ(kept, 50);  // the first budget/2; no slow threshold yet
  for (int i = 0; i < 10; ++i) {
    EXPECT_FALSE(h.spans.Keeps(Harness::Outcome(kSec + 600 * kMs + i, 64 * kMs), h.info, false));
  }
  // Failed requests always pass, whatever the gate says.
  EXPECT_TRUE(h.spans.Keeps(Harness::Outcome(kSec + 700 * kMs, kMs, 500), h.info, true));
  // Second 1: the threshold now sits where the previous second's slowest
  // 50 began (the 1 ms bucket: the 10 slow ones were not enough), so after
  // the first 50 a 64 ms request passes and a 0.5 ms one does not.
  const int64_t next = 2 * kSec + kMs;
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(h.spans.Keeps(Harness::Outcome(next + i, kMs), h.info, false));
  }
  EXPECT_TRUE(h.spans.Keeps(Harness::Outcome(next + 100, 64 * kMs), h.info, false));
  EXPECT_FALSE(h.spans.Keeps(Harness::Outcome(next + 200, kMs / 2), h.info, false));
}

TEST(RequestSpansTest, TheGateCapsASecondAtTwiceTheBudget) {
  Harness h;
  h.spans.set_store_gate(100);
  // Second 0 teaches it that 1 ms requests are the slow ones.
  for (int i = 0; i < 1000; ++i) h.spans.Keeps(Harness::Outcome(kSec + i, kMs), h.info, false);
  int kept = 0;
  for (int i = 0; i < 5000; ++i) {
    kept += h.spans.Keeps(Harness::Outcome(3 * kSec + i, 2 * kMs), h.info, false);
  }
  EXPECT_EQ(kept, 200);
}

TEST(RequestSpansTest, UnsampledRequestsPassTheGateOnlyWhenFailed) {
  Harness h;
  h.spans.set_store_gate(100);
  h.info.trace_flags = 0;
  EXPECT_FALSE(h.spans.Keeps(Harness::Outcome(kSec, kMs), h.info, false));
  EXPECT_TRUE(h.spans.Keeps(Harness::Outcome(kSec, kMs, 503), h.info, true));
}

}  // namespace
}  // namespace stampede::engine
