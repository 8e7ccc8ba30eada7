// A per-worker event loop: I/O readiness (through a Poller), timers and
// same-thread deferred tasks, plus a thread-safe wake-up.
//
// A turn runs in phases, each a function, so it reads top to bottom:
//   1. PollIo()       — wait for I/O until the earliest timer (not at all while
//                       tasks are posted), dispatch handlers
//   2. RunTimers()    — fire every timer whose deadline has passed
//   3. RunDeferred()  — tasks posted before or during this turn
// The loop caches the time once per phase (Now()); code that needs a fresher
// reading for a measurement calls UpdateNow().
//
// Ownership: Timers and Tasks are intrusive — owned by the caller, which must
// cancel them before destroying them. Nothing here allocates in steady state
// (the timer heap grows to its high-water mark once).
// Thread: everything but Wake() and RequestStop() runs on the loop's thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/clock.h"
#include "loop/poller.h"

namespace stampede::loop {

class EventLoop;

// Owned by its user, never by the loop. A timer must not be destroyed while
// scheduled: cancel it first, or destroy the loop before it (the loop's
// destructor unschedules what is left).
class Timer {
 public:
  virtual ~Timer() = default;
  // Called on the loop thread once the deadline has passed. The timer is no
  // longer scheduled when this runs; it may reschedule itself.
  virtual void OnTimer() = 0;
  bool scheduled() const { return heap_index_ != kNotScheduled; }
  int64_t deadline_ns() const { return deadline_ns_; }

 private:
  friend class EventLoop;
  static constexpr size_t kNotScheduled = static_cast<size_t>(-1);
  int64_t deadline_ns_ = 0;
  uint64_t seq_ = 0;  // FIFO order among equal deadlines
  size_t heap_index_ = kNotScheduled;
};

// A one-shot same-thread callback, run at the end of the turn.
class Task {
 public:
  virtual ~Task() = default;
  virtual void Run() = 0;
  bool posted() const { return posted_; }

 private:
  friend class EventLoop;
  Task* next_ = nullptr;
  bool posted_ = false;
};

class EventLoop final : private DispatchHook {
 public:
  // `clock` must outlive the loop. Throws std::system_error when the kernel
  // refuses an eventfd or epoll instance.
  explicit EventLoop(const core::Clock& clock, std::unique_ptr<Poller> poller = nullptr);
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Monotonic time (ns) cached at the start of the current phase.
  int64_t Now() const { return now_ns_; }
  // Reads the clock, refreshes the cache and returns it.
  int64_t UpdateNow() { return now_ns_ = clock_.NowNs(); }
  const core::Clock& clock() const { return clock_; }
  Poller& poller() { return *poller_; }

  // Schedules (or re-schedules) `timer` at an absolute monotonic deadline.
  void Schedule(Timer& timer, int64_t deadline_ns);
  void Cancel(Timer& timer);
  size_t scheduled_timers() const { return heap_.size(); }

  // Runs `task` at the end of the current turn (or of the next one, when
  // posted from a task). Posting a posted task is a no-op.
  void Post(Task& task);

  // One turn. Blocks in the poller at most until the earliest timer, or
  // `max_wait_ns` if smaller (-1: no extra limit).
  void RunOnce(int64_t max_wait_ns = -1);
  // Turns until RequestStop() is called.
  void Run();
  // Thread-safe: makes Run() return after the current turn.
  void RequestStop();
  bool stop_requested() const { return stop_.load(std::memory_order_acquire); }
  // Thread-safe: interrupts a blocking poll (one write to an eventfd).
  void Wake();

 private:
  class WakeHandler;
  void BeforeDispatch() override { UpdateNow(); }
  void RunDeferred();
  void PollIo(int64_t max_wait_ns);
  void RunTimers();
  bool Before(const Timer* a, const Timer* b) const;
  void SiftUp(size_t i);
  void SiftDown(size_t i);
  void RemoveAt(size_t i);

  const core::Clock& clock_;
  std::unique_ptr<Poller> poller_;
  int64_t now_ns_ = 0;
  std::vector<Timer*> heap_;
  uint64_t next_seq_ = 0;
  Task* deferred_head_ = nullptr;
  Task* deferred_tail_ = nullptr;
  int wake_fd_ = -1;
  std::unique_ptr<WakeHandler> wake_handler_;
  std::atomic<bool> stop_{false};
};

}  // namespace stampede::loop
