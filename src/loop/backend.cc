#include "loop/backend.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <system_error>

#include "loop/epoll_poller.h"
#include "loop/io_uring_poller.h"

namespace stampede::loop {
namespace {

std::atomic<int> g_backend{-1};  // -1: not decided yet
std::once_flag g_env_once;

std::string WhyRefused(const std::system_error& e) {
  int code = e.code().value();
  if (code == EPERM || code == EACCES) {
    return "the kernel or container refuses io_uring (seccomp or sysctl "
           "kernel.io_uring_disabled)";
  }
  if (code == ENOMEM) return "io_uring could not lock memory for its ring (ulimit -l)";
  return e.what();
}

}  // namespace

bool ParseBackend(std::string_view text, Backend* out) {
  if (text == "epoll") {
    *out = Backend::kEpoll;
  } else if (text == "io_uring" || text == "io-uring" || text == "uring") {
    *out = Backend::kIoUring;
  } else if (text == "auto") {
    *out = Backend::kAuto;
  } else {
    return false;
  }
  return true;
}

const char* BackendName(Backend backend) {
  switch (backend) {
    case Backend::kEpoll:
      return "epoll";
    case Backend::kIoUring:
      return "io_uring";
    case Backend::kAuto:
      return "auto";
  }
  return "epoll";
}

ResolvedBackend Resolve(Backend requested) {
  ResolvedBackend out;
  if (requested == Backend::kEpoll) return out;
  try {
    IoUringPoller probe(IoUringOptions{.entries = 8});
    out.backend = Backend::kIoUring;
  } catch (const std::system_error& e) {
    if (requested == Backend::kIoUring) {
      out.fallback_note = "--io io_uring: " + WhyRefused(e) +
                          "; using epoll instead (--io epoll silences this)";
    }
  }
  return out;
}

void SetProcessBackend(Backend resolved) {
  g_backend.store(resolved == Backend::kIoUring ? 1 : 0, std::memory_order_release);
}

Backend ProcessBackend() {
  std::call_once(g_env_once, [] {
    if (g_backend.load(std::memory_order_acquire) >= 0) return;
    Backend requested = Backend::kEpoll;
    const char* env = std::getenv("STAMPEDE_IO");
    if (env != nullptr && *env != '\0' && !ParseBackend(env, &requested)) requested = Backend::kEpoll;
    int expected = -1;
    g_backend.compare_exchange_strong(expected,
                                      Resolve(requested).backend == Backend::kIoUring ? 1 : 0);
  });
  return g_backend.load(std::memory_order_acquire) == 1 ? Backend::kIoUring : Backend::kEpoll;
}

std::unique_ptr<Poller> MakePoller() {
  if (ProcessBackend() == Backend::kIoUring) {
    try {
      return std::make_unique<IoUringPoller>();
    } catch (const std::system_error&) {
      // Resolved as available, refused now (resource limits): this loop
      // runs on epoll; the loop's poller().name() tells.
    }
  }
  return std::make_unique<EpollPoller>();
}

}  // namespace stampede::loop
