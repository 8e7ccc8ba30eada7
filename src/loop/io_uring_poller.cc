#include "loop/io_uring_poller.h"

#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <system_error>

namespace stampede::loop {
namespace {

uint32_t ToPollMask(uint32_t interest) {
  uint32_t mask = POLLRDHUP;
  if (interest & kReadable) mask |= POLLIN;
  if (interest & kWritable) mask |= POLLOUT;
  return mask;
}

uint32_t FromPollMask(uint32_t revents) {
  uint32_t out = 0;
  if (revents & (POLLIN | POLLPRI)) out |= kReadable;
  if (revents & POLLOUT) out |= kWritable;
  if (revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) out |= kHangup;
  return out;
}

// Multishot receive and buffer rings arrived in Linux 6.0 (buffer rings in
// 5.19): older kernels would accept the ring and then fail every receive.
bool KernelAtLeast(int major, int minor) {
  utsname u{};
  if (uname(&u) != 0) return false;
  int ma = 0, mi = 0;
  if (std::sscanf(u.release, "%d.%d", &ma, &mi) != 2) return false;
  return ma > major || (ma == major && mi >= minor);
}

}  // namespace

IoUringPoller::IoUringPoller(const IoUringOptions& options) : options_(options) {
  if (!KernelAtLeast(6, 0)) {
    throw std::system_error(ENOSYS, std::generic_category(),
                            "io_uring backend needs Linux >= 6.0 (multishot receive)");
  }
  // DEFER_TASKRUN: completions are posted only when the loop's thread enters
  // the ring to wait, never by interrupting it mid-turn (the loop is the
  // ring's single issuer). Loops are often made on one thread and run on
  // another, so the ring starts disabled and the first thread that polls it
  // becomes its issuer (EnableOnThisThread). Older 6.x kernels without
  // DEFER_TASKRUN get COOP_TASKRUN, which any thread may drive.
  io_uring_params p{};
  p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_SINGLE_ISSUER |
            IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_TASKRUN_FLAG | IORING_SETUP_R_DISABLED;
  p.cq_entries = options_.entries * 4;
  int rc = io_uring_queue_init_params(options_.entries, &ring_, &p);
  if (rc == -EINVAL) {
    p = io_uring_params{};
    p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
              IORING_SETUP_TASKRUN_FLAG;
    p.cq_entries = options_.entries * 4;
    rc = io_uring_queue_init_params(options_.entries, &ring_, &p);
    enabled_ = true;
  }
  if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_setup");
  if ((p.features & IORING_FEAT_EXT_ARG) == 0 || (p.features & IORING_FEAT_NODROP) == 0) {
    io_uring_queue_exit(&ring_);
    throw std::system_error(ENOSYS, std::generic_category(),
                            "io_uring lacks EXT_ARG/NODROP (kernel too old)");
  }
}

IoUringPoller::~IoUringPoller() {
  // Exiting the ring cancels whatever is still in the kernel; only then may
  // the buffers it writes into go.
  io_uring_queue_exit(&ring_);
  if (buf_ring_ != nullptr) munmap(buf_ring_, buf_ring_bytes_);
  if (buffers_ != nullptr) munmap(buffers_, size_t{options_.buffer_count} * options_.buffer_bytes);
}

io_uring_sqe* IoUringPoller::Sqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  if (sqe != nullptr) return sqe;
  // The submission queue is full within one turn: hand it over now.
  EnableOnThisThread();
  NoteSubmission();
  io_uring_submit(&ring_);
  sqe = io_uring_get_sqe(&ring_);
  if (sqe == nullptr) {
    // With NODROP and SUBMIT_ALL the kernel takes every entry it is given;
    // an SQ still full after a submit is a broken invariant, not a load.
    std::fputs("stampede: io_uring submission queue stuck full\n", stderr);
    std::abort();
  }
  return sqe;
}

// ---------------------------------------------------------------- readiness

void IoUringPoller::ArmPoll(int fd, PollReg& reg) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_poll_add(sqe, fd, ToPollMask(reg.interest));
  io_uring_sqe_set_data64(sqe, Pack(kPoll, static_cast<uint32_t>(fd), reg.gen));
  reg.armed = true;
}

void IoUringPoller::Cancel(uint64_t user_data) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_cancel64(sqe, user_data, 0);
  io_uring_sqe_set_data64(sqe, kIgnore);
}

bool IoUringPoller::Add(int fd, uint32_t interest, IoHandler* handler) {
  if (fd < 0) {
    errno = EBADF;
    return false;
  }
  if (static_cast<size_t>(fd) >= polls_.size()) polls_.resize(fd + 64);
  PollReg& reg = polls_[fd];
  if (reg.handler != nullptr) {
    errno = EEXIST;
    return false;
  }
  reg.handler = handler;
  reg.interest = interest;
  ++reg.gen;
  ArmPoll(fd, reg);
  return true;
}

bool IoUringPoller::Modify(int fd, uint32_t interest, IoHandler* handler) {
  if (fd < 0 || static_cast<size_t>(fd) >= polls_.size() || polls_[fd].handler == nullptr) {
    errno = ENOENT;
    return false;
  }
  PollReg& reg = polls_[fd];
  reg.handler = handler;
  if (reg.interest == interest) return true;
  if (reg.armed) Cancel(Pack(kPoll, static_cast<uint32_t>(fd), reg.gen));
  reg.interest = interest;
  ++reg.gen;
  ArmPoll(fd, reg);
  return true;
}

void IoUringPoller::Remove(int fd) {
  if (fd < 0 || static_cast<size_t>(fd) >= polls_.size()) return;
  PollReg& reg = polls_[fd];
  if (reg.handler == nullptr) return;
  if (reg.armed) Cancel(Pack(kPoll, static_cast<uint32_t>(fd), reg.gen));
  reg.handler = nullptr;
  reg.armed = false;
  ++reg.gen;
  FlushCancels();
}

void IoUringPoller::DispatchPoll(uint32_t fd, uint32_t gen, int32_t res) {
  if (fd >= polls_.size()) return;
  PollReg& reg = polls_[fd];
  if (reg.gen != gen || reg.handler == nullptr) return;  // removed or re-armed since
  reg.armed = false;
  uint32_t events = res < 0 ? (kHangup | kReadable) : FromPollMask(static_cast<uint32_t>(res));
  reg.handler->OnIo(events);
  // Level-triggered: look again unless the handler removed or changed it
  // (polls_ may have grown during the call).
  PollReg& after = polls_[fd];
  if (after.gen == gen && after.handler != nullptr && !after.armed) {
    ArmPoll(static_cast<int>(fd), after);
  }
}

// ---------------------------------------------------------------- streams

void IoUringPoller::SetupBuffers() {
  const unsigned count = options_.buffer_count;
  buf_ring_bytes_ = count * sizeof(io_uring_buf);
  void* ring_mem = mmap(nullptr, buf_ring_bytes_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ring_mem == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
  size_t data_bytes = size_t{count} * options_.buffer_bytes;
  void* data = mmap(nullptr, data_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (data == MAP_FAILED) {
    int e = errno;
    munmap(ring_mem, buf_ring_bytes_);
    throw std::system_error(e, std::generic_category(), "mmap");
  }
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(ring_mem);
  reg.ring_entries = count;
  reg.bgid = 0;
  int rc = io_uring_register_buf_ring(&ring_, &reg, 0);
  if (rc < 0) {
    munmap(ring_mem, buf_ring_bytes_);
    munmap(data, data_bytes);
    throw std::system_error(-rc, std::generic_category(), "io_uring_register_buf_ring");
  }
  buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
  buffers_ = static_cast<char*>(data);
  io_uring_buf_ring_init(buf_ring_);
  const int mask = io_uring_buf_ring_mask(count);
  for (unsigned i = 0; i < count; ++i) {
    io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{i} * options_.buffer_bytes,
                          options_.buffer_bytes, static_cast<uint16_t>(i), mask,
                          static_cast<int>(i));
  }
  io_uring_buf_ring_advance(buf_ring_, static_cast<int>(count));
}

void IoUringPoller::RecycleBuffer(uint16_t bid) {
  io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{bid} * options_.buffer_bytes,
                        options_.buffer_bytes, bid, io_uring_buf_ring_mask(options_.buffer_count),
                        0);
  io_uring_buf_ring_advance(buf_ring_, 1);
}

uint32_t IoUringPoller::Attach(int fd, StreamHandler* handler) {
  if (buf_ring_ == nullptr) {
    try {
      SetupBuffers();
    } catch (const std::system_error& e) {
      errno = e.code().value();
      return 0;
    }
  }
  uint32_t slot;
  if (free_head_ != 0) {
    slot = free_head_ - 1;
    free_head_ = streams_[slot].next_free;
  } else {
    streams_.emplace_back();
    slot = static_cast<uint32_t>(streams_.size() - 1);
  }
  StreamReg& reg = streams_[slot];
  reg.handler = handler;
  reg.fd = fd;
  ++reg.gen;
  reg.next_free = 0;
  reg.send_pending = false;
  ArmRecv(slot, reg);
  return slot + 1;
}

void IoUringPoller::ArmRecv(uint32_t slot, StreamReg& reg) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_recv_multishot(sqe, reg.fd, nullptr, 0, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  io_uring_sqe_set_data64(sqe, Pack(kRecv, slot, reg.gen));
  reg.recv_armed = true;
}

void IoUringPoller::QueueSend(uint32_t slot, StreamReg& reg) {
  io_uring_sqe* sqe = Sqe();
  io_uring_prep_send(sqe, reg.fd, reg.send_data, reg.send_left, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, Pack(kSend, slot, reg.gen));
  reg.send_epoch = submit_epoch_ + 1;  // goes with the next submission
}

void IoUringPoller::Send(uint32_t token, const char* data, size_t len) {
  uint32_t slot = token - 1;
  StreamReg& reg = streams_[slot];
  reg.send_data = data;
  reg.send_left = len;
  reg.send_total = len;
  reg.send_pending = true;
  QueueSend(slot, reg);
}

void IoUringPoller::Detach(uint32_t token) {
  if (token == 0 || token > streams_.size()) return;
  uint32_t slot = token - 1;
  StreamReg& reg = streams_[slot];
  if (reg.handler == nullptr) return;
  if (reg.recv_armed) Cancel(Pack(kRecv, slot, reg.gen));
  if (reg.send_pending) Cancel(Pack(kSend, slot, reg.gen));
  ++reg.gen;  // completions still on their way are dropped
  reg.handler = nullptr;
  reg.fd = -1;
  reg.recv_armed = false;
  reg.send_pending = false;
  reg.next_free = free_head_;
  free_head_ = slot + 1;
  FlushCancels();
}

// A pending poll or receive holds a reference to its socket: until the
// cancel reaches the kernel (and its task work has run) the caller's
// close(fd) does not close the connection. Done now, not at the next turn,
// because there may be no next turn (a client destroyed, a loop stopping),
// and a peer must see the close. One enter per closed socket, off the
// request path (a keep-alive connection is not closed per request).
void IoUringPoller::FlushCancels() {
  // Before the ring's first enter nothing is in the kernel to hold a socket;
  // the queued cancels follow their requests in the first submission.
  if (!enabled_ || io_uring_sq_ready(&ring_) == 0) return;
  NoteSubmission();
  io_uring_submit_and_get_events(&ring_);
}

void IoUringPoller::DispatchRecv(uint32_t slot, uint32_t gen, int32_t res, uint32_t flags) {
  const bool has_buffer = (flags & IORING_CQE_F_BUFFER) != 0;
  const auto bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
  const bool more = (flags & IORING_CQE_F_MORE) != 0;
  if (slot >= streams_.size() || streams_[slot].gen != gen || streams_[slot].handler == nullptr) {
    if (has_buffer) RecycleBuffer(bid);
    return;
  }
  StreamReg& reg = streams_[slot];
  if (!more) reg.recv_armed = false;
  if (res > 0) {
    reg.handler->OnReceived(buffers_ + size_t{bid} * options_.buffer_bytes,
                            static_cast<size_t>(res));
    RecycleBuffer(bid);
    // The multishot receive can end while data flows (the kernel stops it
    // now and then); start another unless the handler detached meanwhile.
    StreamReg& after = streams_[slot];
    if (!more && after.gen == gen && after.handler != nullptr && !after.recv_armed) {
      ArmRecv(slot, after);
    }
    return;
  }
  if (has_buffer) RecycleBuffer(bid);
  if (res == -ENOBUFS) {
    // Every buffer was in flight: they are back now (each is recycled as its
    // completion is handled), so receiving can go on.
    ++buffer_shortages_;
    if (!more) ArmRecv(slot, reg);
    return;
  }
  reg.recv_armed = false;
  reg.handler->OnReceiveEnd(res);  // 0 = EOF, < 0 = -errno
}

void IoUringPoller::DispatchSend(uint32_t slot, uint32_t gen, int32_t res) {
  if (slot >= streams_.size() || streams_[slot].gen != gen || streams_[slot].handler == nullptr) {
    return;
  }
  StreamReg& reg = streams_[slot];
  if (res > 0 && static_cast<size_t>(res) < reg.send_left) {
    reg.send_data += res;
    reg.send_left -= static_cast<size_t>(res);
    QueueSend(slot, reg);
    return;
  }
  reg.send_pending = false;
  // Stamped with its submission's time only when it completed inside the
  // latest submission; a send that waited for socket space is stamped by
  // the handler when its completion is seen (0).
  int64_t submitted_ns = reg.send_epoch == submit_epoch_ ? last_submit_ns_ : 0;
  int result;
  if (res < 0) {
    result = res;
  } else if (res == 0) {
    result = -EPIPE;
  } else {
    result = reg.send_total > 0x7fffffff ? 0x7fffffff : static_cast<int>(reg.send_total);
  }
  reg.handler->OnSent(result, submitted_ns);
}

// ---------------------------------------------------------------- the turn

// Queued work is about to reach the kernel: sends in it are stamped with
// this time (DispatchSend).
void IoUringPoller::NoteSubmission() {
  last_submit_ns_ = hook_ != nullptr ? hook_->BeforeSubmit() : 0;
  ++submit_epoch_;
}

void IoUringPoller::EnableOnThisThread() {
  if (enabled_) return;
  enabled_ = true;
  // liburing 2.3 declares io_uring_enable_rings but does not export it.
  syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
}

int IoUringPoller::Submit(int64_t timeout_ns) {
  EnableOnThisThread();
  const bool pending = io_uring_sq_ready(&ring_) > 0;
  if (pending) NoteSubmission();
  const bool have_completions = io_uring_cq_ready(&ring_) > 0;
  if (timeout_ns == 0 || have_completions) {
    if (pending) return io_uring_submit_and_get_events(&ring_);
    // Completions the kernel has not posted yet (deferred task work, an
    // overflow backlog) need an enter; the ring flags say when.
    unsigned sq_flags = IO_URING_READ_ONCE(*ring_.sq.kflags);
    if (sq_flags & (IORING_SQ_TASKRUN | IORING_SQ_CQ_OVERFLOW)) return io_uring_get_events(&ring_);
    return 0;
  }
  __kernel_timespec ts{};
  __kernel_timespec* tsp = nullptr;
  if (timeout_ns > 0) {
    ts.tv_sec = timeout_ns / 1'000'000'000;
    ts.tv_nsec = timeout_ns % 1'000'000'000;
    tsp = &ts;
  }
  io_uring_cqe* cqe = nullptr;
  return io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, tsp, nullptr);
}

void IoUringPoller::Dispatch(uint64_t user_data, int32_t res, uint32_t flags) {
  const auto kind = static_cast<Kind>(user_data & 3);
  const auto slot = static_cast<uint32_t>((user_data >> 2) & 0x3fffffff);
  const auto gen = static_cast<uint32_t>(user_data >> 32);
  switch (kind) {
    case kPoll:
      DispatchPoll(slot, gen, res);
      return;
    case kRecv:
      DispatchRecv(slot, gen, res, flags);
      return;
    case kSend:
      DispatchSend(slot, gen, res);
      return;
    case kIgnore:
      return;
  }
}

int IoUringPoller::Poll(int64_t timeout_ns) {
  int rc = Submit(timeout_ns);
  // Only the completions present now: handlers queue more work (and a busy
  // peer keeps producing receives), which waits for the next turn so the
  // loop's timers and tasks are not starved.
  unsigned budget = io_uring_cq_ready(&ring_);
  if (budget == 0) return rc == -EINTR ? -1 : 0;
  if (hook_ != nullptr) hook_->BeforeDispatch();
  int dispatched = 0;
  struct Completion {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
  };
  Completion batch[64];
  while (budget > 0) {
    io_uring_cqe* cqes[64];
    unsigned want = budget < 64 ? budget : 64;
    unsigned got = io_uring_peek_batch_cqe(&ring_, cqes, want);
    if (got == 0) break;
    for (unsigned i = 0; i < got; ++i) {
      batch[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    }
    // Handed back before dispatching, so handlers that queue work cannot
    // find the completion queue full of entries already read.
    io_uring_cq_advance(&ring_, got);
    for (unsigned i = 0; i < got; ++i) Dispatch(batch[i].user_data, batch[i].res, batch[i].flags);
    dispatched += static_cast<int>(got);
    budget -= got;
  }
  return dispatched;
}

}  // namespace stampede::loop
