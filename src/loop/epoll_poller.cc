#include "loop/epoll_poller.h"

#include <unistd.h>

#include <cerrno>
#include <system_error>


namespace stampede::loop {
namespace {
uint32_t ToEpoll(uint32_t interest) {
  uint32_t ev = 0;
  if (interest & kReadable) ev |= EPOLLIN;
  if (interest & kWritable) ev |= EPOLLOUT;
  return ev | EPOLLRDHUP;
}
uint32_t FromEpoll(uint32_t ev) {
  uint32_t out = 0;
  if (ev & (EPOLLIN | EPOLLPRI)) out |= kReadable;
  if (ev & EPOLLOUT) out |= kWritable;
  if (ev & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) out |= kHangup;
  return out;
}
}  // namespace

EpollPoller::EpollPoller() : epfd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epfd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
}

EpollPoller::~EpollPoller() { ::close(epfd_); }

bool EpollPoller::Add(int fd, uint32_t interest, IoHandler* handler) {
  epoll_event ev{};
  ev.events = ToEpoll(interest);
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  if (static_cast<size_t>(fd) >= handlers_.size()) handlers_.resize(fd + 64, nullptr);
  handlers_[fd] = handler;
  return true;
}

bool EpollPoller::Modify(int fd, uint32_t interest, IoHandler* handler) {
  epoll_event ev{};
  ev.events = ToEpoll(interest);
  ev.data.fd = fd;
  if (epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev) != 0) return false;
  handlers_[fd] = handler;
  return true;
}

void EpollPoller::Remove(int fd) {
  epoll_event ev{};
  epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
  // An event for this fd may still sit in events_ (collected by the current
  // Poll call) while its handler is being destroyed: the fd-indexed table
  // makes Poll skip it.
  if (fd >= 0 && static_cast<size_t>(fd) < handlers_.size()) handlers_[fd] = nullptr;
}

int EpollPoller::Poll(int64_t timeout_ns) {
  int timeout_ms;
  if (timeout_ns < 0) {
    timeout_ms = -1;
  } else {
    // Round up so that a timer due in 0.3 ms does not spin with timeout 0.
    timeout_ms = static_cast<int>((timeout_ns + 999'999) / 1'000'000);
  }
  int n = epoll_wait(epfd_, events_.data(), kMaxEvents, timeout_ms);
  if (n < 0) return -1;
  ready_ = n;
  if (hook_ != nullptr && n > 0) hook_->BeforeDispatch();
  for (cursor_ = 0; cursor_ < ready_; ++cursor_) {
    IoHandler* handler = handlers_[events_[cursor_].data.fd];
    if (handler != nullptr) handler->OnIo(FromEpoll(events_[cursor_].events));
  }
  ready_ = cursor_ = 0;
  return n;
}

}  // namespace stampede::loop
