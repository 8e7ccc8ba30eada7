// LD_PRELOAD heap-call counter for bench/hot_path_allocs.sh: counts malloc,
// calloc, realloc, aligned allocations and free made on stampede's worker
// threads (named "stampede-w*", see core/thread_name.h), and writes the
// totals to $ALLOC_COUNT_OUT at exit. operator new and the C++ library
// reach malloc through the PLT, so they are counted too. LuaJIT's own
// allocator (its GC heap: Lua tables and strings) is not malloc and is not
// counted.
//
// Written for the benchmark only; never linked into stampede.
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

extern void* __libc_malloc(size_t size);
extern void* __libc_calloc(size_t n, size_t size);
extern void* __libc_realloc(void* p, size_t size);
extern void* __libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void* p);

static atomic_ulong worker_allocs, worker_frees, other_allocs;
// 0: not known yet, 1: a worker thread, 2: another thread (re-checked, since
// a thread is named after it starts).
static __thread int thread_kind;

static int on_worker(void) {
  if (thread_kind == 1) return 1;
  char name[17] = {0};
  if (prctl(PR_GET_NAME, name, 0, 0, 0) == 0 && strncmp(name, "stampede-w", 10) == 0) {
    thread_kind = 1;
    return 1;
  }
  thread_kind = 2;
  return 0;
}

static void count_alloc(void) {
  if (on_worker()) {
    atomic_fetch_add_explicit(&worker_allocs, 1, memory_order_relaxed);
  } else {
    atomic_fetch_add_explicit(&other_allocs, 1, memory_order_relaxed);
  }
}

void* malloc(size_t size) {
  count_alloc();
  return __libc_malloc(size);
}
void* calloc(size_t n, size_t size) {
  count_alloc();
  return __libc_calloc(n, size);
}
void* realloc(void* p, size_t size) {
  count_alloc();
  return __libc_realloc(p, size);
}
void* memalign(size_t alignment, size_t size) {
  count_alloc();
  return __libc_memalign(alignment, size);
}
void* aligned_alloc(size_t alignment, size_t size) {
  count_alloc();
  return __libc_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) {
  count_alloc();
  void* p = __libc_memalign(alignment, size);
  if (p == NULL) return 12;  // ENOMEM
  *out = p;
  return 0;
}
void free(void* p) {
  if (p != NULL && on_worker()) atomic_fetch_add_explicit(&worker_frees, 1, memory_order_relaxed);
  __libc_free(p);
}

__attribute__((destructor)) static void report(void) {
  const char* path = getenv("ALLOC_COUNT_OUT");
  if (path == NULL) return;
  FILE* f = fopen(path, "w");
  if (f == NULL) return;
  fprintf(f, "worker_allocs %lu\nworker_frees %lu\nother_allocs %lu\n",
          atomic_load(&worker_allocs), atomic_load(&worker_frees), atomic_load(&other_allocs));
  fclose(f);
}
