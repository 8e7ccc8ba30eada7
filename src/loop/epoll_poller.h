// Level-triggered epoll backend of Poller. Level-triggered keeps the
// connection code simple (read once per readiness, no drain-until-EAGAIN
// syscall), which is also what wrk does.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <vector>

#include "loop/poller.h"

namespace stampede::loop {

class EpollPoller final : public Poller {
 public:
  // Throws std::system_error if epoll_create1 fails.
  EpollPoller();
  ~EpollPoller() override;
  EpollPoller(const EpollPoller&) = delete;
  EpollPoller& operator=(const EpollPoller&) = delete;

  bool Add(int fd, uint32_t interest, IoHandler* handler) override;
  bool Modify(int fd, uint32_t interest, IoHandler* handler) override;
  void Remove(int fd) override;
  int Poll(int64_t timeout_ns) override;
  const char* name() const override { return "epoll"; }

 private:
  static constexpr int kMaxEvents = 256;
  int epfd_;
  std::array<epoll_event, kMaxEvents> events_{};
  // Handler per fd (fd-indexed, grows to the highest fd once). Looking the
  // handler up at dispatch time lets Remove() cancel events already collected.
  std::vector<IoHandler*> handlers_;
  int ready_ = 0;   // events collected by the current Poll()
  int cursor_ = 0;  // next event to dispatch
};

}  // namespace stampede::loop
