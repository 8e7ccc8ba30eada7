#include "loop/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace stampede::loop {
namespace {

class RecordingTimer : public Timer {
 public:
  RecordingTimer(std::vector<int>& log, int id) : log_(log), id_(id) {}
  void OnTimer() override { log_.push_back(id_); }

 private:
  std::vector<int>& log_;
  int id_;
};

TEST(EventLoopTest, TimersFireInDeadlineOrderThenFifo) {
  core::FakeClock clock(1000);
  EventLoop loop(clock);
  std::vector<int> fired;
  RecordingTimer a(fired, 1), b(fired, 2), c(fired, 3), d(fired, 4);
  loop.Schedule(a, 5000);
  loop.Schedule(b, 2000);
  loop.Schedule(c, 5000);
  loop.Schedule(d, 9000);
  clock.SetNs(5000);
  loop.RunOnce(0);
  EXPECT_EQ(fired, (std::vector<int>{2, 1, 3}));
  EXPECT_TRUE(d.scheduled());
  EXPECT_FALSE(a.scheduled());
  clock.SetNs(9000);
  loop.RunOnce(0);
  EXPECT_EQ(fired.back(), 4);
  EXPECT_EQ(loop.scheduled_timers(), 0u);
}

TEST(EventLoopTest, CancelAndRescheduleKeepHeapConsistent) {
  core::FakeClock clock(0);
  // Declared before the loop, so they outlive it: a timer must not be
  // destroyed while scheduled (event_loop.h); one still is at the end.
  std::vector<int> fired;
  std::vector<std::unique_ptr<RecordingTimer>> timers;
  EventLoop loop(clock);
  for (int i = 0; i < 100; ++i) {
    timers.push_back(std::make_unique<RecordingTimer>(fired, i));
    loop.Schedule(*timers.back(), (i * 37) % 100);
  }
  for (int i = 0; i < 100; i += 3) loop.Cancel(*timers[i]);
  loop.Schedule(*timers[1], 1000);  // moved later
  clock.SetNs(999);
  loop.RunOnce(0);
  int64_t last = -1;
  for (int id : fired) {
    EXPECT_NE(id % 3, 0) << "cancelled timer fired";
    EXPECT_NE(id, 1) << "rescheduled timer fired early";
    int64_t deadline = (id * 37) % 100;
    EXPECT_GE(deadline, last);
    last = deadline;
  }
  EXPECT_EQ(fired.size(), 100u - 34u - 1u);
  EXPECT_EQ(loop.scheduled_timers(), 1u);
}

class CountingTask : public Task {
 public:
  explicit CountingTask(EventLoop& loop, bool repost) : loop_(loop), repost_(repost) {}
  void Run() override {
    ++runs;
    if (repost_) loop_.Post(*this);
  }
  int runs = 0;

 private:
  EventLoop& loop_;
  bool repost_;
};

TEST(EventLoopTest, PostedTaskRunsNextTurnAndRepostDoesNotStarve) {
  core::FakeClock clock(0);
  EventLoop loop(clock);
  CountingTask t(loop, /*repost=*/true);
  loop.Post(t);
  loop.Post(t);  // no-op
  loop.RunOnce(-1);  // must not block: a task is posted
  EXPECT_EQ(t.runs, 1);
  loop.RunOnce(-1);  // the re-posted task keeps the loop from blocking
  EXPECT_EQ(t.runs, 2);
}

class PipeReader : public IoHandler {
 public:
  explicit PipeReader(int fd) : fd_(fd) {}
  void OnIo(uint32_t events) override {
    if (events & kReadable) {
      char buf[16];
      bytes += static_cast<int>(::read(fd_, buf, sizeof buf));
    }
  }
  int bytes = 0;

 private:
  int fd_;
};

TEST(EventLoopTest, DispatchesReadinessAndSkipsRemovedFds) {
  core::MonotonicClock clock;
  EventLoop loop(clock);
  int a[2], b[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a), 0);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b), 0);
  PipeReader ra(a[0]), rb(b[0]);
  ASSERT_TRUE(loop.poller().Add(a[0], kReadable, &ra));
  ASSERT_TRUE(loop.poller().Add(b[0], kReadable, &rb));
  ASSERT_EQ(::write(a[1], "hello", 5), 5);
  loop.RunOnce(-1);
  EXPECT_EQ(ra.bytes, 5);
  loop.poller().Remove(b[0]);
  ASSERT_EQ(::write(b[1], "x", 1), 1);
  loop.RunOnce(0);
  EXPECT_EQ(rb.bytes, 0);
  for (int fd : {a[0], a[1], b[0], b[1]}) ::close(fd);
}

TEST(EventLoopTest, WakeFromAnotherThreadEndsRun) {
  core::MonotonicClock clock;
  EventLoop loop(clock);
  std::thread stopper([&] { loop.RequestStop(); });
  loop.Run();  // returns only because of RequestStop's wake-up
  stopper.join();
  EXPECT_TRUE(loop.stop_requested());
}

}  // namespace
}  // namespace stampede::loop
