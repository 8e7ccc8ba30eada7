// Internal to http/: the allocator of a Client's nghttp2 sessions.
#pragma once

#include <cstddef>

#include <nghttp2/nghttp2.h>

namespace stampede::http {

// nghttp2's allocator for one Client's sessions: size classes of 32 B to
// 16 KiB kept on free lists, so that streams and sessions made again and
// again (a stream per request) reuse blocks instead of calling malloc: the
// hot path allocates nothing in steady state. Blocks are kept until the
// Client goes (bounded by the peak of streams and sessions in flight);
// larger ones go to malloc. Rolled by hand: nghttp2 takes an nghttp2_mem,
// and no Debian library offers a single-threaded size-class pool for it.
// Thread: the Client's.
class H2Memory {
 public:
  H2Memory();
  ~H2Memory();
  H2Memory(const H2Memory&) = delete;
  H2Memory& operator=(const H2Memory&) = delete;
  nghttp2_mem* mem() { return &mem_; }

 private:
  static constexpr int kClasses = 10;  // 32 << 0 ... 32 << 9 (16 KiB)
  struct FreeBlock {
    FreeBlock* next;
  };

  void* Allocate(size_t size);
  void Free(void* ptr);
  void* Reallocate(void* ptr, size_t size);
  static void* MallocCb(size_t size, void* self);
  static void FreeCb(void* ptr, void* self);
  static void* CallocCb(size_t n, size_t size, void* self);
  static void* ReallocCb(void* ptr, size_t size, void* self);

  nghttp2_mem mem_;
  FreeBlock* free_[kClasses] = {};
};

}  // namespace stampede::http
