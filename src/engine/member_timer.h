// A timer that calls a member function: lets one object own several timers
// without a class per timer and without std::function.
#pragma once

#include "loop/event_loop.h"

namespace stampede::engine {

template <typename T, void (T::*Method)()>
class MemberTimer final : public loop::Timer {
 public:
  explicit MemberTimer(T& owner) : owner_(owner) {}
  void OnTimer() override { (owner_.*Method)(); }

 private:
  T& owner_;
};

}  // namespace stampede::engine
