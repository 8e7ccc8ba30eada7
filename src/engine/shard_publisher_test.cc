#include "engine/shard_publisher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "metrics/snapshot.h"

namespace stampede::engine {
namespace {

namespace mb = metrics::builtin;

TEST(ShardPublisherTest, MainSeesMonotonicCumulativeCopies) {
  metrics::Registry registry = metrics::Registry::WithBuiltins();
  metrics::Shard live(registry);
  ShardPublisher publisher(registry);
  std::atomic<bool> done{false};
  std::atomic<int> seen{0};
  constexpr int kRequests = 200000;
  std::thread worker([&] {
    for (int i = 1; i <= kRequests; ++i) {
      live.Add(mb::kHttpReqs, metrics::Shard::kNoTags, 1);
      live.Add(mb::kHttpReqDuration, metrics::Shard::kNoTags, 1000.0 * (i % 97 + 1));
      if (i % 1000 == 0) publisher.Publish(live);
      // Halfway, hand over once for certain, so the reader sees a copy taken
      // while the worker still writes (not only the final one).
      if (i == kRequests / 2) {
        while (seen.load() == 0) std::this_thread::yield();
      }
    }
    publisher.Publish(live);  // the final copy: never skipped
    done = true;
  });
  double last = 0;
  auto read = [&](const metrics::Shard& s) {
    const metrics::Shard* shards[] = {&s};
    metrics::Snapshot snap = metrics::Snapshot::Merge(registry, shards);
    double count = snap.Aggregate(mb::kHttpReqs).count;
    EXPECT_GE(count, last);  // cumulative: never goes back
    EXPECT_EQ(snap.Aggregate(mb::kHttpReqDuration).trend->count(), static_cast<uint64_t>(count));
    last = count;
    ++seen;
  };
  while (!done) publisher.Consume(read);
  publisher.Consume(read);
  worker.join();
  EXPECT_EQ(last, kRequests);
  EXPECT_GT(seen.load(), 1);
}

}  // namespace
}  // namespace stampede::engine
