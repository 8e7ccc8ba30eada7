// A contiguous, growable byte buffer for the hot path: it grows to its
// high-water mark and then stays there, so reusing one buffer per connection
// (or per VU) makes steady-state writes allocation-free.
// Owns its storage; move-only. Not thread-safe: one owner at a time.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <string_view>

namespace stampede::http {

class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t initial_capacity) { Reserve(initial_capacity); }
  ByteBuffer(ByteBuffer&& other) noexcept
      : data_(std::move(other.data_)), size_(other.size_), capacity_(other.capacity_) {
    other.size_ = other.capacity_ = 0;
  }
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = other.capacity_ = 0;
    return *this;
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;

  const char* data() const { return data_.get(); }
  char* data() { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  std::string_view view() const { return {data_.get(), size_}; }

  // Forgets the contents; keeps the capacity.
  void Clear() { size_ = 0; }
  // Shrinks the contents to the first `size` bytes (size <= this->size()).
  void Truncate(size_t size) { size_ = size < size_ ? size : size_; }
  // Ensures room for `capacity` bytes in total without further allocation.
  void Reserve(size_t capacity) {
    if (capacity > capacity_) Grow(capacity);
  }

  void Append(const char* bytes, size_t n) {
    if (n == 0) return;
    std::memcpy(AppendUninitialized(n), bytes, n);
  }
  void Append(std::string_view bytes) { Append(bytes.data(), bytes.size()); }
  void Append(char c) { *AppendUninitialized(1) = c; }
  // Extends the contents by `n` bytes and returns where they start, for the
  // caller to fill. The pointer is valid until the next growth.
  char* AppendUninitialized(size_t n) {
    if (capacity_ - size_ < n) Grow(size_ + n);
    char* at = data_.get() + size_;
    size_ += n;
    return at;
  }

 private:
  void Grow(size_t needed) {
    size_t capacity = capacity_ < 256 ? 256 : capacity_;
    while (capacity < needed) capacity *= 2;
    std::unique_ptr<char[]> bigger(new char[capacity]);
    if (size_ > 0) std::memcpy(bigger.get(), data_.get(), size_);
    data_ = std::move(bigger);
    capacity_ = capacity;
  }

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace stampede::http
