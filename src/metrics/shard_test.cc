#include "metrics/shard.h"
#include "core/sanitizers.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

// Counts allocations made on this thread while counting is enabled. Replacing
// the global operator new is the allocation hook; it applies to the whole
// metrics_test binary but only counts inside AllocationCounter scopes.
namespace {
thread_local bool g_counting = false;
thread_local long g_allocations = 0;
}  // namespace

#if STAMPEDE_CAN_REPLACE_NEW  // core/sanitizers.h
void* operator new(std::size_t size) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace stampede::metrics {
namespace {

class AllocationCounter {
 public:
  AllocationCounter() {
    g_allocations = 0;
    g_counting = true;
  }
  ~AllocationCounter() { g_counting = false; }
  long count() const { return g_allocations; }
};

TEST(ShardTest, InterningIsOrderInsensitive) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const TagSetId a = shard.Intern({{"name", "/api"}, {"method", "GET"}, {"status", "200"}});
  const TagSetId b = shard.Intern({{"status", "200"}, {"name", "/api"}, {"method", "GET"}});
  const TagSetId c = shard.Intern({{"method", "GET"}, {"status", "200"}, {"name", "/api"}});
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  const TagSetId d = shard.Intern({{"name", "/api"}, {"method", "GET"}, {"status", "500"}});
  EXPECT_NE(a, d);
  EXPECT_NE(a, shard.Intern({{"name", "/api"}, {"method", "GET"}}));
  EXPECT_EQ(shard.Intern(std::span<const Tag>{}), Shard::kNoTags);
  auto tags = shard.tags(a);
  ASSERT_EQ(tags.size(), 3u);
  EXPECT_EQ(tags[0].key, "method");
  EXPECT_EQ(tags[1].key, "name");
  EXPECT_EQ(tags[2].key, "status");
  // A key given twice keeps its last value.
  EXPECT_EQ(
      shard.Intern({{"status", "404"}, {"name", "/api"}, {"method", "GET"}, {"status", "200"}}), a);
}

TEST(ShardTest, ManyTagSetsSurviveTableGrowth) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  std::vector<std::string> names;
  for (int i = 0; i < 1000; ++i) names.push_back("/item/" + std::to_string(i));
  std::vector<TagSetId> ids;
  for (const auto& n : names) ids.push_back(shard.Intern({{"name", n}, {"method", "GET"}}));
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(shard.Intern({{"method", "GET"}, {"name", names[i]}}), ids[i]);
  }
  EXPECT_EQ(shard.tag_set_count(), 1001u);
}

TEST(ShardTest, LargeTagSets) {
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  std::vector<std::string> keys;
  for (int i = 0; i < 70; ++i) keys.push_back("k" + std::to_string(i));
  std::vector<Tag> forward, backward;
  for (const auto& k : keys) forward.push_back({k, "v"});
  backward.assign(forward.rbegin(), forward.rend());
  const TagSetId id = shard.Intern(forward);
  EXPECT_EQ(shard.Intern(backward), id);
  EXPECT_EQ(shard.tags(id).size(), 70u);
  forward.resize(20);
  backward.assign(forward.rbegin(), forward.rend());
  EXPECT_EQ(shard.Intern(forward), shard.Intern(backward));
  EXPECT_NE(shard.Intern(forward), id);
}

TEST(ShardTest, ExistingTagSetLookupAndAddDoNotAllocate) {
  if (!STAMPEDE_CAN_REPLACE_NEW) GTEST_SKIP() << "ThreadSanitizer owns operator new";
  const Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const std::string name = "/api/products";  // views into caller-owned strings
  const std::string status = "200";
  const Tag tags[] = {{"status", status}, {"name", name}, {"method", "GET"}};
  const TagSetId id = shard.Intern(tags);
  for (MetricId m = 0; m < registry.size(); ++m) shard.Add(m, id, 1.0);  // create series
  // A trend's bucket array grows with its range (at most 9 times in its life,
  // up to kMaxBuckets): let it reach the range of the loop below first.
  shard.Add(builtin::kHttpReqDuration, id, 1e6);

  const Tag reordered[] = {{"method", "GET"}, {"name", name}, {"status", status}};
  AllocationCounter counter;
  TagSetId again = 0;
  for (int i = 0; i < 1000; ++i) {
    again = shard.Intern(reordered);
    shard.Add(builtin::kHttpReqs, again, 1);
    shard.Add(builtin::kHttpReqDuration, again, 1e6 + i * 1e3);
    shard.Add(builtin::kHttpReqFailed, again, 0);
    shard.Add(builtin::kVus, again, 10);
  }
  shard.Add(builtin::kHttpReqDuration, again, 1e12);  // forces a downscale: in place
  EXPECT_EQ(counter.count(), 0);
  EXPECT_EQ(again, id);
}

TEST(ShardTest, AddSemanticsPerType) {
  Registry registry = Registry::WithBuiltins();
  Shard shard(registry);
  const TagSetId t = shard.Intern({{"scenario", "default"}});
  shard.Add(builtin::kHttpReqs, t, 1);
  shard.Add(builtin::kHttpReqs, t, 2);
  shard.Add(builtin::kVus, t, 5);
  shard.Add(builtin::kVus, t, 9);
  shard.Add(builtin::kVus, t, 3);
  shard.Add(builtin::kChecks, t, 1);
  shard.Add(builtin::kChecks, t, 0);
  shard.Add(builtin::kChecks, t, 0.5);
  shard.Add(builtin::kIterationDuration, t, 1000);
  shard.Add(builtin::kIterationDuration, t, 3000);
  ASSERT_EQ(shard.series().size(), 4u);
  for (const Shard::Series& s : shard.series()) {
    EXPECT_EQ(s.tag_set, t);
    switch (s.metric) {
      case builtin::kHttpReqs:
        EXPECT_EQ(s.sum, 3);
        EXPECT_EQ(s.samples, 2u);
        break;
      case builtin::kVus:
        EXPECT_EQ(s.last, 3);
        EXPECT_EQ(s.min, 3);
        EXPECT_EQ(s.max, 9);
        break;
      case builtin::kChecks:
        EXPECT_EQ(s.passes, 2u);
        EXPECT_EQ(s.fails, 1u);
        break;
      case builtin::kIterationDuration:
        EXPECT_EQ(shard.histogram(s).count(), 2u);
        EXPECT_EQ(shard.histogram(s).sum(), 4000);
        break;
      default:
        ADD_FAILURE() << "unexpected metric " << s.metric;
    }
  }
  shard.ResetValues();
  for (const Shard::Series& s : shard.series()) EXPECT_EQ(s.samples, 0u);
  EXPECT_EQ(shard.histogram(shard.series()[3]).count(), 0u);
}

}  // namespace
}  // namespace stampede::metrics
