#include "otel/export_retry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <deque>
#include <vector>

namespace stampede::otel {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::IsEmpty;
using ::testing::Le;
using Clock = std::chrono::steady_clock;
using Kind = RetryOutcome::Kind;
using namespace std::chrono_literals;

// Answers from a script (then Ok), records every call's timeout.
class FakeExporter final : public Exporter {
 public:
  explicit FakeExporter(std::deque<ExportResult> script) : script_(std::move(script)) {}
  ExportResult Export(std::string_view body, int64_t timeout_ns) override {
    EXPECT_EQ(body, "request");
    timeouts_ns.push_back(timeout_ns);
    if (script_.empty()) return ExportResult::Ok();
    ExportResult r = script_.front();
    script_.pop_front();
    return r;
  }
  std::vector<int64_t> timeouts_ns;

 private:
  std::deque<ExportResult> script_;
};

// No sleeping: the wait hook records where it was asked to wait until.
struct Harness {
  uint64_t rng = 0x9e3779b97f4a7c15ull;
  Clock::time_point shutdown = Clock::time_point::max();
  bool abandon = false;
  int requests = 0;
  std::vector<int64_t> delays_ns;
  std::vector<Clock::time_point> waits;

  RetryPolicy Policy(std::chrono::nanoseconds budget = 1h) const {
    return RetryPolicy{.deadline = Clock::now() + budget,
                       .attempt_timeout = 10s,
                       .max_attempts = 4,
                       .initial_backoff = 100ms,
                       .max_backoff = 250ms};
  }
  RetryOutcome Run(FakeExporter& exporter, const RetryPolicy& policy, bool jitter = true) {
    return ExportWithRetry(
        exporter, "request", /*items=*/5, policy,
        RetryHooks{.jitter_state = jitter ? &rng : nullptr,
                   .wait_until =
                       [this](Clock::time_point t) {
                         waits.push_back(t);
                         return true;
                       },
                   .shutdown_deadline = [this] { return shutdown; },
                   .abandon = [this] { return abandon; },
                   .on_request = [this] { ++requests; },
                   .on_backoff = [this](int64_t ns) { delays_ns.push_back(ns); }});
  }
};

TEST(ExportRetryTest, OkAtTheFirstAttempt) {
  Harness h;
  FakeExporter exporter({});
  const RetryOutcome out = h.Run(exporter, h.Policy());
  EXPECT_EQ(out.kind, Kind::kExported);
  EXPECT_EQ(out.attempts, 1);
  EXPECT_EQ(out.rejected, 0u);
  EXPECT_EQ(out.message, "");
  EXPECT_EQ(h.requests, 1);
  EXPECT_THAT(exporter.timeouts_ns, ElementsAre(int64_t{10'000'000'000}));
  EXPECT_THAT(h.waits, IsEmpty());
}

TEST(ExportRetryTest, PartialSuccessIsClampedToTheItemsAndNotRetried) {
  for (const auto& [rejected, expected] :
       std::vector<std::pair<int64_t, uint64_t>>{{2, 2}, {9, 5}, {-1, 0}}) {
    Harness h;
    ExportResult partial = ExportResult::Ok();
    partial.rejected = rejected;
    partial.message = "too old";
    FakeExporter exporter({partial});
    const RetryOutcome out = h.Run(exporter, h.Policy());
    EXPECT_EQ(out.kind, Kind::kExported);
    EXPECT_EQ(out.rejected, expected) << rejected;
    EXPECT_EQ(out.message, "too old");
    EXPECT_EQ(out.attempts, 1);
  }
}

TEST(ExportRetryTest, FailedIsNeverRetried) {
  Harness h;
  FakeExporter exporter({ExportResult::Failed(400, "HTTP 400: bad data")});
  const RetryOutcome out = h.Run(exporter, h.Policy());
  EXPECT_EQ(out.kind, Kind::kFailed);
  EXPECT_EQ(out.message, "HTTP 400: bad data");
  EXPECT_EQ(out.attempts, 1);
  EXPECT_THAT(h.delays_ns, IsEmpty());
  EXPECT_THAT(h.waits, IsEmpty());
}

TEST(ExportRetryTest, RetryableThenOkBacksOffExponentiallyWithJitter) {
  Harness h;
  FakeExporter exporter({ExportResult::Retryable(503, "HTTP 503"),
                         ExportResult::Retryable(503, "HTTP 503"),
                         ExportResult::Retryable(503, "HTTP 503")});
  const auto before = Clock::now();
  const RetryOutcome out = h.Run(exporter, h.Policy());
  EXPECT_EQ(out.kind, Kind::kExported);
  EXPECT_EQ(out.attempts, 4);
  EXPECT_EQ(h.requests, 4);
  // 100 ms, 200 ms, then capped at 250 ms; each jittered into [d/2, d].
  ASSERT_EQ(h.delays_ns.size(), 3u);
  EXPECT_THAT(h.delays_ns[0], AllOf(Ge(50'000'000), Le(100'000'000)));
  EXPECT_THAT(h.delays_ns[1], AllOf(Ge(100'000'000), Le(200'000'000)));
  EXPECT_THAT(h.delays_ns[2], AllOf(Ge(125'000'000), Le(250'000'000)));
  ASSERT_EQ(h.waits.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GE(h.waits[i], before + std::chrono::nanoseconds(h.delays_ns[i]));
    EXPECT_LE(h.waits[i], Clock::now() + std::chrono::nanoseconds(h.delays_ns[i]));
  }
}

TEST(ExportRetryTest, WithoutJitterTheBackoffDoublesUpToTheMax) {
  Harness h;
  FakeExporter exporter({ExportResult::Retryable(0, "timeout"),
                         ExportResult::Retryable(0, "timeout"),
                         ExportResult::Retryable(0, "timeout")});
  EXPECT_EQ(h.Run(exporter, h.Policy(), /*jitter=*/false).kind, Kind::kExported);
  EXPECT_THAT(h.delays_ns, ElementsAre(100'000'000, 200'000'000, 250'000'000));
}

TEST(ExportRetryTest, RetryAfterIsHonoured) {
  Harness h;
  FakeExporter exporter({ExportResult::Retryable(429, "HTTP 429", int64_t{3'000'000'000})});
  const RetryOutcome out = h.Run(exporter, h.Policy());
  EXPECT_EQ(out.kind, Kind::kExported);
  EXPECT_THAT(h.delays_ns, ElementsAre(3'000'000'000));
}

TEST(ExportRetryTest, AttemptsExhaustedFailWithTheLastCause) {
  Harness h;
  FakeExporter exporter({ExportResult::Retryable(0, "connection refused"),
                         ExportResult::Retryable(0, "connection refused"),
                         ExportResult::Retryable(0, "connection refused"),
                         ExportResult::Retryable(503, "HTTP 503")});
  const RetryOutcome out = h.Run(exporter, h.Policy());
  EXPECT_EQ(out.kind, Kind::kFailed);
  EXPECT_EQ(out.message, "HTTP 503");
  EXPECT_EQ(out.attempts, 4);
  EXPECT_EQ(h.delays_ns.size(), 3u);  // no wait after the last attempt
}

TEST(ExportRetryTest, DeadlineReachedBeforeTheFirstAttemptIsNotSent) {
  for (const bool by_shutdown : {false, true}) {
    Harness h;
    if (by_shutdown) h.shutdown = Clock::now();
    FakeExporter exporter({});
    const RetryOutcome out = h.Run(exporter, h.Policy(by_shutdown ? 1h : 0ns));
    EXPECT_EQ(out.kind, Kind::kNotSent) << by_shutdown;
    EXPECT_EQ(out.attempts, 0);
    EXPECT_THAT(exporter.timeouts_ns, IsEmpty());
  }
}

TEST(ExportRetryTest, AttemptTimeoutIsCutToWhatRemains) {
  Harness h;
  h.shutdown = Clock::now() + 2s;
  FakeExporter exporter({});
  EXPECT_EQ(h.Run(exporter, h.Policy()).kind, Kind::kExported);
  ASSERT_EQ(exporter.timeouts_ns.size(), 1u);
  EXPECT_THAT(exporter.timeouts_ns[0], AllOf(Ge(1'000'000'000), Le(2'000'000'000)));
}

TEST(ExportRetryTest, GivesUpWhenTheWaitWouldPassTheDeadline) {
  Harness h;
  FakeExporter exporter({ExportResult::Retryable(429, "HTTP 429", int64_t{3'000'000'000})});
  const RetryOutcome out = h.Run(exporter, h.Policy(2s));
  EXPECT_EQ(out.kind, Kind::kFailed);
  EXPECT_EQ(out.message, "HTTP 429");
  EXPECT_THAT(h.waits, IsEmpty());
}

TEST(ExportRetryTest, AbandonOrAnInterruptedWaitGivesUp) {
  Harness h;
  h.abandon = true;  // e.g. a periodic metrics export when Shutdown() is called
  FakeExporter exporter({ExportResult::Retryable(0, "connection refused")});
  RetryOutcome out = h.Run(exporter, h.Policy());
  EXPECT_EQ(out.kind, Kind::kFailed);
  EXPECT_TRUE(out.abandoned);  // the caller's choice, not the collector's verdict
  EXPECT_EQ(out.attempts, 1);
  EXPECT_THAT(h.waits, IsEmpty());

  FakeExporter rejecting({ExportResult::Failed(400, "HTTP 400")});
  out = h.Run(rejecting, h.Policy());
  EXPECT_EQ(out.kind, Kind::kFailed);
  EXPECT_FALSE(out.abandoned);  // a 400 is a failure even while abandoning

  FakeExporter interrupted({ExportResult::Retryable(0, "connection refused")});
  RetryHooks hooks;  // only the required ones
  hooks.wait_until = [](Clock::time_point) { return false; };
  hooks.shutdown_deadline = [] { return Clock::time_point::max(); };
  out = ExportWithRetry(interrupted, "request", 5, h.Policy(), hooks);
  EXPECT_EQ(out.kind, Kind::kFailed);
  EXPECT_EQ(out.message, "connection refused");
  EXPECT_EQ(out.attempts, 1);
}

}  // namespace
}  // namespace stampede::otel
