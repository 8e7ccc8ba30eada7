#include "otel/span_sink.h"
#include "core/sanitizers.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>
#include <thread>

#include "otel/otlp_encoder.h"
#include "otel/proto_reader.h"
#include "otel/test_spans.h"

// Counts heap allocations made by this thread while `g_counting` is set. This
// replaces the global allocation functions for the whole test binary.
namespace {
thread_local bool g_counting = false;
thread_local size_t g_allocations = 0;
}  // namespace

// GCC cannot see that these malloc/free pairs match the replaced operators.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#if STAMPEDE_CAN_REPLACE_NEW  // core/sanitizers.h
void* operator new(std::size_t n) {
  if (g_counting) ++g_allocations;
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif

namespace stampede::otel {
namespace {

using testing::SampleHttpSpan;

class AllocationCounter {
 public:
  AllocationCounter() {
    g_allocations = 0;
    g_counting = true;
  }
  ~AllocationCounter() { g_counting = false; }
  size_t count() const { return g_allocations; }
};

size_t EncodedSize(const SpanData& span) {
  ProtoWriter w;
  return EncodeSpan(span, w);
}

// Counts the `ScopeSpans.spans` fields in a chunk, checking it parses.
uint32_t CountSpanFields(std::string_view bytes) {
  ProtoReader r(bytes);
  ProtoField f;
  uint32_t n = 0;
  while (r.Next(f)) {
    EXPECT_EQ(f.number, kScopeSpansSpansField);
    ++n;
  }
  EXPECT_TRUE(r.done());
  return n;
}

// Consumer side, here on the same thread: take every filled chunk and give it
// back. Returns the spans seen.
uint64_t DrainAll(SpanSink& sink) {
  uint64_t spans = 0;
  while (const SpanSink::Chunk* c = sink.TakeFilled()) {
    spans += c->spans();
    sink.Recycle(c);
  }
  return spans;
}

TEST(SpscRingTest, FifoAndBounded) {
  SpscRing<int> ring(3);  // rounded up to 4
  EXPECT_EQ(ring.capacity(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(ring.Push(i));
  EXPECT_FALSE(ring.Push(99));
  int v = -1;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ring.Pop(v));
    EXPECT_EQ(v, i);
  }
  EXPECT_FALSE(ring.Pop(v));
}

TEST(SpscRingTest, TwoThreadsSeeEveryValueInOrder) {
  SpscRing<int> ring(64);
  constexpr int kCount = 200000;
  std::thread producer([&] {
    for (int i = 0; i < kCount; ++i) {
      while (!ring.Push(i)) std::this_thread::yield();
    }
  });
  int expected = 0, v = 0;
  while (expected < kCount) {
    if (ring.Pop(v)) {
      ASSERT_EQ(v, expected);
      ++expected;
    } else {
      std::this_thread::yield();
    }
  }
  producer.join();
}

TEST(SpanSinkTest, ChunksHoldWholeEncodedSpans) {
  SampleHttpSpan span;
  const size_t size = EncodedSize(span.data);
  SpanSink sink(SpanSink::Options{.chunk_bytes = 4 * size + size / 2, .chunk_count = 4});
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(sink.Record(span.data));
  // 4 spans fit in a chunk: two full chunks were handed over, 2 spans pending.
  const SpanSink::Chunk* a = sink.TakeFilled();
  const SpanSink::Chunk* b = sink.TakeFilled();
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(sink.TakeFilled(), nullptr);
  EXPECT_EQ(a->spans(), 4u);
  EXPECT_EQ(a->bytes().size(), 4 * size);
  EXPECT_EQ(CountSpanFields(a->bytes()), 4u);
  EXPECT_EQ(CountSpanFields(b->bytes()), 4u);
  sink.Recycle(a);
  sink.Recycle(b);
  sink.Flush();
  const SpanSink::Chunk* c = sink.TakeFilled();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->spans(), 2u);
  EXPECT_EQ(CountSpanFields(c->bytes()), 2u);
  sink.Recycle(c);
  sink.Flush();  // nothing pending: no empty chunk handed over
  EXPECT_EQ(sink.TakeFilled(), nullptr);
  EXPECT_EQ(sink.recorded(), 10u);
  EXPECT_EQ(sink.dropped(), 0u);
}

TEST(SpanSinkTest, MaxSpansPerChunkHandsOverEarly) {
  SampleHttpSpan span;
  SpanSink sink(
      SpanSink::Options{.chunk_bytes = 64 * 1024, .chunk_count = 4, .max_spans_per_chunk = 3});
  for (int i = 0; i < 3; ++i) sink.Record(span.data);
  const SpanSink::Chunk* c = sink.TakeFilled();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->spans(), 3u);
  sink.Recycle(c);
}

TEST(SpanSinkTest, DropsAndCountsWhenThePoolIsExhausted) {
  SampleHttpSpan span;
  const size_t size = EncodedSize(span.data);
  int ready_calls = 0;
  SpanSink sink(SpanSink::Options{.chunk_bytes = 2 * size, .chunk_count = 3},
                [&] { ++ready_calls; });
  // 3 chunks × 2 spans = 6 spans fit; nobody consumes, so the rest is dropped.
  int accepted = 0;
  for (int i = 0; i < 20; ++i) accepted += sink.Record(span.data) ? 1 : 0;
  EXPECT_EQ(accepted, 6);
  EXPECT_EQ(sink.recorded(), 6u);
  EXPECT_EQ(sink.dropped(), 14u);
  // The first span that did not fit handed the third chunk over too.
  EXPECT_EQ(ready_calls, 3);
  // Once the consumer gives chunks back, recording resumes.
  EXPECT_EQ(DrainAll(sink), 6u);
  EXPECT_TRUE(sink.Record(span.data));
  sink.Flush();
  EXPECT_EQ(DrainAll(sink), 1u);
  EXPECT_EQ(sink.dropped(), 14u);
}

TEST(SpanSinkTest, SpanLargerThanAChunkIsDropped) {
  SampleHttpSpan span;
  std::string huge(2000, 'x');
  span.data.name = huge;
  SpanSink sink(SpanSink::Options{.chunk_bytes = 1024, .chunk_count = 2});
  EXPECT_FALSE(sink.Record(span.data));
  EXPECT_EQ(sink.dropped(), 1u);
  SampleHttpSpan small;
  EXPECT_TRUE(sink.Record(small.data));
}

TEST(SpanSinkTest, RecordAllocatesNothingInSteadyState) {
  if (!STAMPEDE_CAN_REPLACE_NEW) GTEST_SKIP() << "ThreadSanitizer owns operator new";
  SampleHttpSpan span;
  SpanSink sink(SpanSink::Options{.chunk_bytes = 8 * 1024, .chunk_count = 4});
  // Warm-up outside the counted region (nothing should be needed, but the
  // test is about steady state).
  for (int i = 0; i < 100; ++i) sink.Record(span.data);
  sink.Flush();
  DrainAll(sink);
  const uint64_t recorded_before = sink.recorded();
  const uint64_t dropped_before = sink.dropped();

  uint64_t consumed = 0;
  size_t allocations = 0;
  {
    AllocationCounter counter;
    for (int i = 0; i < 20000; ++i) {
      sink.Record(span.data);
      if (i % 37 == 0) sink.Flush();
      if (i % 101 == 0) consumed += DrainAll(sink);
    }
    // And with the pool exhausted: dropping allocates nothing either.
    for (int i = 0; i < 1000; ++i) sink.Record(span.data);
    allocations = counter.count();
  }
  EXPECT_EQ(allocations, 0u);
  EXPECT_GT(consumed, 0u);
  EXPECT_GT(sink.dropped(), dropped_before);
  sink.Flush();
  consumed += DrainAll(sink);
  EXPECT_EQ(sink.recorded() - recorded_before, consumed);
  EXPECT_EQ(sink.recorded() - recorded_before + sink.dropped() - dropped_before, 21000u);
}

TEST(SpanSinkTest, AllocationCounterSeesAllocations) {
  if (!STAMPEDE_CAN_REPLACE_NEW) GTEST_SKIP() << "ThreadSanitizer owns operator new";
  // Guards the test above against a counter that never counts.
  size_t allocations = 0;
  {
    AllocationCounter counter;
    auto* p = new std::string(100, 'x');
    delete p;
    allocations = counter.count();
  }
  EXPECT_GE(allocations, 1u);
}

TEST(SpanSinkTest, ProducerAndConsumerThreads) {
  SampleHttpSpan span;
  SpanSink sink(SpanSink::Options{.chunk_bytes = 4 * 1024, .chunk_count = 8});
  std::atomic<bool> done{false};
  uint64_t consumed = 0;
  std::thread consumer([&] {
    for (;;) {
      const bool finished = done.load(std::memory_order_acquire);
      while (const SpanSink::Chunk* c = sink.TakeFilled()) {
        consumed += CountSpanFields(c->bytes());
        sink.Recycle(c);
      }
      if (finished) break;
      std::this_thread::yield();
    }
  });
  for (int i = 0; i < 50000; ++i) sink.Record(span.data);
  sink.Flush();
  done.store(true, std::memory_order_release);
  consumer.join();
  EXPECT_EQ(consumed, sink.recorded());
  EXPECT_EQ(sink.recorded() + sink.dropped(), 50000u);
}

}  // namespace
}  // namespace stampede::otel
