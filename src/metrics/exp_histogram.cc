#include "metrics/exp_histogram.h"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace stampede::metrics {

ExpHistogram::ExpHistogram() : counts_(kMinCapacity, 0), mask_(kMinCapacity - 1) {}

void ExpHistogram::EnsureCapacity(int32_t lo, int32_t hi) {
  const auto needed = static_cast<uint64_t>(static_cast<int64_t>(hi) - lo + 1);
  if (needed <= counts_.size()) return;
  size_t capacity = counts_.empty() ? static_cast<size_t>(kMinCapacity) : counts_.size();
  while (capacity < needed) capacity *= 2;
  capacity = std::min(capacity, static_cast<size_t>(kMaxBuckets));
  std::vector<uint64_t> grown(capacity, 0);
  const auto new_mask = static_cast<uint32_t>(capacity - 1);
  if (!empty_buckets()) {
    for (int32_t i = lo_; i <= hi_; ++i) grown[static_cast<uint32_t>(i - lo_) & new_mask] = Slot(i);
    base_ = lo_;
  }
  counts_.swap(grown);
  mask_ = new_mask;
}

// The mapping follows the OTel specification's exponential bucket mapping:
// index = ceil(log2(v) * 2^scale) - 1, so that buckets are upper-inclusive.
// v is split exactly by frexp into m * 2^e with m in [1, 2); exact powers of
// two are handled exactly (they close the bucket below). For the rest, the
// sub-octave index is floor(log2(m) * 2^scale): the product by 2^scale is exact
// in binary floating point, so the same log2(m) yields sub-indices that agree
// at every scale (floor(floor(y) / 2^k) == floor(y / 2^k)). That is why
// downscaling a histogram recorded at a high scale gives bit-for-bit the
// histogram recorded directly at the lower scale, and merges are exact.
int32_t ExpHistogram::MapToIndex(double value, int scale) {
  int exp = 0;
  const double frac = std::frexp(value, &exp);  // value = frac * 2^exp, frac in [0.5, 1)
  const int32_t e = exp - 1;                    // value = (2 * frac) * 2^e
  if (frac == 0.5) {                            // exact power of two
    if (scale > 0) return e * (int32_t{1} << scale) - 1;
    return (e - 1) >> -scale;
  }
  if (scale <= 0) return e >> -scale;
  const int32_t per_octave = int32_t{1} << scale;
  const double sub = std::floor(std::log2(2.0 * frac) * static_cast<double>(per_octave));
  // log2(m) may round up to exactly 1 for m just below 2; stay in the octave.
  const int32_t s = std::min(static_cast<int32_t>(sub), per_octave - 1);
  return e * per_octave + s;
}

double ExpHistogram::LowerBoundary(int32_t index, int scale) {
  if (scale <= 0) return std::ldexp(1.0, index * (int32_t{1} << -scale));
  const int32_t octave = index >> scale;  // floor division, also for negatives
  const int32_t rest = index - octave * (int32_t{1} << scale);
  return std::ldexp(std::exp2(std::ldexp(static_cast<double>(rest), -scale)), octave);
}

int ExpHistogram::ShiftToFit(int32_t lo, int32_t hi) {
  int shift = 0;
  while ((static_cast<int64_t>(hi >> shift) - (lo >> shift) + 1) > kMaxBuckets) ++shift;
  return shift;
}

uint64_t ExpHistogram::BucketCount(int32_t index) const {
  if (empty_buckets() || index < lo_ || index > hi_) return 0;
  return Slot(index);
}

void ExpHistogram::Record(double value) {
  if (!(value < std::numeric_limits<double>::infinity())) return;  // NaN, +inf
  if (value < 0) value = 0;
  ++count_;
  sum_ += value;
  if (value < min_) min_ = value;
  if (value > max_) max_ = value;
  if (value == 0) {
    ++zero_count_;
    return;
  }
  int32_t index = MapToIndex(value, scale_);
  if (empty_buckets()) {
    EnsureCapacity(index, index);  // only a moved-from histogram has no array
    lo_ = hi_ = base_ = index;
  } else if (index < lo_ || index > hi_) {
    const int shift =
        std::min(ShiftToFit(std::min(lo_, index), std::max(hi_, index)), scale_ - kMinScale);
    if (shift > 0) {
      Downscale(shift);
      index >>= shift;
    }
    EnsureCapacity(std::min(lo_, index), std::max(hi_, index));
    lo_ = std::min(lo_, index);
    hi_ = std::max(hi_, index);
  }
  ++Slot(index);
}

void ExpHistogram::Downscale(int shift) {
  if (shift <= 0) return;
  scale_ -= shift;
  if (empty_buckets()) return;
  // Make the buffer linear (lo_ at position 0). Then every bucket moves to a
  // position at or below its own ((i >> k) - (lo >> k) <= i - lo), so one
  // ascending pass merges in place without clobbering unread buckets.
  const auto start = static_cast<std::ptrdiff_t>(static_cast<uint32_t>(lo_ - base_) & mask_);
  std::rotate(counts_.begin(), counts_.begin() + start, counts_.end());
  const int32_t new_lo = lo_ >> shift;
  for (int32_t i = lo_; i <= hi_; ++i) {
    const auto from = static_cast<size_t>(i - lo_);
    const uint64_t c = counts_[from];
    if (c == 0) continue;
    counts_[from] = 0;
    counts_[static_cast<size_t>((i >> shift) - new_lo)] += c;
  }
  hi_ >>= shift;
  lo_ = new_lo;
  base_ = new_lo;
}

void ExpHistogram::Merge(const ExpHistogram& other) {
  if (other.count_ == 0) return;
  if (&other == this) {  // the union of a multiset with itself: every count doubles
    for (int32_t i = lo_; i <= hi_; ++i) Slot(i) *= 2;
    count_ *= 2;
    zero_count_ *= 2;
    sum_ *= 2;
    return;
  }
  count_ += other.count_;
  zero_count_ += other.zero_count_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  if (other.empty_buckets()) return;

  const int shift_other = PrepareBucketMerge(other.scale_, other.lo_, other.hi_);
  for (int32_t i = other.lo_; i <= other.hi_; ++i) {
    const uint64_t c = other.Slot(i);
    if (c != 0) Slot(i >> shift_other) += c;
  }
}

int ExpHistogram::PrepareBucketMerge(int other_scale, int32_t other_lo, int32_t other_hi) {
  // Common scale: the lower of the two, lowered further until the combined
  // range fits. Recording the union would have ended at exactly this scale.
  const int target = std::min(scale_, other_scale);
  int shift_this = scale_ - target;
  int shift_other = other_scale - target;
  int32_t lo = other_lo >> shift_other;
  int32_t hi = other_hi >> shift_other;
  if (!empty_buckets()) {
    lo = std::min(lo, lo_ >> shift_this);
    hi = std::max(hi, hi_ >> shift_this);
  }
  const int extra = std::min(ShiftToFit(lo, hi), target - kMinScale);
  shift_this += extra;
  shift_other += extra;
  const bool was_empty = empty_buckets();
  Downscale(shift_this);
  const int32_t new_lo = other_lo >> shift_other;
  const int32_t new_hi = other_hi >> shift_other;
  if (was_empty) {
    EnsureCapacity(new_lo, new_hi);  // empty: no bucket to move
    base_ = lo_ = new_lo;
    hi_ = new_hi;
  } else if (new_lo < lo_ || new_hi > hi_) {
    EnsureCapacity(std::min(lo_, new_lo), std::max(hi_, new_hi));
    lo_ = std::min(lo_, new_lo);
    hi_ = std::max(hi_, new_hi);
  }
  return shift_other;
}

bool ExpHistogram::SparseView::IsValid() const {
  if (scale < kMinScale || scale > kMaxScale) return false;
  constexpr int32_t kLimit = std::numeric_limits<int32_t>::max() / 2;
  uint64_t total = zero_count;
  for (size_t i = 0; i < buckets.size(); ++i) {
    const Bucket& b = buckets[i];
    if (b.count == 0 || b.index < -kLimit || b.index > kLimit) return false;
    if (i > 0 && b.index <= buckets[i - 1].index) return false;
    if (total + b.count < total) return false;
    total += b.count;
  }
  if (!buckets.empty() &&
      static_cast<int64_t>(buckets.back().index) - buckets.front().index >= kMaxBuckets) {
    return false;
  }
  if (total != count) return false;
  return count == 0 || min <= max;
}

void ExpHistogram::MergeSparse(const SparseView& other) {
  assert(other.IsValid());
  // Mirrors Merge(*FromSparse(other)) step by step, so that both give the
  // same histogram bit for bit.
  if (other.count == 0) return;
  count_ += other.count;
  zero_count_ += other.zero_count;
  sum_ += other.sum;
  min_ = std::min(min_, other.min);
  max_ = std::max(max_, other.max);
  if (other.buckets.empty()) return;
  const int shift =
      PrepareBucketMerge(other.scale, other.buckets.front().index, other.buckets.back().index);
  if (shift == 0) {
    for (const Bucket& b : other.buckets) Slot(b.index) += b.count;
  } else {
    for (const Bucket& b : other.buckets) Slot(b.index >> shift) += b.count;
  }
}

std::optional<ExpHistogram> ExpHistogram::FromSparse(const SparseView& view) {
  if (!view.IsValid()) return std::nullopt;
  ExpHistogram h;
  h.scale_ = view.scale;
  h.count_ = view.count;
  h.zero_count_ = view.zero_count;
  h.sum_ = view.sum;
  if (view.count > 0) {
    h.min_ = view.min;
    h.max_ = view.max;
  }
  if (!view.buckets.empty()) {
    const int32_t lo = view.buckets.front().index;
    const int32_t hi = view.buckets.back().index;
    h.EnsureCapacity(lo, hi);
    h.base_ = h.lo_ = lo;
    h.hi_ = hi;
    for (const Bucket& b : view.buckets) h.Slot(b.index) = b.count;
  }
  return h;
}

void ExpHistogram::Reset() {
  for (int32_t i = lo_; i <= hi_; ++i) Slot(i) = 0;
  scale_ = kMaxScale;
  base_ = 0;
  lo_ = 0;
  hi_ = -1;
  count_ = 0;
  zero_count_ = 0;
  sum_ = 0;
  min_ = std::numeric_limits<double>::infinity();
  max_ = -std::numeric_limits<double>::infinity();
}

double ExpHistogram::ValueAtRank(uint64_t rank) const {
  if (rank == 0) return min_;
  if (rank + 1 >= count_) return max_;
  if (rank < zero_count_) return 0;
  uint64_t left = rank - zero_count_;
  for (int32_t i = lo_; i <= hi_; ++i) {
    const uint64_t c = Slot(i);
    if (left < c) {
      // The point with the same relative distance to both bucket bounds
      // (their harmonic mean) bounds the relative error by (b-1)/(b+1).
      const double lower = LowerBoundary(i, scale_);
      const double upper = LowerBoundary(i + 1, scale_);
      return std::clamp(2.0 * lower * upper / (lower + upper), min_, max_);
    }
    left -= c;
  }
  return max_;
}

double ExpHistogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  if (!(q > 0)) q = 0;  // also NaN
  if (q > 1) q = 1;
  const double pos = q * static_cast<double>(count_ - 1);
  const auto rank = static_cast<uint64_t>(pos);
  const double frac = pos - static_cast<double>(rank);
  double v = ValueAtRank(rank);
  if (frac > 0 && rank + 1 < count_) v += frac * (ValueAtRank(rank + 1) - v);
  return std::clamp(v, min_, max_);
}

std::optional<ExpHistogram> ExpHistogram::FromParts(int scale, uint64_t zero_count, uint64_t count,
                                                    double sum, double min, double max,
                                                    int32_t offset,
                                                    std::span<const uint64_t> counts) {
  if (scale < kMinScale || scale > kMaxScale) return std::nullopt;
  size_t first = 0;
  size_t last = counts.size();
  while (first < last && counts[first] == 0) ++first;
  while (last > first && counts[last - 1] == 0) --last;
  if (last - first > static_cast<size_t>(kMaxBuckets)) return std::nullopt;
  uint64_t total = zero_count;
  for (size_t i = first; i < last; ++i) total += counts[i];
  if (total != count) return std::nullopt;
  const int64_t lo64 = static_cast<int64_t>(offset) + static_cast<int64_t>(first);
  const int64_t hi64 = static_cast<int64_t>(offset) + static_cast<int64_t>(last) - 1;
  if (first < last && (lo64 < std::numeric_limits<int32_t>::min() / 2 ||
                       hi64 > std::numeric_limits<int32_t>::max() / 2)) {
    return std::nullopt;
  }
  ExpHistogram h;
  h.scale_ = scale;
  h.count_ = count;
  h.zero_count_ = zero_count;
  h.sum_ = sum;
  if (count > 0) {
    h.min_ = min;
    h.max_ = max;
  }
  if (first < last) {
    const auto lo = static_cast<int32_t>(lo64);
    const auto hi = static_cast<int32_t>(hi64);
    h.EnsureCapacity(lo, hi);
    h.base_ = h.lo_ = lo;
    h.hi_ = hi;
    for (size_t i = first; i < last; ++i) h.Slot(offset + static_cast<int32_t>(i)) = counts[i];
  }
  return h;
}

std::optional<ExpHistogram> ExpHistogram::Difference(const ExpHistogram& later,
                                                     const ExpHistogram& earlier) {
  if (earlier.count_ == 0) return later;
  if (earlier.count_ > later.count_ || earlier.zero_count_ > later.zero_count_) return std::nullopt;
  if (!earlier.empty_buckets() && earlier.scale_ < later.scale_) return std::nullopt;
  const int shift = earlier.scale_ - later.scale_;
  ExpHistogram d;
  d.scale_ = later.scale_;
  d.count_ = later.count_ - earlier.count_;
  d.zero_count_ = later.zero_count_ - earlier.zero_count_;
  d.sum_ = later.sum_ - earlier.sum_;
  if (!later.empty_buckets()) {
    d.EnsureCapacity(later.lo_, later.hi_);
    d.base_ = d.lo_ = later.lo_;
    d.hi_ = later.hi_;
    for (int32_t i = later.lo_; i <= later.hi_; ++i) d.Slot(i) = later.Slot(i);
  }
  if (!earlier.empty_buckets()) {
    if (d.empty_buckets()) return std::nullopt;
    for (int32_t i = earlier.lo_; i <= earlier.hi_; ++i) {
      const uint64_t c = earlier.Slot(i);
      if (c == 0) continue;
      const int32_t j = i >> shift;
      if (j < d.lo_ || j > d.hi_ || d.Slot(j) < c) return std::nullopt;
      d.Slot(j) -= c;
    }
  }
  // Trim, keeping the invariant that the first and last buckets are non-zero.
  while (!d.empty_buckets() && d.Slot(d.lo_) == 0) ++d.lo_;
  while (!d.empty_buckets() && d.Slot(d.hi_) == 0) --d.hi_;
  if (d.empty_buckets()) {
    d.lo_ = 0;
    d.hi_ = -1;
  }
  uint64_t total = d.zero_count_;
  for (int32_t i = d.lo_; i <= d.hi_; ++i) total += d.Slot(i);
  if (total != d.count_) return std::nullopt;
  if (d.count_ == 0) {
    d.sum_ = 0;
    return d;
  }
  // Extremes: exact when they moved, else the bucket bounds of the difference.
  if (later.min_ < earlier.min_) {
    d.min_ = later.min_;
  } else if (d.zero_count_ > 0) {
    d.min_ = 0;
  } else {
    d.min_ = std::clamp(LowerBoundary(d.lo_, d.scale_), later.min_, later.max_);
  }
  if (later.max_ > earlier.max_) {
    d.max_ = later.max_;
  } else if (d.empty_buckets()) {
    d.max_ = 0;
  } else {
    d.max_ = std::clamp(LowerBoundary(d.hi_ + 1, d.scale_), later.min_, later.max_);
  }
  if (d.min_ > d.max_) d.min_ = d.max_;
  if (d.sum_ < 0) d.sum_ = 0;
  return d;
}

}  // namespace stampede::metrics
