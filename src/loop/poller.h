// The I/O seam of the event loop. Everything that waits for a file
// descriptor goes through a Poller, so the backend can change without
// touching the connection code:
//  - readiness (Add/Modify/Remove, level-triggered): every backend;
//  - completion-based stream I/O (StreamIo): backends that have it (io_uring),
//    where the kernel receives into the backend's buffers and sends from the
//    caller's bytes with no system call of the caller's own.
// Backends: epoll_poller.h, io_uring_poller.h; choosing one: backend.h.
// Thread: a Poller belongs to one worker thread; no method is thread-safe.
#pragma once

#include <cstddef>
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
  // Called by a completion backend just before it hands queued work to the
  // kernel; returns the monotonic time (ns) then. Sends that complete inside
  // that submission are stamped with it (StreamHandler::OnSent).
  virtual int64_t BeforeSubmit() { return 0; }
};

// Receives the completions of one stream socket (StreamIo). Called on the
// loop thread from Poller::Poll(); a handler may call Send/Detach from here.
class StreamHandler {
 public:
  virtual ~StreamHandler() = default;
  // Bytes received. `data` is the backend's buffer, valid only during the
  // call (it goes back to the kernel when the call returns).
  virtual void OnReceived(const char* data, size_t len) = 0;
  // Receiving is over: 0 = the peer closed its side (EOF), < 0 = -errno.
  // No OnReceived follows.
  virtual void OnReceiveEnd(int error) = 0;
  // The Send finished: `result` = the bytes sent (all of them) or -errno.
  // `submitted_ns` is when the send was handed to the kernel (the loop time
  // of that submission); a send the socket could take at once completed then.
  virtual void OnSent(int result, int64_t submitted_ns) = 0;
};

// Completion-based I/O on connected stream sockets (io_uring: a multishot
// receive into a provided-buffer ring, and sends straight from the caller's
// bytes). A socket is either Attach()ed here or registered with Add(),
// never both at once.
class StreamIo {
 public:
  virtual ~StreamIo() = default;
  // Starts receiving on the connected, non-blocking socket `fd`: every byte
  // that arrives is delivered to `handler` until OnReceiveEnd or Detach.
  // Returns a token (never 0), or 0 with errno set when it cannot.
  virtual uint32_t Attach(int fd, StreamHandler* handler) = 0;
  // Queues a send of [data, data + len) (len > 0). The bytes must stay valid
  // and unchanged until OnSent (they are not copied). Short sends are
  // continued by the backend: OnSent reports all bytes or an error. At most
  // one send per token at a time.
  virtual void Send(uint32_t token, const char* data, size_t len) = 0;
  // Ends everything on `token`: no callback for it after this returns (also
  // for completions already collected by the current Poll). Call before
  // close(fd). A send still in the kernel is cancelled; its bytes may be read
  // by the kernel until the next Poll, so they must outlive this call until
  // then (request bytes owned by a VU do).
  virtual void Detach(uint32_t token) = 0;
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
  // Completion-based stream I/O, or null when this backend has none.
  virtual StreamIo* stream_io() { return nullptr; }
  // "epoll" or "io_uring" (static storage).
  virtual const char* name() const = 0;

 protected:
  DispatchHook* hook_ = nullptr;
};

}  // namespace stampede::loop
