// ProtoWriter: a protobuf wire-format writer into its own growable byte
// buffer, for the hand-written OTLP encoder (no protoc, no libprotobuf).
//
// Allocation: the buffer grows by doubling and never shrinks; Clear() keeps
// the capacity, so a writer reused for every batch allocates nothing once it
// has seen its largest message (or after Reserve()).
//
// Nested messages whose length is not known in advance: BeginMessage() writes
// the field tag and reserves room for the length varint — as many bytes as
// the caller's size hint needs (1 when there is no hint) — and EndMessage()
// writes the real length there. When the real length needs a different
// number of bytes than were reserved, the body is moved (memmove) to make the
// length varint exactly minimal, so the output is the canonical encoding for
// any size (> 127, > 16383, ... bytes). The cost is one memmove of the body
// per mis-hinted message; a good hint avoids it.
//
// proto3 presence: the *Field() helpers omit a field that holds its default
// value (0, false, 0.0, empty) unless `Presence::kExplicit` is passed (oneof
// members and `optional` fields, which must be written even when default).
//
// Thread: a writer is not synchronised; one thread at a time.
// Failure: only allocation failure (std::bad_alloc), which is fatal.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace stampede::otel {

// Protobuf wire types (groups, 3 and 4, are not supported).
enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kFixed32 = 5,
};

// Whether a default-valued field is written: proto3 implicit presence omits
// it; explicit presence (oneof, `optional`) writes it.
enum class Presence : uint8_t { kImplicit, kExplicit };

// Bytes needed to encode `v` as a varint (1..10).
constexpr size_t VarintSize(uint64_t v) {
  // Each byte carries 7 bits; 0 still needs one byte.
  return static_cast<size_t>((std::bit_width(v | 1) + 6) / 7);
}

// Bytes of a field tag for `field`.
constexpr size_t TagSize(uint32_t field) { return VarintSize(uint64_t{field} << 3); }

// Bytes of a complete length-delimited field (tag + length + payload).
constexpr size_t LengthDelimitedFieldSize(uint32_t field, size_t payload_size) {
  return TagSize(field) + VarintSize(payload_size) + payload_size;
}

class ProtoWriter {
 public:
  // Opaque marker returned by BeginMessage(), consumed by EndMessage().
  struct Bookmark {
    size_t length_pos;  // offset of the reserved length bytes
    size_t reserved;    // how many bytes were reserved for the length
  };

  ProtoWriter() = default;
  explicit ProtoWriter(size_t initial_capacity) { Reserve(initial_capacity); }
  ProtoWriter(ProtoWriter&& other) noexcept
      : data_(std::move(other.data_)), size_(other.size_), capacity_(other.capacity_) {
    other.size_ = other.capacity_ = 0;
  }
  ProtoWriter& operator=(ProtoWriter&& other) noexcept {
    data_ = std::move(other.data_);
    size_ = other.size_;
    capacity_ = other.capacity_;
    other.size_ = other.capacity_ = 0;
    return *this;
  }
  ProtoWriter(const ProtoWriter&) = delete;
  ProtoWriter& operator=(const ProtoWriter&) = delete;

  // The bytes written so far. Views stay valid until the next write, Reserve()
  // or move (the buffer may be reallocated).
  std::string_view view() const { return {data_.get(), size_}; }
  const char* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }

  // Forgets the contents; keeps the capacity.
  void Clear() { size_ = 0; }
  // Drops everything after the first `size` bytes (no-op if size >= size()).
  void Truncate(size_t size) { size_ = size < size_ ? size : size_; }
  // Ensures room for `capacity` bytes in total.
  void Reserve(size_t capacity) {
    if (capacity > capacity_) Grow(capacity);
  }

  // --- Raw wire primitives (always written) --------------------------------

  void AppendRaw(std::string_view bytes) {
    if (bytes.empty()) return;  // memcpy from a null view is undefined
    EnsureRoom(bytes.size());
    std::memcpy(data_.get() + size_, bytes.data(), bytes.size());
    size_ += bytes.size();
  }
  void AppendVarint(uint64_t v) {
    EnsureRoom(10);
    size_ += PutVarint(data_.get() + size_, v);
  }
  void AppendTag(uint32_t field, WireType type) {
    AppendVarint((uint64_t{field} << 3) | static_cast<uint8_t>(type));
  }
  void AppendFixed64(uint64_t v) {
    EnsureRoom(8);
    PutLittleEndian(data_.get() + size_, v);
    size_ += 8;
  }
  void AppendFixed32(uint32_t v) {
    EnsureRoom(4);
    PutLittleEndian(data_.get() + size_, v);
    size_ += 4;
  }

  // --- Fields ---------------------------------------------------------------

  // uint32/uint64/enum/bool (and non-negative int32/int64) as a varint.
  void VarintField(uint32_t field, uint64_t v, Presence p = Presence::kImplicit) {
    if (v == 0 && p == Presence::kImplicit) return;
    EnsureRoom(20);
    char* out = data_.get() + size_;
    size_t n = PutVarint(out, (uint64_t{field} << 3) | 0);
    n += PutVarint(out + n, v);
    size_ += n;
  }
  // int32/int64: negative values take 10 bytes (two's complement, as protobuf).
  void Int64Field(uint32_t field, int64_t v, Presence p = Presence::kImplicit) {
    VarintField(field, static_cast<uint64_t>(v), p);
  }
  void BoolField(uint32_t field, bool v, Presence p = Presence::kImplicit) {
    VarintField(field, v ? 1 : 0, p);
  }
  // fixed64 / sfixed64 (pass the two's complement bits).
  void Fixed64Field(uint32_t field, uint64_t v, Presence p = Presence::kImplicit) {
    if (v == 0 && p == Presence::kImplicit) return;
    EnsureRoom(5 + 8);
    char* out = data_.get() + size_;
    size_t n = PutVarint(out, (uint64_t{field} << 3) | 1);
    PutLittleEndian(out + n, v);
    size_ += n + 8;
  }
  void Fixed32Field(uint32_t field, uint32_t v, Presence p = Presence::kImplicit) {
    if (v == 0 && p == Presence::kImplicit) return;
    EnsureRoom(5 + 4);
    char* out = data_.get() + size_;
    size_t n = PutVarint(out, (uint64_t{field} << 3) | 5);
    PutLittleEndian(out + n, v);
    size_ += n + 4;
  }
  // A double as fixed64 bits. Implicit presence omits only +0.0 (as protobuf
  // does: -0.0 has a non-zero bit pattern and is written).
  void DoubleField(uint32_t field, double v, Presence p = Presence::kImplicit) {
    Fixed64Field(field, std::bit_cast<uint64_t>(v), p);
  }
  // string or bytes.
  void BytesField(uint32_t field, std::string_view v, Presence p = Presence::kImplicit) {
    if (v.empty() && p == Presence::kImplicit) return;
    EnsureRoom(15 + v.size());
    char* out = data_.get() + size_;
    size_t n = PutVarint(out, (uint64_t{field} << 3) | 2);
    n += PutVarint(out + n, v.size());
    if (!v.empty()) std::memcpy(out + n, v.data(), v.size());
    size_ += n + v.size();
  }
  void StringField(uint32_t field, std::string_view v, Presence p = Presence::kImplicit) {
    BytesField(field, v, p);
  }
  // Tag + length of a length-delimited field whose `size` payload bytes the
  // caller appends next (for messages whose size is computed up front).
  void LengthDelimitedHeader(uint32_t field, size_t size) {
    EnsureRoom(15);
    char* out = data_.get() + size_;
    size_t n = PutVarint(out, (uint64_t{field} << 3) | 2);
    n += PutVarint(out + n, size);
    size_ += n;
  }

  // --- Nested messages of unknown length -------------------------------------

  // Starts field `field` holding a sub-message; everything appended until the
  // matching EndMessage() is its body. `size_hint` is the expected body size
  // in bytes (exactness only saves a memmove; any value is correct). Nesting
  // is LIFO: end inner messages before outer ones.
  Bookmark BeginMessage(uint32_t field, size_t size_hint = 0) {
    const size_t reserved = VarintSize(size_hint);
    EnsureRoom(5 + reserved);
    char* out = data_.get() + size_;
    size_t n = PutVarint(out, (uint64_t{field} << 3) | 2);
    const Bookmark b{size_ + n, reserved};
    size_ += n + reserved;
    return b;
  }
  // Writes the body length of the message begun by `b`. Empty messages are
  // kept (tag + zero length), as protobuf does for a set sub-message.
  void EndMessage(Bookmark b) {
    const size_t body_start = b.length_pos + b.reserved;
    const size_t body_size = size_ - body_start;
    const size_t needed = VarintSize(body_size);
    if (needed != b.reserved) [[unlikely]] {
      Shift(body_start, body_size, needed, b.reserved);
    }
    PutVarint(data_.get() + b.length_pos, body_size);
  }

  // Encodes `v` at `out` (room for 10 bytes required); returns bytes written.
  static size_t PutVarint(char* out, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
      out[n++] = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    out[n++] = static_cast<char>(v);
    return n;
  }

 private:
  template <typename T>
  static void PutLittleEndian(char* out, T v) {
    if constexpr (std::endian::native == std::endian::little) {
      std::memcpy(out, &v, sizeof v);
    } else {
      for (size_t i = 0; i < sizeof v; ++i) out[i] = static_cast<char>(v >> (8 * i));
    }
  }
  void EnsureRoom(size_t n) {
    if (capacity_ - size_ < n) [[unlikely]]
      Grow(size_ + n);
  }
  void Grow(size_t min_capacity);
  void Shift(size_t body_start, size_t body_size, size_t needed, size_t reserved);

  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

}  // namespace stampede::otel
