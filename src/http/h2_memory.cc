#include "http/h2_memory.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace stampede::http {

namespace {
// Each block starts with its class (kLarge: straight from malloc), padded so the
// payload keeps malloc's alignment.
struct alignas(16) BlockHeader {
  uint32_t size_class;
};
constexpr uint32_t kLarge = ~0u;
}  // namespace

H2Memory::H2Memory() {
  mem_.mem_user_data = this;
  mem_.malloc = &MallocCb;
  mem_.free = &FreeCb;
  mem_.calloc = &CallocCb;
  mem_.realloc = &ReallocCb;
}

H2Memory::~H2Memory() {
  for (FreeBlock*& head : free_) {
    while (head != nullptr) {
      FreeBlock* next = head->next;
      std::free(reinterpret_cast<BlockHeader*>(head) - 1);
      head = next;
    }
  }
}

void* H2Memory::Allocate(size_t size) {
  uint32_t c = 0;
  while (c < kClasses && (size_t{32} << c) < size) ++c;
  if (c == kClasses) {
    auto* h = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + size));
    if (h == nullptr) return nullptr;
    h->size_class = kLarge;
    return h + 1;
  }
  if (FreeBlock* b = free_[c]) {
    free_[c] = b->next;
    return b;
  }
  auto* h = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + (size_t{32} << c)));
  if (h == nullptr) return nullptr;
  h->size_class = c;
  return h + 1;
}

void H2Memory::Free(void* ptr) {
  if (ptr == nullptr) return;
  BlockHeader* h = static_cast<BlockHeader*>(ptr) - 1;
  if (h->size_class == kLarge) {
    std::free(h);
    return;
  }
  auto* b = static_cast<FreeBlock*>(ptr);
  b->next = free_[h->size_class];
  free_[h->size_class] = b;
}

void* H2Memory::Reallocate(void* ptr, size_t size) {
  if (ptr == nullptr) return Allocate(size);
  if (size == 0) {
    Free(ptr);
    return nullptr;
  }
  BlockHeader* h = static_cast<BlockHeader*>(ptr) - 1;
  if (h->size_class == kLarge) {
    auto* grown = static_cast<BlockHeader*>(std::realloc(h, sizeof(BlockHeader) + size));
    return grown == nullptr ? nullptr : grown + 1;
  }
  const size_t capacity = size_t{32} << h->size_class;
  if (size <= capacity) return ptr;
  void* moved = Allocate(size);
  if (moved == nullptr) return nullptr;
  std::memcpy(moved, ptr, capacity);
  Free(ptr);
  return moved;
}

void* H2Memory::MallocCb(size_t size, void* self) {
  return static_cast<H2Memory*>(self)->Allocate(size);
}
void H2Memory::FreeCb(void* ptr, void* self) { static_cast<H2Memory*>(self)->Free(ptr); }
void* H2Memory::CallocCb(size_t n, size_t size, void* self) {
  if (size != 0 && n > SIZE_MAX / size) return nullptr;
  void* p = static_cast<H2Memory*>(self)->Allocate(n * size);
  if (p != nullptr) std::memset(p, 0, n * size);
  return p;
}
void* H2Memory::ReallocCb(void* ptr, size_t size, void* self) {
  return static_cast<H2Memory*>(self)->Reallocate(ptr, size);
}

}  // namespace stampede::http
