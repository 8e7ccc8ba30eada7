// Which Poller backend a process's event loops use: `--io epoll|io_uring|auto`
// (and the STAMPEDE_IO environment variable, its default).
//
//  - epoll: readiness + read/write system calls (epoll_poller.h).
//  - io_uring: a ring per loop (io_uring_poller.h); where the kernel or a
//    container refuses it (seccomp, sysctl kernel.io_uring_disabled, a
//    kernel older than 6.0), epoll is used instead and Resolve() says why in
//    one line: asking for io_uring never fails a run.
//  - auto: io_uring where the kernel allows it, epoll otherwise (no line:
//    the summary names the backend).
//
// Thread: Resolve/SetProcessBackend are called once at start-up, before any
// loop exists; MakePoller may then be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "loop/poller.h"

namespace stampede::loop {

enum class Backend { kEpoll, kIoUring, kAuto };

// "epoll", "io_uring" (also "io-uring", "uring"), "auto". False otherwise.
bool ParseBackend(std::string_view text, Backend* out);
const char* BackendName(Backend backend);

struct ResolvedBackend {
  Backend backend = Backend::kEpoll;  // kEpoll or kIoUring, never kAuto
  // Set when io_uring was asked for explicitly and the kernel refused it:
  // the one line to print (names the cause and the flag).
  std::string fallback_note;
};
// Tries io_uring (a real ring, then released) when `requested` allows it.
ResolvedBackend Resolve(Backend requested);

// The backend of every loop made from now on with no explicit poller.
// Before any call, the process default is STAMPEDE_IO (resolved on first
// use, epoll when unset).
void SetProcessBackend(Backend resolved);
Backend ProcessBackend();

// A poller of the process backend. An io_uring ring that cannot be made
// (e.g. the locked-memory limit reached by many loops) gives epoll.
std::unique_ptr<Poller> MakePoller();

}  // namespace stampede::loop
