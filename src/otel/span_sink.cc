#include "otel/span_sink.h"

#include <cstring>
#include <utility>

#include "otel/otlp_encoder.h"

namespace stampede::otel {

SpanSink::SpanSink(Options options, std::function<void()> on_chunk_ready)
    : options_(options),
      on_chunk_ready_(std::move(on_chunk_ready)),
      filled_(options.chunk_count == 0 ? 1 : options.chunk_count),
      free_(options.chunk_count == 0 ? 1 : options.chunk_count) {
  if (options_.chunk_count == 0) options_.chunk_count = 1;
  if (options_.chunk_bytes < 256) options_.chunk_bytes = 256;
  if (options_.max_spans_per_chunk == 0) options_.max_spans_per_chunk = 1;
  storage_ = std::make_unique<char[]>(options_.chunk_bytes * options_.chunk_count);
  chunks_.resize(options_.chunk_count);
  for (size_t i = 0; i < chunks_.size(); ++i) {
    chunks_[i].data_ = storage_.get() + i * options_.chunk_bytes;
    // The rings hold every chunk at once at most: pushes never fail.
    free_.Push(&chunks_[i]);
  }
  // A span is encoded here first so that a chunk never has to grow; a span
  // larger than this is dropped anyway.
  scratch_.Reserve(options_.chunk_bytes);
}

bool SpanSink::Record(const SpanData& span) {
  scratch_.Clear();
  EncodeSpan(span, scratch_);
  const size_t n = scratch_.size();
  if (n > options_.chunk_bytes) [[unlikely]] {
    CountDrop();
    return false;
  }
  if (current_ != nullptr && current_->size_ + n > options_.chunk_bytes) HandOver();
  if (current_ == nullptr) {
    // For the free ring the roles are reversed: this thread pops.
    Chunk* next = nullptr;
    if (!free_.Pop(next)) {
      CountDrop();
      return false;
    }
    current_ = next;
    current_->size_ = 0;
    current_->spans_ = 0;
  }
  std::memcpy(current_->data_ + current_->size_, scratch_.data(), n);
  current_->size_ += n;
  current_->spans_ += 1;
  recorded_.store(recorded_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (current_->spans_ >= options_.max_spans_per_chunk) HandOver();
  return true;
}

void SpanSink::Flush() {
  if (current_ != nullptr && current_->spans_ > 0) HandOver();
}

void SpanSink::HandOver() {
  filled_.Push(current_);  // cannot fail: capacity ≥ chunk_count
  current_ = nullptr;
  if (on_chunk_ready_) on_chunk_ready_();
}

const SpanSink::Chunk* SpanSink::TakeFilled() {
  Chunk* c = nullptr;
  return filled_.Pop(c) ? c : nullptr;
}

void SpanSink::Recycle(const Chunk* chunk) {
  free_.Push(const_cast<Chunk*>(chunk));  // cannot fail: capacity ≥ chunk_count
}

}  // namespace stampede::otel
