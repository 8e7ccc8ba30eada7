// The I/O readiness seam of the event loop. Everything that waits for a file
// descriptor goes through a Poller, so the backend can change (epoll now; an
// io_uring backend using IORING_OP_POLL_ADD later) without touching the
// connection code.
// Thread: a Poller belongs to one worker thread; no method is thread-safe.
#pragma once

#include <cstdint>

namespace stampede::loop {

// Readiness bits, both for interest and for what happened.
enum IoEvent : uint32_t {
  kReadable = 1u << 0,
  kWritable = 1u << 1,
  kHangup = 1u << 2,  // peer closed or error on the fd (always reported)
};

// Receives readiness for one fd. The handler outlives its registration.
class IoHandler {
 public:
  virtual ~IoHandler() = default;
  // `events` is a mask of IoEvent. Called on the loop thread.
  virtual void OnIo(uint32_t events) = 0;
};

// Called by a Poller once per Poll(), after the wait returns and before the
// first handler runs (the event loop refreshes its cached time there).
class DispatchHook {
 public:
  virtual ~DispatchHook() = default;
  virtual void BeforeDispatch() = 0;
};

class Poller {
 public:
  virtual ~Poller() = default;
  // Optional; `hook` must outlive the poller's use of it.
  void set_dispatch_hook(DispatchHook* hook) { hook_ = hook; }
  // Registers `fd` with an interest mask (kReadable|kWritable). Returns false
  // with errno set when the kernel refuses.
  virtual bool Add(int fd, uint32_t interest, IoHandler* handler) = 0;
  // Changes the interest of a registered fd. No-op when unchanged is the
  // caller's job to avoid (it costs a system call).
  virtual bool Modify(int fd, uint32_t interest, IoHandler* handler) = 0;
  // Unregisters `fd`. Must be called before close(fd). Events for `fd` that
  // were already collected in this Poll() call are not delivered afterwards
  // (if the fd number is reused in the same Poll() call, the new handler may
  // see a spurious readiness: handlers must tolerate EAGAIN).
  virtual void Remove(int fd) = 0;
  // Waits up to `timeout_ns` (-1 = no limit, 0 = do not block) and dispatches
  // the ready handlers. Returns the number of events dispatched, -1 on EINTR.
  virtual int Poll(int64_t timeout_ns) = 0;

 protected:
  DispatchHook* hook_ = nullptr;
};

}  // namespace stampede::loop
