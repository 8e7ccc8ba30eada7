// Hands a worker's cumulative metrics to the main thread, about once a
// second, with no lock and nothing allocated in steady state. A triple
// buffer: the worker writes into its back copy, the main thread reads its
// front copy, and the newest finished copy waits in the middle slot (an
// atomic pointer whose low bit says "not read yet").
//
//   worker: Publish(live)  — copies `live` into the back buffer and swaps it
//                            with the middle one; never waits, never skips
//   main:   Consume(fn)    — if a newer copy is in the middle, swaps it with
//                            the front buffer and calls fn(front)
//
// The load never waits for the consumer: a slow main thread only reads a
// newer copy later; copies it never read are overwritten. Thread: Publish on
// the worker, Consume on the main thread; one of each.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "metrics/registry.h"
#include "metrics/shard.h"

namespace stampede::engine {

class ShardPublisher {
 public:
  explicit ShardPublisher(const metrics::Registry& registry)
      : a_(std::make_unique<metrics::Shard>(registry)),
        b_(std::make_unique<metrics::Shard>(registry)),
        c_(std::make_unique<metrics::Shard>(registry)),
        back_(a_.get()),
        front_(b_.get()),
        middle_(reinterpret_cast<std::uintptr_t>(c_.get())) {}

  // Worker thread. `time_ns`: when the copy was taken (monotonic clock), so
  // the reader can stamp what it builds from it with the data's time.
  void Publish(const metrics::Shard& live, int64_t time_ns = 0) {
    back_->CopyFrom(live);
    TimeOf(back_) = time_ns;
    std::uintptr_t old = middle_.exchange(reinterpret_cast<std::uintptr_t>(back_) | kFresh,
                                          std::memory_order_acq_rel);
    back_ = reinterpret_cast<metrics::Shard*>(old & ~kFresh);
  }

  // Main thread. Calls fn(const metrics::Shard&) with the newest copy, if one
  // arrived since the last call; returns whether it did. time_ns() is then
  // that copy's Publish() time.
  template <typename Fn>
  bool Consume(Fn&& fn) {
    if ((middle_.load(std::memory_order_relaxed) & kFresh) == 0) return false;
    std::uintptr_t old =
        middle_.exchange(reinterpret_cast<std::uintptr_t>(front_), std::memory_order_acq_rel);
    front_ = reinterpret_cast<metrics::Shard*>(old & ~kFresh);
    fn(static_cast<const metrics::Shard&>(*front_));
    return true;
  }
  // Main thread: the Publish() time of the copy last handed to Consume()'s fn
  // (0 before the first).
  int64_t time_ns() const { return TimeOf(front_); }

 private:
  static constexpr std::uintptr_t kFresh = 1;  // Shard is aligned to ≥ 8
  // Each buffer's publish time travels with it (written before the release
  // exchange, read after the acquire one).
  int64_t& TimeOf(const metrics::Shard* s) {
    return s == a_.get() ? times_[0] : s == b_.get() ? times_[1] : times_[2];
  }
  int64_t TimeOf(const metrics::Shard* s) const {
    return s == a_.get() ? times_[0] : s == b_.get() ? times_[1] : times_[2];
  }
  int64_t times_[3] = {0, 0, 0};
  std::unique_ptr<metrics::Shard> a_, b_, c_;
  metrics::Shard* back_;                 // worker-only
  metrics::Shard* front_;                // main-only
  std::atomic<std::uintptr_t> middle_;   // shared; pointer | kFresh
};

}  // namespace stampede::engine
