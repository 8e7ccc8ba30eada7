// Hands a worker's cumulative metrics to the main thread, about once a
// second, with no lock and nothing allocated in steady state: two buffer
// shards circulate between the threads through two atomic pointers.
//
//   worker: Publish(live)  — copies `live` into a free buffer (skips the tick
//                            when the main thread still holds both buffers)
//   main:   Consume(fn)    — if a copy is ready, fn(copy), then frees it
//
// The load never waits for the consumer: a slow main thread only means the
// copy it reads is a little older. Thread: Publish on the worker, Consume on
// the main thread; one of each.
#pragma once

#include <atomic>
#include <memory>

#include "metrics/registry.h"
#include "metrics/shard.h"

namespace stampede::engine {

class ShardPublisher {
 public:
  explicit ShardPublisher(const metrics::Registry& registry)
      : a_(std::make_unique<metrics::Shard>(registry)),
        b_(std::make_unique<metrics::Shard>(registry)),
        worker_spare_(a_.get()),
        free_(b_.get()) {}

  // Worker thread. Returns false when no buffer was free (tick skipped).
  bool Publish(const metrics::Shard& live) {
    metrics::Shard* buf = worker_spare_;
    worker_spare_ = nullptr;
    if (buf == nullptr) buf = free_.exchange(nullptr, std::memory_order_acquire);
    if (buf == nullptr) return false;
    buf->CopyFrom(live);
    // If the previous copy was never taken, it becomes our spare.
    worker_spare_ = ready_.exchange(buf, std::memory_order_acq_rel);
    return true;
  }

  // Main thread. Calls fn(const metrics::Shard&) with the newest copy, if one
  // arrived since the last call; returns whether it did.
  template <typename Fn>
  bool Consume(Fn&& fn) {
    metrics::Shard* buf = ready_.exchange(nullptr, std::memory_order_acquire);
    if (buf == nullptr) return false;
    fn(static_cast<const metrics::Shard&>(*buf));
    free_.store(buf, std::memory_order_release);
    return true;
  }

 private:
  std::unique_ptr<metrics::Shard> a_, b_;
  metrics::Shard* worker_spare_;             // worker-only
  std::atomic<metrics::Shard*> ready_{nullptr};  // worker → main
  std::atomic<metrics::Shard*> free_;            // main → worker
};

}  // namespace stampede::engine
