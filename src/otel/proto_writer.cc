#include "otel/proto_writer.h"

#include <algorithm>

namespace stampede::otel {

void ProtoWriter::Grow(size_t min_capacity) {
  // Doubling keeps appends amortised O(1); 256 avoids a string of tiny
  // reallocations for the first span.
  size_t capacity = std::max<size_t>({min_capacity, capacity_ * 2, 256});
  auto data = std::make_unique_for_overwrite<char[]>(capacity);
  if (size_ != 0) std::memcpy(data.get(), data_.get(), size_);
  data_ = std::move(data);
  capacity_ = capacity;
}

void ProtoWriter::Shift(size_t body_start, size_t body_size, size_t needed, size_t reserved) {
  // The length varint must be minimal so that the encoding is canonical
  // (some decoders reject over-long varints), so the body moves instead.
  if (needed > reserved) {
    EnsureRoom(needed - reserved);
    std::memmove(data_.get() + body_start + (needed - reserved), data_.get() + body_start,
                 body_size);
    size_ += needed - reserved;
  } else {
    std::memmove(data_.get() + body_start - (reserved - needed), data_.get() + body_start,
                 body_size);
    size_ -= reserved - needed;
  }
}

}  // namespace stampede::otel
