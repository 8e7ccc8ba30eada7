#include "store/span_budget.h"

#include <gtest/gtest.h>

namespace stampede::store {
namespace {

constexpr int64_t kStart = 1'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

SpanRecord Request(const std::string& trace, const std::string& span, int64_t second, double ms,
                   int status = 200) {
  SpanRecord s;
  s.trace_id = trace;
  s.span_id = span;
  s.kind = "client";
  s.status = status >= 400 ? "error" : "unset";
  s.is_request = true;
  s.request_name = "/r";
  s.http_status = status;
  s.start_unix_ns = kStart + second * kSec;
  s.duration_ms = ms;
  return s;
}

SpanRecord Child(const std::string& trace, const std::string& span, const std::string& parent,
                 int64_t second) {
  SpanRecord s;
  s.trace_id = trace;
  s.span_id = span;
  s.parent_span_id = parent;
  s.kind = "internal";
  s.start_unix_ns = kStart + second * kSec;
  return s;
}

std::vector<std::string> Ids(const std::vector<SpanRecord>& spans) {
  std::vector<std::string> out;
  for (const auto& s : spans) out.push_back(s.span_id);
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SpanBudgetTest, HeldSpansStayBoundedWhateverTheBudget) {
  SpanBudget b({.run_start_unix_ns = kStart,
                .max_per_second = 1'000'000,
                .grace_seconds = 15,
                .max_held_spans = 1000});
  std::vector<SpanRecord> ready;
  std::vector<ExemplarRecord> ex;
  int id = 0;
  for (int64_t second = 0; second < 10; ++second) {
    for (int batch = 0; batch < 10; ++batch) {
      std::vector<SpanRecord> in;
      for (int i = 0; i < 100; ++i, ++id) {
        std::string n = std::to_string(id);
        in.push_back(Request("t" + n, "s" + n, second, 1 + i));
      }
      b.Add(std::move(in), ready, ex);
      EXPECT_LE(b.high_water().held_spans, 1000u + 100u);  // one batch over, at most
    }
  }
  b.CloseAll(ready, ex);
  // Nothing is lost to the bound: early-closed windows are written, not dropped.
  EXPECT_EQ(ready.size(), 10'000u);
  EXPECT_EQ(b.kept(), 10'000u);
}

TEST(SpanBudgetTest, KeepsFailedFirstThenSlowestPerSecond) {
  SpanBudget b({.run_start_unix_ns = kStart, .max_per_second = 2, .grace_seconds = 2});
  std::vector<SpanRecord> ready;
  std::vector<ExemplarRecord> ex;
  std::vector<SpanRecord> in = {Request("t1", "a", 0, 10), Request("t2", "b", 0, 50),
                                Request("t3", "c", 0, 1, 500), Request("t4", "d", 0, 20),
                                Request("t5", "e", 1, 5)};
  b.Add(std::move(in), ready, ex);
  EXPECT_TRUE(ready.empty());
  b.Advance(2, ready, ex);  // closes seconds < 0: nothing
  EXPECT_TRUE(ready.empty());
  b.Advance(3, ready, ex);  // closes second 0
  EXPECT_EQ(Ids(ready), (std::vector<std::string>{"b", "c"}));
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].span_id, "b");  // the slowest kept, failed or not
  ready.clear();
  b.CloseAll(ready, ex);
  EXPECT_EQ(Ids(ready), (std::vector<std::string>{"e"}));
  EXPECT_EQ(b.kept(), 3u);
  EXPECT_EQ(b.not_kept(), 2u);
  EXPECT_EQ(b.received(), 5u);
}

TEST(SpanBudgetTest, ChildrenBeforeTheirRequestAndLateSpansOfKeptTraces) {
  SpanBudget b({.run_start_unix_ns = kStart, .max_per_second = 1, .grace_seconds = 0});
  std::vector<SpanRecord> ready;
  std::vector<ExemplarRecord> ex;
  std::vector<SpanRecord> in;
  in.push_back(Child("t1", "dns", "req", 0));
  in.push_back(Child("t2", "orphan", "none", 0));
  b.Add(std::move(in), ready, ex);
  EXPECT_EQ(b.high_water().pending, 2u);
  in.clear();
  in.push_back(Request("t1", "req", 0, 5));
  b.Add(std::move(in), ready, ex);
  b.Advance(1, ready, ex);
  EXPECT_EQ(Ids(ready), (std::vector<std::string>{"dns", "req"}));
  EXPECT_EQ(b.not_kept(), 1u);  // the orphan, when its second closed
  ready.clear();
  // A script span of the kept trace arriving later is written at once.
  in.clear();
  in.push_back(Child("t1", "script", "", 0));
  b.Add(std::move(in), ready, ex);
  EXPECT_EQ(Ids(ready), (std::vector<std::string>{"script"}));
  // A request of a closed second is not kept.
  ready.clear();
  in.clear();
  in.push_back(Request("t9", "late", 0, 100));
  b.Add(std::move(in), ready, ex);
  EXPECT_TRUE(ready.empty());
  EXPECT_EQ(b.not_kept(), 2u);
}

// A kept trace is remembered for kept_trace_seconds after its window
// closed (the service's late spans join it), then forgotten: in a long run
// the memory of kept traces stays a window of time, not a growing set.
TEST(SpanBudgetTest, KeptTracesAreRememberedForAWhileOnly) {
  SpanBudget b({.run_start_unix_ns = kStart, .max_per_second = 10, .grace_seconds = 0,
                .kept_trace_seconds = 5});
  std::vector<SpanRecord> ready;
  std::vector<ExemplarRecord> ex;
  std::vector<SpanRecord> in;
  in.push_back(Request("t1", "req1", 0, 5));
  b.Add(std::move(in), ready, ex);
  b.Advance(1, ready, ex);  // second 0 closes: t1 kept
  ASSERT_EQ(Ids(ready), (std::vector<std::string>{"req1"}));
  ready.clear();
  b.Advance(5, ready, ex);  // 4 s after: still remembered
  in.clear();
  in.push_back(Child("t1", "late1", "", 4));
  b.Add(std::move(in), ready, ex);
  EXPECT_EQ(Ids(ready), (std::vector<std::string>{"late1"}));
  ready.clear();
  b.Advance(7, ready, ex);  // 6 s after: forgotten
  in.clear();
  in.push_back(Child("t1", "late2", "", 6));
  b.Add(std::move(in), ready, ex);
  b.Advance(8, ready, ex);
  EXPECT_TRUE(ready.empty());  // held as an orphan, then not kept
  EXPECT_EQ(b.not_kept(), 1u);
}

TEST(SpanBudgetTest, ZeroBudgetKeepsNothing) {
  SpanBudget b({.run_start_unix_ns = kStart, .max_per_second = 0});
  std::vector<SpanRecord> ready;
  std::vector<ExemplarRecord> ex;
  std::vector<SpanRecord> in = {Request("t1", "a", 0, 10), Child("t1", "c", "a", 0)};
  b.Add(std::move(in), ready, ex);
  b.CloseAll(ready, ex);
  EXPECT_TRUE(ready.empty());
  EXPECT_EQ(b.not_kept(), 2u);
}

TEST(SpanBudgetTest, OpenWindowsAreCapped) {
  SpanBudget b({.run_start_unix_ns = kStart,
                .max_per_second = 1,
                .grace_seconds = 1000,
                .max_open_windows = 4});
  std::vector<SpanRecord> ready;
  std::vector<ExemplarRecord> ex;
  for (int s = 0; s < 10; ++s) {
    std::vector<SpanRecord> in = {Request("t" + std::to_string(s), "s" + std::to_string(s), s, 1)};
    b.Add(std::move(in), ready, ex);
  }
  EXPECT_EQ(b.high_water().open_windows, 4u);
  EXPECT_EQ(ready.size(), 6u);  // the oldest windows closed early
}

}  // namespace
}  // namespace stampede::store
