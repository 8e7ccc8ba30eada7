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

  // Worker thread.
  void Publish(const metrics::Shard& live) {
    back_->CopyFrom(live);
    std::uintptr_t old = middle_.exchange(reinterpret_cast<std::uintptr_t>(back_) | kFresh,
                                          std::memory_order_acq_rel);
    back_ = reinterpret_cast<metrics::Shard*>(old & ~kFresh);
  }

  // Main thread. Calls fn(const metrics::Shard&) with the newest copy, if one
  // arrived since the last call; returns whether it did.
  template <typename Fn>
  bool Consume(Fn&& fn) {
    if ((middle_.load(std::memory_order_relaxed) & kFresh) == 0) return false;
    std::uintptr_t old =
        middle_.exchange(reinterpret_cast<std::uintptr_t>(front_), std::memory_order_acq_rel);
    front_ = reinterpret_cast<metrics::Shard*>(old & ~kFresh);
    fn(static_cast<const metrics::Shard&>(*front_));
    return true;
  }

 private:
  static constexpr std::uintptr_t kFresh = 1;  // Shard is aligned to ≥ 8
  std::unique_ptr<metrics::Shard> a_, b_, c_;
  metrics::Shard* back_;                 // worker-only
  metrics::Shard* front_;                // main-only
  std::atomic<std::uintptr_t> middle_;   // shared; pointer | kFresh
};

}  // namespace stampede::engine
