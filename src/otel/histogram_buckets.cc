#include "otel/histogram_buckets.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace stampede::otel {
namespace {

using metrics::ExpHistogram;

// The smallest shift >= min_shift so that [lo >> shift, hi >> shift] holds at
// most max_buckets indices.
int ShiftToFit(int64_t lo, int64_t hi, int32_t max_buckets, int min_shift) {
  int shift = std::max(min_shift, 0);
  while ((hi >> shift) - (lo >> shift) + 1 > max_buckets) ++shift;
  return shift;
}

// Makes every element >= 0 by moving negative amounts into the neighbour
// above (then, for what is left at the top, below), keeping the total.
void RepairNegatives(std::vector<int64_t>& d) {
  int64_t carry = 0;
  for (int64_t& v : d) {
    v += carry;
    carry = std::min<int64_t>(v, 0);
    v -= carry;
  }
  for (auto it = d.rbegin(); carry < 0 && it != d.rend(); ++it) {
    *it += carry;
    carry = std::min<int64_t>(*it, 0);
    *it -= carry;
  }
}

// Four independent sums: no loop-carried dependency on one adder, and the
// compiler may vectorise it. Most of an export's time is spent here.
uint64_t SumCounts(const uint64_t* p, size_t n) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  for (; i < n; ++i) s0 += p[i];
  return s0 + s1 + s2 + s3;
}

// A histogram's populated buckets as (at most two) contiguous runs, for
// range sums without a call per bucket.
class RawRuns {
 public:
  explicit RawRuns(const ExpHistogram& h) {
    h.ForEachBucketRun([this](int32_t first, std::span<const uint64_t> counts) {
      first_[n_] = first;
      counts_[n_] = counts;
      ++n_;
    });
  }

  // Sum of the counts of indices [from, to).
  uint64_t Sum(int64_t from, int64_t to) const {
    uint64_t total = 0;
    for (int r = 0; r < n_; ++r) {
      const int64_t begin = std::max<int64_t>(from, first_[r]);
      const int64_t end =
          std::min<int64_t>(to, first_[r] + static_cast<int64_t>(counts_[r].size()));
      if (begin < end) {
        total +=
            SumCounts(counts_[r].data() + (begin - first_[r]), static_cast<size_t>(end - begin));
      }
    }
    return total;
  }

 private:
  int n_ = 0;
  int32_t first_[2] = {};
  std::span<const uint64_t> counts_[2];
};

}  // namespace

uint64_t ExpBuckets::Total() const {
  uint64_t n = 0;
  for (uint64_t c : counts) n += c;
  return n;
}

void ToExponentialBuckets(const ExpHistogram& h, double unit_scale, int max_scale,
                          int32_t max_buckets, ExpBuckets& out) {
  out.counts.clear();
  out.offset = 0;
  max_buckets = std::max<int32_t>(max_buckets, 1);
  const int raw_scale = h.scale();
  out.scale = std::min(raw_scale, max_scale);
  const int32_t n = h.positive_bucket_count();
  if (n == 0) return;
  const int32_t lo = h.positive_offset();
  const int32_t hi = lo + n - 1;

  if (unit_scale == 1) {
    const int shift = ShiftToFit(lo, hi, max_buckets, raw_scale - max_scale);
    out.scale = raw_scale - shift;
    out.offset = lo >> shift;
    out.counts.resize(static_cast<size_t>((hi >> shift) - out.offset + 1));
    // Exported bucket k holds raw indices [k << shift, (k + 1) << shift).
    const RawRuns raw(h);
    for (size_t k = 0; k < out.counts.size(); ++k) {
      const int64_t index = out.offset + static_cast<int64_t>(k);
      out.counts[k] = raw.Sum(index * (int64_t{1} << shift), (index + 1) * (int64_t{1} << shift));
    }
    return;
  }

  // log2 of a raw bucket's geometric midpoint, in the exported unit: raw
  // bucket i spans log2 (i, i + 1] * 2^-s, so its midpoint is (i + 0.5) *
  // 2^-s; the exported value adds log2(unit_scale). Its exported index at
  // scale e is floor(x * 2^e): multiplying by 2^e is exact, so the index at
  // e - k is the index at e >> k, as for exact downscaling. (Powers of two
  // as factors rather than ldexp: the same exact products, far cheaper.)
  const double log2_unit = std::log2(unit_scale);
  const double raw_width = std::exp2(-raw_scale);
  const auto mid = [&](int32_t i) {
    return (static_cast<double>(i) + 0.5) * raw_width + log2_unit;
  };
  const int start_scale = std::min(raw_scale, max_scale);
  const double start_factor = std::exp2(start_scale);
  const int64_t lo_e = static_cast<int64_t>(std::floor(mid(lo) * start_factor));
  const int64_t hi_e = static_cast<int64_t>(std::floor(mid(hi) * start_factor));
  const int shift = ShiftToFit(lo_e, hi_e, max_buckets, 0);
  out.scale = start_scale - shift;
  const double factor = std::exp2(out.scale);
  const int64_t offset = lo_e >> shift;
  out.offset = static_cast<int32_t>(offset);
  out.counts.resize(static_cast<size_t>((hi_e >> shift) - offset + 1));
  // The exported index floor(mid(i) * factor) only grows with i, so each
  // exported bucket is a run of raw buckets. Where each run starts is found
  // by evaluating that very expression, so the runs are exactly what the
  // per-bucket floor would give, at every scale. The runs are 2^(s - e) raw
  // buckets long (exactly, but for rounding), so each start is guessed from
  // the previous one and corrected.
  const auto reaches = [&](int64_t i, int64_t j) {
    return mid(static_cast<int32_t>(i)) * factor >= static_cast<double>(j);
  };
  const int64_t step = int64_t{1} << (raw_scale - out.scale);
  const RawRuns raw(h);
  int64_t begin = lo;
  // The first guess: solve mid(i) * factor = j for i (powers of two: exact
  // divisions), rounded up.
  int64_t guess = static_cast<int64_t>(std::clamp(
      std::ceil((static_cast<double>(offset + 1) / factor - log2_unit) / raw_width - 0.5),
      static_cast<double>(lo), static_cast<double>(hi) + 1));
  for (size_t k = 0; k < out.counts.size(); ++k) {
    int64_t end = int64_t{hi} + 1;
    if (k + 1 < out.counts.size()) {
      const int64_t j = offset + static_cast<int64_t>(k) + 1;
      end = std::clamp<int64_t>(guess, begin, int64_t{hi} + 1);
      while (end > begin && reaches(end - 1, j)) --end;
      while (end <= hi && !reaches(end, j)) ++end;
    }
    out.counts[k] = raw.Sum(begin, end);
    begin = end;
    guess = end + step;
  }
}

void DownscaleBuckets(ExpBuckets& b, int shift) {
  if (shift <= 0) return;
  b.scale -= shift;
  if (b.counts.empty()) return;
  const int32_t lo = b.offset;
  const int32_t hi = lo + static_cast<int32_t>(b.counts.size()) - 1;
  const int32_t new_lo = lo >> shift;
  // Each bucket moves to a position at or below its own, so one ascending
  // pass merges in place.
  for (int32_t i = lo; i <= hi; ++i) {
    const auto from = static_cast<size_t>(i - lo);
    const uint64_t c = b.counts[from];
    b.counts[from] = 0;
    b.counts[static_cast<size_t>((i >> shift) - new_lo)] += c;
  }
  b.counts.resize(static_cast<size_t>((hi >> shift) - new_lo + 1));
  b.offset = new_lo;
}

void TrimBuckets(ExpBuckets& b) {
  size_t first = 0;
  while (first < b.counts.size() && b.counts[first] == 0) ++first;
  if (first == b.counts.size()) {
    b.counts.clear();
    b.offset = 0;
    return;
  }
  size_t last = b.counts.size();
  while (b.counts[last - 1] == 0) --last;
  b.counts.erase(b.counts.begin() + static_cast<std::ptrdiff_t>(last), b.counts.end());
  b.counts.erase(b.counts.begin(), b.counts.begin() + static_cast<std::ptrdiff_t>(first));
  b.offset += static_cast<int32_t>(first);
}

void SubtractBuckets(const ExpBuckets& cur_in, const ExpBuckets& prev_in, ExpBuckets& out) {
  const int scale = std::min(cur_in.scale, prev_in.scale);
  // Downscaled copies only when a scale differs (rare: the range widened).
  thread_local ExpBuckets cur_copy, prev_copy;
  const ExpBuckets* cur = &cur_in;
  const ExpBuckets* prev = &prev_in;
  if (cur_in.scale != scale) {
    cur_copy = cur_in;
    DownscaleBuckets(cur_copy, cur_in.scale - scale);
    cur = &cur_copy;
  }
  if (prev_in.scale != scale) {
    prev_copy = prev_in;
    DownscaleBuckets(prev_copy, prev_in.scale - scale);
    prev = &prev_copy;
  }
  out.scale = scale;
  out.offset = 0;
  out.counts.clear();
  if (cur->counts.empty()) return;
  if (prev->counts.empty()) {
    out.offset = cur->offset;
    out.counts = cur->counts;
    TrimBuckets(out);
    return;
  }
  const int64_t lo = std::min(cur->offset, prev->offset);
  const int64_t hi = std::max<int64_t>(cur->offset + static_cast<int64_t>(cur->counts.size()),
                                       prev->offset + static_cast<int64_t>(prev->counts.size()));
  thread_local std::vector<int64_t> d;
  d.assign(static_cast<size_t>(hi - lo), 0);
  for (size_t i = 0; i < cur->counts.size(); ++i) {
    d[static_cast<size_t>(cur->offset - lo) + i] += static_cast<int64_t>(cur->counts[i]);
  }
  for (size_t i = 0; i < prev->counts.size(); ++i) {
    d[static_cast<size_t>(prev->offset - lo) + i] -= static_cast<int64_t>(prev->counts[i]);
  }
  RepairNegatives(d);
  out.offset = static_cast<int32_t>(lo);
  out.counts.assign(d.begin(), d.end());
  TrimBuckets(out);
}

void SubtractCounts(std::span<const uint64_t> cur, std::span<const uint64_t> prev,
                    std::vector<uint64_t>& out) {
  std::vector<int64_t> d(cur.size(), 0);
  for (size_t i = 0; i < cur.size(); ++i) {
    d[i] = static_cast<int64_t>(cur[i]) - (i < prev.size() ? static_cast<int64_t>(prev[i]) : 0);
  }
  RepairNegatives(d);
  out.assign(d.begin(), d.end());
}

void ToExplicitBuckets(const ExpHistogram& h, double unit_scale, std::span<const double> bounds,
                       std::vector<uint64_t>& out) {
  const size_t nb = bounds.size();
  out.assign(nb + 1, 0);
  if (h.count() == 0) return;
  // Fractional counts per explicit bucket, rounded cumulatively at the end.
  thread_local std::vector<double> acc;
  acc.assign(nb + 1, 0.0);
  // Bounds in log2 of raw units; a bound <= 0 holds no positive value.
  thread_local std::vector<double> lb;
  lb.resize(nb);
  const double log2_unit = std::log2(unit_scale);
  for (size_t j = 0; j < nb; ++j) {
    lb[j] =
        bounds[j] > 0 ? std::log2(bounds[j]) - log2_unit : -std::numeric_limits<double>::infinity();
  }
  // Zeros: the first bucket whose upper bound is >= 0.
  {
    size_t j = 0;
    while (j < nb && bounds[j] < 0) ++j;
    acc[j] += static_cast<double>(h.zero_count());
  }
  const int32_t n = h.positive_bucket_count();
  if (n > 0) {
    const int s = h.scale();
    const int32_t lo = h.positive_offset();
    const int32_t hi = lo + n - 1;
    const double log2_min =
        h.min() > 0 ? std::log2(h.min()) : -std::numeric_limits<double>::infinity();
    const double log2_max = std::log2(h.max());
    const double width = std::exp2(-s);  // raw bucket i spans log2 (i, i + 1] * width
    const double per_unit = std::exp2(s);
    size_t j = 0;  // the explicit bucket holding the current raw bucket's lower end
    // One raw bucket, split among the explicit buckets its range overlaps.
    const auto distribute = [&](int32_t i) {
      const uint64_t c = h.BucketCount(i);
      if (c == 0) return;
      double a = static_cast<double>(i) * width;
      double b = static_cast<double>(i + 1) * width;
      if (i == lo) a = std::max(a, log2_min);
      if (i == hi) b = std::min(b, log2_max);
      const auto count = static_cast<double>(c);
      if (!(a < b)) {
        // Only the first or last bucket narrowed to one value (min == max,
        // or rounding at the edges): place that value by comparing it in
        // the exported unit, where a value on a bound (1e8 ns vs 0.1 s)
        // compares equal, rather than through two rounded logarithms.
        const double v = (i == hi ? h.max() : h.min()) * unit_scale;
        while (j < nb && bounds[j] < v) ++j;
        acc[j] += count;
        return;
      }
      while (j < nb && lb[j] <= a) ++j;
      for (size_t k = j;; ++k) {
        const double upper = k < nb ? std::min(b, lb[k]) : b;
        const double lower = k > 0 ? std::max(a, lb[k - 1]) : a;
        acc[k] += count * (upper - lower) / (b - a);
        if (k == nb || lb[k] >= b) break;
      }
    };
    const RawRuns raw(h);
    distribute(lo);
    int32_t i = lo + 1;
    while (i < hi) {
      // Raw buckets wholly inside explicit bucket j (their upper end at or
      // below lb[j], their lower end at or above lb[j - 1]) are summed as a
      // run; a bucket straddling a bound is split.
      while (j < nb && lb[j] <= static_cast<double>(i) * width) ++j;
      const double whole_end = j < nb ? std::floor(lb[j] * per_unit) : static_cast<double>(hi);
      const auto end = static_cast<int32_t>(std::min(whole_end, static_cast<double>(hi)));
      if (end > i) {
        acc[j] += static_cast<double>(raw.Sum(i, end));
        i = end;
      } else {
        distribute(i);
        ++i;
      }
    }
    if (hi > lo) distribute(hi);
  }
  double cumulative = 0;
  uint64_t emitted = 0;
  for (size_t k = 0; k <= nb; ++k) {
    cumulative += acc[k];
    const auto target =
        std::max<uint64_t>(emitted, static_cast<uint64_t>(std::llround(cumulative)));
    out[k] = target - emitted;
    emitted = target;
  }
  // Floating-point slack can only be a fraction of one count; settle it so
  // that the buckets add up to count() exactly.
  if (emitted < h.count()) {
    out[nb] += h.count() - emitted;
  } else {
    for (size_t k = nb + 1; emitted > h.count() && k-- > 0;) {
      const uint64_t take = std::min(out[k], emitted - h.count());
      out[k] -= take;
      emitted -= take;
    }
  }
}

}  // namespace stampede::otel
