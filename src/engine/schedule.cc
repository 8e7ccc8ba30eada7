#include "engine/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <utility>

namespace stampede::engine {
namespace {

// Ceil and floor of a / b for a >= 0, b > 0.
__int128 CeilDiv(__int128 a, __int128 b) { return (a + b - 1) / b; }

// The smallest number >= x that `stripe` owns.
std::optional<int64_t> FirstOwnedAtOrAbove(const Stripe& stripe, int64_t x) {
  std::optional<uint64_t> u = stripe.FirstAtOrAbove(static_cast<uint64_t>(std::max<int64_t>(x, 0)));
  if (!u || *u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
  return static_cast<int64_t>(*u);
}

// The largest number <= y that `stripe` owns.
std::optional<int64_t> LastOwnedAtOrBelow(const Stripe& stripe, int64_t y) {
  if (y < 0) return std::nullopt;
  std::optional<uint64_t> u = stripe.LastAtOrBelow(static_cast<uint64_t>(y));
  if (!u) return std::nullopt;
  return static_cast<int64_t>(*u);
}

uint64_t ClampToU64(__int128 v) {
  if (v < 0) return 0;
  if (v > static_cast<__int128>(std::numeric_limits<uint64_t>::max())) {
    return std::numeric_limits<uint64_t>::max();
  }
  return static_cast<uint64_t>(v);
}

}  // namespace

// ---------------------------------------------------------------------------
// RampingVusSchedule

RampingVusSchedule::RampingVusSchedule(int64_t start_vus, std::vector<Stage> stages, Stripe stripe)
    : start_vus_(start_vus), stripe_(stripe) {
  int64_t from = start_vus;
  int64_t at = 0;
  segments_.reserve(stages.size());
  for (const Stage& stage : stages) {
    segments_.push_back(Segment{at, stage.duration_ns, from, stage.target});
    at += stage.duration_ns;
    from = stage.target;
  }
  total_ns_ = at;
}

RampingVusSchedule::RampingVusSchedule(const Scenario& scenario)
    : RampingVusSchedule(scenario.start_vus, scenario.stages, scenario.stripe) {}

namespace {

// Global VUs at `x` ns into a stage of `d` > 0 ns from `from` to `to`: the
// linear value rounded toward `from`. In k6's terms, VU number v (1-based) of
// a ramp-up starts at end - floor(d * (to - v) / (to - from)), and a ramp-down
// to w VUs happens at end - floor(d * (w - to) / (from - to)); solving those
// for the count at an instant gives to ∓ ceil(remaining * |to - from| / d).
int64_t StageValue(int64_t from, int64_t to, int64_t d, int64_t x) {
  if (from == to) return from;
  __int128 diff = from < to ? to - from : from - to;
  __int128 remaining = d - x;  // in (0, d]
  int64_t deviation = static_cast<int64_t>(CeilDiv(remaining * diff, d));
  return from < to ? to - deviation : to + deviation;
}

// The instant, inside a stage starting at `start`, at which the global count
// comes within `e` VUs of `to` (the inverse of StageValue).
int64_t StageInstant(int64_t start, int64_t from, int64_t to, int64_t d, int64_t e) {
  __int128 diff = from < to ? to - from : from - to;
  return start + d - static_cast<int64_t>(static_cast<__int128>(d) * e / diff);
}

}  // namespace

int64_t RampingVusSchedule::GlobalVusAt(int64_t t_ns) const {
  if (t_ns < 0 || t_ns >= total_ns_) return 0;
  int64_t value = start_vus_;
  for (const Segment& s : segments_) {
    if (s.start_ns > t_ns) break;
    if (s.duration_ns == 0) {  // a jump, already applied at its instant
      value = s.to;
      continue;
    }
    if (t_ns < s.start_ns + s.duration_ns) {
      return StageValue(s.from, s.to, s.duration_ns, t_ns - s.start_ns);
    }
    value = s.to;
  }
  return value;
}

int64_t RampingVusSchedule::Local(int64_t global) const {
  return static_cast<int64_t>(
      stripe_.CountBelow(static_cast<uint64_t>(std::max<int64_t>(global, 0))));
}

int64_t RampingVusSchedule::VusAt(int64_t t_ns) const { return Local(GlobalVusAt(t_ns)); }

int64_t RampingVusSchedule::MaxVus() const {
  int64_t peak = start_vus_;
  for (const Segment& s : segments_) peak = std::max(peak, s.to);
  return Local(peak);
}

// The first instant after t_ns at which one of this stripe's VUs is crossed
// by a raw step of the global count (the count may still come back to the
// same value at that same instant, e.g. a 0-long stage; the caller checks).
int64_t RampingVusSchedule::NextCandidate(int64_t t_ns) const {
  if (t_ns < 0) return 0;
  if (t_ns >= total_ns_) return kNeverNs;
  for (const Segment& s : segments_) {
    if (s.duration_ns == 0) {
      if (s.start_ns > t_ns && Local(s.from) != Local(s.to)) return s.start_ns;
      continue;
    }
    int64_t end = s.start_ns + s.duration_ns;
    if (end <= t_ns || s.from == s.to) continue;
    int64_t at = std::max(t_ns, s.start_ns);
    int64_t now = StageValue(s.from, s.to, s.duration_ns, at - s.start_ns);
    if (s.from < s.to) {
      // Our next VU u starts when the count reaches u + 1.
      std::optional<int64_t> u = FirstOwnedAtOrAbove(stripe_, now);
      if (u && *u + 1 <= s.to) {
        return StageInstant(s.start_ns, s.from, s.to, s.duration_ns, s.to - (*u + 1));
      }
    } else {
      // Our highest running VU u stops when the count drops to u.
      std::optional<int64_t> u = LastOwnedAtOrBelow(stripe_, now - 1);
      if (u && *u >= s.to) {
        return StageInstant(s.start_ns, s.from, s.to, s.duration_ns, *u - s.to);
      }
    }
  }
  return total_ns_;  // everything stops at the end of the stages
}

int64_t RampingVusSchedule::NextChangeNs(int64_t t_ns) const {
  int64_t current = VusAt(t_ns);
  int64_t at = t_ns;
  while (true) {
    at = NextCandidate(at);
    if (at == kNeverNs || VusAt(at) != current) return at;
  }
}

// ---------------------------------------------------------------------------
// ArrivalSchedule

ArrivalSchedule ArrivalSchedule::Constant(int64_t rate, int64_t time_unit_ns, int64_t duration_ns,
                                          Stripe stripe) {
  ArrivalSchedule s;
  s.constant_ = true;
  s.rate_ = rate;
  s.time_unit_ns_ = time_unit_ns;
  s.duration_ns_ = duration_ns;
  s.stripe_ = stripe;
  if (rate > 0 && duration_ns > 0) {
    // k * unit / rate < duration  <=>  k < duration * rate / unit.
    s.total_global_ = ClampToU64(CeilDiv(static_cast<__int128>(duration_ns) * rate, time_unit_ns));
  }
  s.Finish();
  return s;
}

ArrivalSchedule ArrivalSchedule::Ramping(int64_t start_rate, int64_t time_unit_ns,
                                         std::vector<Stage> stages, Stripe stripe) {
  ArrivalSchedule s;
  s.constant_ = false;
  s.time_unit_ns_ = time_unit_ns;
  s.stripe_ = stripe;
  int64_t from = start_rate;
  int64_t at = 0;
  __int128 area = 0;
  for (const Stage& stage : stages) {
    // Twice the stage's area in units of iterations * time unit, exactly.
    area += static_cast<__int128>(stage.duration_ns) * (from + stage.target);
    s.segments_.push_back(Segment{at, stage.duration_ns, from, stage.target, area});
    at += stage.duration_ns;
    from = stage.target;
  }
  s.duration_ns_ = at;
  uint64_t owed = ClampToU64(area / (2 * static_cast<__int128>(time_unit_ns)));
  // Only the last one can fall exactly on the end (then it does not start).
  if (owed > 0 && s.GlobalArrivalNs(owed - 1) >= s.duration_ns_) --owed;
  s.total_global_ = owed;
  s.Finish();
  return s;
}

ArrivalSchedule ArrivalSchedule::For(const Scenario& scenario) {
  if (scenario.type == ExecutorType::kConstantArrivalRate) {
    return Constant(scenario.rate, scenario.time_unit_ns, scenario.duration_ns, scenario.stripe);
  }
  return Ramping(scenario.start_rate, scenario.time_unit_ns, scenario.stages, scenario.stripe);
}

void ArrivalSchedule::Finish() { total_local_ = stripe_.CountBelow(total_global_); }

int64_t ArrivalSchedule::GlobalArrivalNs(uint64_t k) const {
  if (constant_) {
    return static_cast<int64_t>(static_cast<__int128>(k) * time_unit_ns_ / rate_);
  }
  // Iteration k starts when the area under the rate reaches k + 1, i.e. when
  // twice the area in (iterations * unit) reaches 2 * unit * (k + 1).
  __int128 owed = 2 * static_cast<__int128>(time_unit_ns_) * (static_cast<__int128>(k) + 1);
  auto it = std::lower_bound(segments_.begin(), segments_.end(), owed,
                             [](const Segment& s, __int128 v) { return s.area_end < v; });
  if (it == segments_.end()) return kNeverNs;
  __int128 before = it == segments_.begin() ? 0 : std::prev(it)->area_end;
  __int128 need = owed - before;  // in (0, d * (from + to)]
  int64_t d = it->duration_ns;
  if (need == static_cast<__int128>(d) * (it->from + it->to)) return it->start_ns + d;
  // Solve 2*from*x + (to - from) * x^2 / d = need for x in [0, d), in the
  // form that stays exact for from == to and stable for from ≈ to.
  double f = static_cast<double>(it->from);
  double t = static_cast<double>(it->to);
  double n = static_cast<double>(need);
  double disc = f * f + (t - f) * (n / static_cast<double>(d));
  if (disc < 0) disc = 0;
  double x = n / (f + std::sqrt(disc));
  int64_t offset = static_cast<int64_t>(std::floor(x));
  offset = std::clamp<int64_t>(offset, 0, d - 1);
  return it->start_ns + offset;
}

int64_t ArrivalSchedule::ArrivalNs(uint64_t j) const {
  if (j >= total_local_) return kNeverNs;
  return GlobalArrivalNs(stripe_.Global(j));
}

uint64_t ArrivalSchedule::ArrivalsBefore(int64_t t_ns) const {
  uint64_t lo = 0;
  uint64_t hi = total_local_;
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (ArrivalNs(mid) < t_ns) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace stampede::engine
