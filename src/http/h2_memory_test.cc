// nghttp2's allocator (H2Memory, h2_memory.h): blocks come back from their
// size class's free list, sizes hold what was asked, realloc keeps the bytes.
#include <cstring>
#include <cstdint>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "http/h2_memory.h"

namespace stampede::http {
namespace {

TEST(H2MemoryTest, AFreedBlockIsReusedForTheSameSizeClass) {
  H2Memory pool;
  nghttp2_mem* m = pool.mem();
  void* a = m->malloc(100, m->mem_user_data);
  ASSERT_NE(a, nullptr);
  std::memset(a, 0xab, 100);
  m->free(a, m->mem_user_data);
  void* b = m->malloc(120, m->mem_user_data);  // same class (128 B)
  EXPECT_EQ(a, b);
  void* c = m->malloc(20, m->mem_user_data);  // another class
  EXPECT_NE(c, b);
  m->free(b, m->mem_user_data);
  m->free(c, m->mem_user_data);
}

TEST(H2MemoryTest, BlocksAreAlignedAndDistinct) {
  H2Memory pool;
  nghttp2_mem* m = pool.mem();
  std::set<void*> seen;
  std::vector<void*> blocks;
  for (size_t size : {1u, 32u, 33u, 500u, 4096u, 16384u, 16385u, 100000u}) {
    void* p = m->malloc(size, m->mem_user_data);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 16, 0u) << size;
    std::memset(p, 0x5a, size);  // the whole size is usable (ASan checks)
    EXPECT_TRUE(seen.insert(p).second);
    blocks.push_back(p);
  }
  for (void* p : blocks) m->free(p, m->mem_user_data);
  m->free(nullptr, m->mem_user_data);
}

TEST(H2MemoryTest, CallocZeroesAReusedBlock) {
  H2Memory pool;
  nghttp2_mem* m = pool.mem();
  void* a = m->malloc(64, m->mem_user_data);
  std::memset(a, 0xff, 64);
  m->free(a, m->mem_user_data);
  auto* z = static_cast<unsigned char*>(m->calloc(8, 8, m->mem_user_data));
  ASSERT_EQ(static_cast<void*>(z), a);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(z[i], 0) << i;
  EXPECT_EQ(m->calloc(SIZE_MAX / 2, 4, m->mem_user_data), nullptr);  // overflow
  m->free(z, m->mem_user_data);
}

TEST(H2MemoryTest, ReallocKeepsTheBytesAcrossClassesAndToMalloc) {
  H2Memory pool;
  nghttp2_mem* m = pool.mem();
  auto* p = static_cast<char*>(m->realloc(nullptr, 10, m->mem_user_data));
  std::memcpy(p, "0123456789", 10);
  EXPECT_EQ(m->realloc(p, 30, m->mem_user_data), p);  // still fits 32 B
  p = static_cast<char*>(m->realloc(p, 1000, m->mem_user_data));
  EXPECT_EQ(std::memcmp(p, "0123456789", 10), 0);
  p = static_cast<char*>(m->realloc(p, 50000, m->mem_user_data));  // past the classes
  EXPECT_EQ(std::memcmp(p, "0123456789", 10), 0);
  p = static_cast<char*>(m->realloc(p, 80000, m->mem_user_data));
  EXPECT_EQ(std::memcmp(p, "0123456789", 10), 0);
  EXPECT_EQ(m->realloc(p, 0, m->mem_user_data), nullptr);  // frees
}

}  // namespace
}  // namespace stampede::http
