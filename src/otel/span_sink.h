// SpanSink: where one worker thread records its finished spans, without ever
// waiting for telemetry (DESIGN.md: "the load never waits for telemetry").
//
// A sink owns a fixed pool of chunks (`chunk_count` × `chunk_bytes`, allocated
// once at construction). Record() encodes the span with EncodeSpan() and
// appends the bytes (a `ScopeSpans.spans` field) to the current chunk; a full
// chunk is handed to the consumer (the ExportPipeline's exporter thread)
// through a bounded lock-free single-producer/single-consumer ring, and the
// consumer gives emptied chunks back through a second such ring. When no free
// chunk is left the span is DROPPED and counted — Record() never blocks.
//
// Cost: in steady state Record() allocates nothing, takes no lock and makes
// no system call (the scratch encoder is pre-reserved to `chunk_bytes`; one
// span larger than a chunk is dropped and counted). Handing a chunk over calls
// `on_chunk_ready` (the pipeline's wake-up: one atomic exchange and, at most,
// one futex wake per chunk, not per span).
//
// Threads: Record() and Flush() belong to the single producer (the worker
// that owns the sink; after that worker is joined, whoever joined it).
// TakeFilled()/Recycle() belong to the single consumer. dropped()/recorded()
// may be read from any thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <string_view>
#include <vector>

#include "otel/proto_writer.h"
#include "otel/span.h"

namespace stampede::otel {

// A bounded lock-free queue for exactly one producer thread and one consumer
// thread. Capacity is rounded up to a power of two; Push() fails when full.
template <typename T>
class SpscRing {
 public:
  explicit SpscRing(size_t min_capacity) {
    size_t cap = 1;
    while (cap < min_capacity) cap <<= 1;
    slots_ = std::make_unique<T[]>(cap);
    mask_ = cap - 1;
  }
  size_t capacity() const { return mask_ + 1; }

  // Producer thread only.
  bool Push(T value) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    slots_[tail & mask_] = value;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }

  // Consumer thread only. Returns false when empty.
  bool Pop(T& out) {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return false;
    }
    out = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

 private:
  static constexpr size_t kLine = 64;
  std::unique_ptr<T[]> slots_;
  size_t mask_ = 0;
  alignas(kLine) std::atomic<size_t> head_{0};  // consumer's position
  size_t tail_cache_ = 0;                       // consumer's view of tail_
  alignas(kLine) std::atomic<size_t> tail_{0};  // producer's position
  size_t head_cache_ = 0;                       // producer's view of head_
};

class SpanSink {
 public:
  struct Options {
    size_t chunk_bytes = 64 * 1024;    // bytes of encoded spans per chunk
    size_t chunk_count = 32;           // chunks in the pool (memory: count × bytes)
    size_t max_spans_per_chunk = 512;  // a chunk is handed over once it holds this many
  };

  // A run of encoded spans (concatenated `ScopeSpans.spans` fields). The sink
  // owns every chunk; a consumer borrows it between TakeFilled() and Recycle().
  class Chunk {
   public:
    std::string_view bytes() const { return {data_, size_}; }
    uint32_t spans() const { return spans_; }

   private:
    friend class SpanSink;
    char* data_ = nullptr;
    size_t size_ = 0;
    uint32_t spans_ = 0;
  };

  // `on_chunk_ready` (optional) is called on the producer thread each time a
  // chunk is handed over; it must not block.
  explicit SpanSink(Options options, std::function<void()> on_chunk_ready = nullptr);
  SpanSink() : SpanSink(Options{}) {}
  SpanSink(const SpanSink&) = delete;
  SpanSink& operator=(const SpanSink&) = delete;

  // --- Producer thread ------------------------------------------------------

  // Encodes `span` into the current chunk. Returns false when the span was
  // dropped (no free chunk, or the span alone is larger than a chunk).
  bool Record(const SpanData& span);
  // Hands over the current chunk if it holds any span (call periodically,
  // e.g. every 200 ms, and at the end of the run).
  void Flush();

  // --- Consumer thread --------------------------------------------------------

  // The next handed-over chunk, or nullptr. Give it back with Recycle().
  const Chunk* TakeFilled();
  void Recycle(const Chunk* chunk);

  // --- Any thread -------------------------------------------------------------

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  uint64_t recorded() const { return recorded_.load(std::memory_order_relaxed); }
  const Options& options() const { return options_; }

 private:
  void HandOver();
  void CountDrop() {
    dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  Options options_;
  std::function<void()> on_chunk_ready_;
  std::unique_ptr<char[]> storage_;
  std::vector<Chunk> chunks_;
  SpscRing<Chunk*> filled_;   // producer → consumer
  SpscRing<Chunk*> free_;     // consumer → producer
  Chunk* current_ = nullptr;  // producer-owned
  ProtoWriter scratch_;       // producer-owned
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> recorded_{0};
};

}  // namespace stampede::otel
