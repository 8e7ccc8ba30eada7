#include "loop/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "loop/backend.h"

namespace stampede::loop {

// Drains the eventfd so that a Wake() only interrupts one poll.
class EventLoop::WakeHandler final : public IoHandler {
 public:
  explicit WakeHandler(int fd) : fd_(fd) {}
  void OnIo(uint32_t) override {
    uint64_t value;
    ssize_t unused = ::read(fd_, &value, sizeof value);
    (void)unused;
  }

 private:
  int fd_;
};

EventLoop::EventLoop(const core::Clock& clock, std::unique_ptr<Poller> poller)
    : clock_(clock), poller_(poller ? std::move(poller) : MakePoller()) {
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  wake_handler_ = std::make_unique<WakeHandler>(wake_fd_);
  if (!poller_->Add(wake_fd_, kReadable, wake_handler_.get())) {
    throw std::system_error(errno, std::generic_category(), "poller add eventfd");
  }
  poller_->set_dispatch_hook(this);
  heap_.reserve(64);
  UpdateNow();
}

EventLoop::~EventLoop() {
  poller_->Remove(wake_fd_);
  ::close(wake_fd_);
  for (Timer* t : heap_) t->heap_index_ = Timer::kNotScheduled;
}

// ---- timers: a binary min-heap of intrusive Timer pointers ----

bool EventLoop::Before(const Timer* a, const Timer* b) const {
  if (a->deadline_ns_ != b->deadline_ns_) return a->deadline_ns_ < b->deadline_ns_;
  return a->seq_ < b->seq_;
}

void EventLoop::SiftUp(size_t i) {
  Timer* t = heap_[i];
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!Before(t, heap_[parent])) break;
    heap_[i] = heap_[parent];
    heap_[i]->heap_index_ = i;
    i = parent;
  }
  heap_[i] = t;
  t->heap_index_ = i;
}

void EventLoop::SiftDown(size_t i) {
  Timer* t = heap_[i];
  const size_t n = heap_.size();
  while (true) {
    size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && Before(heap_[child + 1], heap_[child])) ++child;
    if (!Before(heap_[child], t)) break;
    heap_[i] = heap_[child];
    heap_[i]->heap_index_ = i;
    i = child;
  }
  heap_[i] = t;
  t->heap_index_ = i;
}

void EventLoop::RemoveAt(size_t i) {
  Timer* removed = heap_[i];
  Timer* last = heap_.back();
  heap_.pop_back();
  removed->heap_index_ = Timer::kNotScheduled;
  if (removed == last) return;
  heap_[i] = last;
  last->heap_index_ = i;
  if (i > 0 && Before(last, heap_[(i - 1) / 2])) {
    SiftUp(i);
  } else {
    SiftDown(i);
  }
}

void EventLoop::Schedule(Timer& timer, int64_t deadline_ns) {
  if (timer.scheduled()) RemoveAt(timer.heap_index_);
  timer.deadline_ns_ = deadline_ns;
  timer.seq_ = next_seq_++;
  heap_.push_back(&timer);
  SiftUp(heap_.size() - 1);
}

void EventLoop::Cancel(Timer& timer) {
  if (timer.scheduled()) RemoveAt(timer.heap_index_);
}

// ---- deferred tasks: an intrusive FIFO ----

void EventLoop::Post(Task& task) {
  if (task.posted_) return;
  task.posted_ = true;
  task.next_ = nullptr;
  if (deferred_tail_ != nullptr) {
    deferred_tail_->next_ = &task;
  } else {
    deferred_head_ = &task;
  }
  deferred_tail_ = &task;
}

void EventLoop::RunDeferred() {
  // Only the tasks present now: a task posted while running waits for the
  // next turn, so a task that re-posts itself cannot starve I/O.
  Task* head = deferred_head_;
  deferred_head_ = deferred_tail_ = nullptr;
  if (head == nullptr) return;
  UpdateNow();
  while (head != nullptr) {
    Task* next = head->next_;
    head->posted_ = false;
    head->next_ = nullptr;
    head->Run();
    head = next;
  }
}

void EventLoop::PollIo(int64_t max_wait_ns) {
  int64_t wait_ns = max_wait_ns;
  if (deferred_head_ != nullptr) {
    wait_ns = 0;
  } else if (!heap_.empty()) {
    int64_t until_timer = heap_.front()->deadline_ns_ - UpdateNow();
    if (until_timer < 0) until_timer = 0;
    if (wait_ns < 0 || until_timer < wait_ns) wait_ns = until_timer;
  }
  if (stop_requested()) wait_ns = 0;
  poller_->Poll(wait_ns);  // handlers see Now() = when the wait returned (BeforeDispatch)
}

void EventLoop::RunTimers() {
  if (heap_.empty()) return;
  int64_t now = UpdateNow();
  while (!heap_.empty() && heap_.front()->deadline_ns_ <= now) {
    Timer* t = heap_.front();
    RemoveAt(0);
    t->OnTimer();
  }
}

void EventLoop::RunOnce(int64_t max_wait_ns) {
  PollIo(max_wait_ns);  // does not block while tasks are posted
  RunTimers();
  RunDeferred();  // tasks posted by I/O handlers and timers run in the same turn
}

void EventLoop::Run() {
  while (!stop_requested()) RunOnce();
}

void EventLoop::RequestStop() {
  stop_.store(true, std::memory_order_release);
  Wake();
}

void EventLoop::Wake() {
  uint64_t one = 1;
  ssize_t unused = ::write(wake_fd_, &one, sizeof one);
  (void)unused;
}

}  // namespace stampede::loop
