#include "core/clock.h"

#include <ctime>

namespace stampede::core {
namespace {
int64_t ReadClock(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSec + ts.tv_nsec;
}
}  // namespace

int64_t MonotonicClock::NowNs() const { return ReadClock(CLOCK_MONOTONIC); }

WallAnchor::WallAnchor(const Clock& clock)
    : mono_ns_(clock.NowNs()), unix_ns_(ReadClock(CLOCK_REALTIME)) {}

}  // namespace stampede::core
