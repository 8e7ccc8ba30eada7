// Time sources. Durations come from one monotonic clock (nanoseconds since an
// arbitrary origin); wall-clock span times are derived from one anchor taken at
// start, so both stay consistent for the whole run.
#pragma once

#include <cstdint>

namespace stampede::core {

// A seam so that schedulers and timers can be tested with a fake clock.
// Thread-safety: MonotonicClock is safe from any thread; FakeClock is not.
class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time in nanoseconds. Never goes backwards.
  virtual int64_t NowNs() const = 0;
};

// CLOCK_MONOTONIC through the vDSO: no system call, ~20 ns.
class MonotonicClock final : public Clock {
 public:
  int64_t NowNs() const override;
};

// Test clock: time moves only when the test says so.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ns = 0) : now_ns_(start_ns) {}
  int64_t NowNs() const override { return now_ns_; }
  void AdvanceNs(int64_t delta_ns) { now_ns_ += delta_ns; }
  void SetNs(int64_t now_ns) { now_ns_ = now_ns; }

 private:
  int64_t now_ns_;
};

// Maps monotonic instants to Unix epoch nanoseconds using one pair of readings
// taken at construction. Immutable after construction: safe to share.
class WallAnchor {
 public:
  explicit WallAnchor(const Clock& clock);
  WallAnchor(int64_t mono_ns, int64_t unix_ns) : mono_ns_(mono_ns), unix_ns_(unix_ns) {}
  int64_t ToUnixNs(int64_t mono_ns) const { return unix_ns_ + (mono_ns - mono_ns_); }
  int64_t mono_ns() const { return mono_ns_; }
  int64_t unix_ns() const { return unix_ns_; }

 private:
  int64_t mono_ns_;
  int64_t unix_ns_;
};

inline constexpr int64_t kNsPerUs = 1'000;
inline constexpr int64_t kNsPerMs = 1'000'000;
inline constexpr int64_t kNsPerSec = 1'000'000'000;

}  // namespace stampede::core
