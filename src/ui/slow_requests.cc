#include "ui/slow_requests.h"

#include <algorithm>
#include <utility>

namespace stampede::ui {
namespace {

constexpr size_t kMaxNameBytes = 512;

bool Slower(const SlowRequest& a, const SlowRequest& b) {
  if (a.duration_ms != b.duration_ms) return a.duration_ms > b.duration_ms;
  if (a.total_ms != b.total_ms) return a.total_ms > b.total_ms;
  return a.span_id < b.span_id;  // a total order: equal requests keep a stable listing
}

// Whole seconds since the start, rounded down (a span that ended before the
// start, from setup(), lands in second -1).
int64_t SecondOf(int64_t unix_ns, int64_t start_unix_ns) {
  const int64_t d = unix_ns - start_unix_ns;
  return d >= 0 ? d / 1'000'000'000 : (d + 1) / 1'000'000'000 - 1;
}

}  // namespace

SlowRequests::SlowRequests(int64_t start_unix_ns, size_t per_second, size_t max_seconds)
    : start_unix_ns_(start_unix_ns),
      per_second_(std::max<size_t>(1, per_second)),
      max_seconds_(std::max<size_t>(1, max_seconds)) {}

void SlowRequests::Offer(SlowRequest r) {
  if (r.name.size() > kMaxNameBytes) r.name.resize(kMaxNameBytes);
  const int64_t second = SecondOf(r.end_unix_ns, start_unix_ns_);
  std::lock_guard lock(mu_);
  ++offered_;
  if (by_second_.size() >= max_seconds_ && second < by_second_.begin()->first) return;  // too old
  std::vector<SlowRequest>& kept = by_second_[second];
  if (kept.size() == per_second_) {
    if (!Slower(r, kept.back())) return;
    kept.pop_back();
  }
  kept.insert(std::upper_bound(kept.begin(), kept.end(), r, Slower), std::move(r));
  while (by_second_.size() > max_seconds_) by_second_.erase(by_second_.begin());
}

std::vector<SlowRequest> SlowRequests::Slowest(int64_t from_unix_ns, int64_t to_unix_ns,
                                               size_t limit) const {
  std::vector<SlowRequest> out;
  if (to_unix_ns <= from_unix_ns || limit == 0) return out;
  const int64_t first = SecondOf(from_unix_ns + 1, start_unix_ns_);
  const int64_t last = SecondOf(to_unix_ns, start_unix_ns_);
  std::lock_guard lock(mu_);
  for (auto it = by_second_.lower_bound(first); it != by_second_.end() && it->first <= last; ++it) {
    for (const SlowRequest& r : it->second) {
      if (r.end_unix_ns > from_unix_ns && r.end_unix_ns <= to_unix_ns) out.push_back(r);
    }
  }
  std::sort(out.begin(), out.end(), Slower);
  if (out.size() > limit) out.resize(limit);
  return out;
}

uint64_t SlowRequests::offered() const {
  std::lock_guard lock(mu_);
  return offered_;
}

}  // namespace stampede::ui
