// io_uring backend of Poller (liburing). One ring per loop; everything the
// loop's handlers queue during a turn goes to the kernel in the one
// io_uring_enter that also waits for the next completions.
//
//  - Readiness (Add/Modify/Remove) is a one-shot IORING_OP_POLL_ADD re-armed
//    after each dispatch, which keeps epoll's level-triggered contract (the
//    poll checks readiness again when armed). Used by connects, TLS, servers,
//    the resolver and the loop's wake-up eventfd.
//  - StreamIo (plain TCP after connect): one multishot IORING_OP_RECV per
//    socket into a ring of provided buffers (the loop's buffers, lent to the
//    kernel only while data is being delivered, so an idle connection holds
//    none), and IORING_OP_SEND straight from the caller's bytes. A request
//    costs no system call of its own: its send, its response and the next
//    request ride the loop turn's one io_uring_enter.
//  - Timers stay in the loop's heap: the wait's timeout is passed with the
//    enter (IORING_ENTER_EXT_ARG), no timeout SQE per turn.
//
// Completions are matched by user_data = kind | slot | generation, so a
// completion for a socket that was removed (or whose slot was reused) in the
// meantime is dropped, never delivered to the wrong handler; its buffer goes
// back to the ring.
//
// Needs Linux >= 6.0 (multishot receive, buffer rings). The constructor
// throws std::system_error when the kernel refuses (seccomp, sysctl
// kernel.io_uring_disabled, old kernel); backend.h turns that into a fallback
// to epoll.
// Thread: one loop thread; nothing is thread-safe.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "loop/poller.h"

namespace stampede::loop {

struct IoUringOptions {
  unsigned entries = 1024;        // submission queue; the completion queue is 4x
  unsigned buffer_count = 256;    // provided receive buffers (a power of two)
  unsigned buffer_bytes = 16384;  // bytes per buffer
};

class IoUringPoller final : public Poller, public StreamIo {
 public:
  explicit IoUringPoller(const IoUringOptions& options = {});
  ~IoUringPoller() override;
  IoUringPoller(const IoUringPoller&) = delete;
  IoUringPoller& operator=(const IoUringPoller&) = delete;

  // Poller
  bool Add(int fd, uint32_t interest, IoHandler* handler) override;
  bool Modify(int fd, uint32_t interest, IoHandler* handler) override;
  void Remove(int fd) override;
  int Poll(int64_t timeout_ns) override;
  StreamIo* stream_io() override { return this; }
  const char* name() const override { return "io_uring"; }

  // StreamIo
  uint32_t Attach(int fd, StreamHandler* handler) override;
  void Send(uint32_t token, const char* data, size_t len) override;
  void Detach(uint32_t token) override;

  // Times every receive buffer was in flight (tests).
  uint64_t buffer_shortages() const { return buffer_shortages_; }

 private:
  enum Kind : uint64_t { kIgnore = 0, kPoll = 1, kRecv = 2, kSend = 3 };
  struct PollReg {
    IoHandler* handler = nullptr;
    uint32_t interest = 0;
    uint32_t gen = 0;
    bool armed = false;
  };
  struct StreamReg {
    StreamHandler* handler = nullptr;
    int fd = -1;
    uint32_t gen = 0;
    bool recv_armed = false;
    bool send_pending = false;
    const char* send_data = nullptr;
    size_t send_left = 0;
    size_t send_total = 0;
    uint64_t send_epoch = 0;  // the submission that carried the send
    uint32_t next_free = 0;  // free list (slot index + 1), 0 = end
  };

  static uint64_t Pack(Kind kind, uint32_t slot, uint32_t gen) {
    return kind | (static_cast<uint64_t>(slot) << 2) | (static_cast<uint64_t>(gen) << 32);
  }
  io_uring_sqe* Sqe();
  void ArmPoll(int fd, PollReg& reg);
  void ArmRecv(uint32_t slot, StreamReg& reg);
  void QueueSend(uint32_t slot, StreamReg& reg);
  void Cancel(uint64_t user_data);
  void FlushCancels();
  void EnableOnThisThread();
  void NoteSubmission();
  void SetupBuffers();
  void RecycleBuffer(uint16_t bid);
  int Submit(int64_t timeout_ns);
  void Dispatch(uint64_t user_data, int32_t res, uint32_t flags);
  void DispatchPoll(uint32_t fd, uint32_t gen, int32_t res);
  void DispatchRecv(uint32_t slot, uint32_t gen, int32_t res, uint32_t flags);
  void DispatchSend(uint32_t slot, uint32_t gen, int32_t res);

  IoUringOptions options_;
  io_uring ring_{};
  bool enabled_ = false;  // the ring is enabled (by its issuer thread)
  std::vector<PollReg> polls_;      // fd-indexed
  std::vector<StreamReg> streams_;  // token - 1 indexed
  uint32_t free_head_ = 0;          // free stream slots (index + 1)
  // Provided receive buffers, set up on the first Attach (loops that never
  // stream, such as servers', pay nothing).
  io_uring_buf_ring* buf_ring_ = nullptr;
  size_t buf_ring_bytes_ = 0;
  char* buffers_ = nullptr;
  uint64_t submit_epoch_ = 0;       // submissions so far
  int64_t last_submit_ns_ = 0;      // loop time of the latest one
  uint64_t buffer_shortages_ = 0;
};

}  // namespace stampede::loop
