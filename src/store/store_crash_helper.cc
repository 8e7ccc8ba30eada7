// Test helper for store_crash_test: writes seconds into a run store forever
// and prints each second once it is committed ("committed N"), until killed.
// Usage: store_crash_helper PATH
#include <chrono>
#include <cstdio>
#include <thread>

#include "store/run_store.h"
#include "store/store_test_util.h"

int main(int argc, char** argv) {
  using namespace stampede::store;
  using namespace stampede::store::testing;
  if (argc != 2) {
    std::fprintf(stderr, "usage: store_crash_helper PATH\n");
    return 2;
  }
  RunInfo info;
  info.run_id = "crash";
  info.stampede_version = "test";
  info.start_unix_ns = kStartNs;
  RunStore store({.path = argv[1]}, info);
  FakeRun run;
  uint64_t id = 1;
  for (int64_t s = 0;; ++s) {
    std::vector<SpanSpec> spans;
    for (int i = 0; i < 50; ++i, ++id) {
      run.Request(i % 2 ? "/a" : "/b", 1 + i, i % 10 == 0 ? 500 : 200);
      spans.push_back(RequestSpan(id, id, "/a", kStartNs + s * kSecNs + i * 1000, 1 + i, 200));
    }
    store.AddClientSpans(EncodeSpans(spans));
    store.AddSnapshot(run.Snap(), kStartNs + (s + 1) * kSecNs);
    while (store.stats().seconds_written < static_cast<uint64_t>(s + 1)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::printf("committed %lld\n", static_cast<long long>(s));
    std::fflush(stdout);
  }
}
