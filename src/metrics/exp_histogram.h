// A mergeable base-2 exponential histogram, following the OpenTelemetry
// "ExponentialHistogram" data model: at scale s the base is 2^(2^-s) and the
// positive bucket with index i holds values in (base^i, base^(i+1)].
//
// Recording starts at scale kMaxScale and lowers the scale (merging adjacent
// bucket pairs, in place) whenever the populated index range would exceed
// kMaxBuckets. With 4096 buckets the scale stays >= 6 while the data spans a
// ratio (largest / smallest non-zero value) below 2^64, and >= 7 below 2^32
// (e.g. 1 us .. 60 s in ns is ~2^26); at scale 6 any quantile is reported with
// a relative error <= 0.55 %.
//
// Thread-safety: none; one writer, or concurrent const readers.
// Allocation: the bucket array grows with the populated index range, in
// powers of two from kMinCapacity to kMaxBuckets counts (32 KiB), and never
// shrinks. A histogram of one value holds 16 counts, so a series that sees
// few samples (high-cardinality tags, e.g. a URL per request) stays small.
// Record and Merge allocate only when the range outgrows the array — at most
// 9 times in a histogram's life, never in steady state; Reset never does.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <vector>

namespace stampede::metrics {

class ExpHistogram {
 public:
  static constexpr int kMaxScale = 20;
  static constexpr int kMinScale = -10;
  static constexpr int32_t kMaxBuckets = 4096;  // a power of two
  static constexpr int32_t kMinCapacity = 16;   // a power of two

  ExpHistogram();
  // Copyable (cold path: copies the bucket array) and movable. A moved-from
  // histogram may only be assigned to or destroyed.
  ExpHistogram(const ExpHistogram&) = default;
  ExpHistogram& operator=(const ExpHistogram&) = default;
  ExpHistogram(ExpHistogram&&) noexcept = default;
  ExpHistogram& operator=(ExpHistogram&&) noexcept = default;

  // Records one value (a duration in ns, a byte count, or any non-negative
  // number). O(1); allocates only when the range outgrows the array. Zero
  // goes to zero_count(); negative values
  // are recorded as zero; NaN and +inf are ignored.
  void Record(double value);

  // Adds all of `other` into this histogram. The result is exactly the
  // histogram that recording the union of both inputs would have produced:
  // same scale, buckets, count, sum, min and max. Cold path.
  void Merge(const ExpHistogram& other);

  // One non-zero bucket of a sparse histogram: absolute index at the view's
  // scale, count >= 1.
  struct Bucket {
    int32_t index = 0;
    uint64_t count = 0;
  };
  // A histogram given by its non-zero buckets only (the wire form of a
  // distributed run's deltas, which populate few of the indices their range
  // spans). A view: `buckets` is borrowed. Valid (see IsValid) when: scale
  // in [kMinScale, kMaxScale]; indices strictly increasing, within
  // [INT32_MIN / 2, INT32_MAX / 2], last - first < kMaxBuckets; every
  // bucket count >= 1; zero_count + sum(bucket counts) == count (no
  // overflow); min <= max when count > 0 (min, max ignored when count == 0).
  struct SparseView {
    int scale = kMaxScale;
    uint64_t count = 0;
    uint64_t zero_count = 0;
    double sum = 0;
    double min = 0;
    double max = 0;
    std::span<const Bucket> buckets;

    bool IsValid() const;
  };

  // Adds a sparse histogram into this one: exactly Merge(*FromSparse(other))
  // (same scale, buckets, count, sum, min and max), without building it. When
  // this histogram's scale is <= other.scale and the combined range fits,
  // costs O(other.buckets.size()) and allocates nothing; otherwise it
  // downscales and/or grows the array first, like Merge. Precondition:
  // other.IsValid() (a debug build asserts it). Cold path (the coordinator's
  // merge), not for workers.
  void MergeSparse(const SparseView& other);

  // Builds the histogram a sparse view describes (its scale, its buckets);
  // nullopt when !view.IsValid(). Allocates the populated range. Cold path.
  static std::optional<ExpHistogram> FromSparse(const SparseView& view);

  // Calls f(Bucket) for every non-zero bucket, in increasing index order.
  template <typename F>
  void ForEachNonZeroBucket(F&& f) const {
    ForEachBucketRun([&](int32_t first, std::span<const uint64_t> counts) {
      for (size_t i = 0; i < counts.size(); ++i) {
        if (counts[i] != 0) f(Bucket{first + static_cast<int32_t>(i), counts[i]});
      }
    });
  }

  // Bytes held by the bucket array (its capacity, not its populated range):
  // for callers that keep many histograms under a memory budget.
  size_t bucket_bytes() const { return counts_.capacity() * sizeof(uint64_t); }

  // Rebuilds a histogram from its parts (a stored form, e.g. the run store's
  // `hist` blob): counts[i] is the count of bucket offset + i at `scale`.
  // Zero counts at either end are allowed (trimmed). nullopt when the parts
  // are inconsistent: scale outside [kMinScale, kMaxScale], a populated
  // range wider than kMaxBuckets, or zero_count + sum(counts) != count.
  // Cold path.
  static std::optional<ExpHistogram> FromParts(int scale, uint64_t zero_count, uint64_t count,
                                               double sum, double min, double max, int32_t offset,
                                               std::span<const uint64_t> counts);

  // The values recorded in `later` but not in `earlier`, where `later` is the
  // same cumulative histogram some time after `earlier` (a cumulative
  // histogram only ever loses scale). `earlier` is downscaled to later's
  // scale and subtracted bucket by bucket: counts, zero count, count and sum
  // are exact. min/max of the difference are exact when later's extreme
  // moved past earlier's (it was recorded in between); otherwise they are
  // the boundary of the difference's lowest / highest bucket, clamped to
  // later's [min, max] (within one bucket). nullopt when `earlier` is not a
  // predecessor of `later` (a higher scale in `later`, or more counts
  // anywhere). Cold path.
  static std::optional<ExpHistogram> Difference(const ExpHistogram& later,
                                                const ExpHistogram& earlier);

  // Empties the histogram and returns it to kMaxScale. No allocation.
  void Reset();

  uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  // Exact smallest / largest recorded value; 0 when empty.
  double min() const { return count_ == 0 ? 0 : min_; }
  double max() const { return count_ == 0 ? 0 : max_; }
  // Arithmetic mean; 0 when empty.
  double Mean() const { return count_ == 0 ? 0 : sum_ / static_cast<double>(count_); }

  // The q-quantile, q in [0, 1] (clamped), with linear interpolation between
  // the closest ranks (like k6 and numpy). Relative error <= (b-1)/(b+1) where
  // b = 2^(2^-scale), i.e. <= 0.55 % at scale >= 6; the result is clamped to
  // [min(), max()], and q=0 / q=1 return min() / max() exactly. 0 when empty.
  double Quantile(double q) const;

  // OTLP accessors. Buckets with indices [positive_offset(),
  // positive_offset() + positive_bucket_count()) are populated (the first and
  // last are non-zero); counts of other indices are 0.
  int scale() const { return scale_; }
  uint64_t zero_count() const { return zero_count_; }
  int32_t positive_offset() const { return empty_buckets() ? 0 : lo_; }
  int32_t positive_bucket_count() const { return empty_buckets() ? 0 : hi_ - lo_ + 1; }
  // Count of the bucket with absolute index `index` at the current scale.
  uint64_t BucketCount(int32_t index) const;
  // Bulk read of the populated range, for readers that convert whole
  // histograms (the OTLP metrics encoder): calls
  // f(int32_t first_index, std::span<const uint64_t> counts) once or twice
  // (the array is circular), runs in increasing index order covering exactly
  // [positive_offset(), positive_offset() + positive_bucket_count()); counts
  // may be zero inside. Not at all when there are no positive buckets. The
  // spans are valid until the histogram is next modified.
  template <typename F>
  void ForEachBucketRun(F&& f) const {
    if (empty_buckets()) return;
    const uint32_t start = static_cast<uint32_t>(lo_ - base_) & mask_;
    const auto n = static_cast<uint32_t>(hi_ - lo_ + 1);
    const uint32_t first = std::min(n, static_cast<uint32_t>(counts_.size()) - start);
    f(lo_, std::span<const uint64_t>(counts_.data() + start, first));
    if (first < n) {
      f(lo_ + static_cast<int32_t>(first), std::span<const uint64_t>(counts_.data(), n - first));
    }
  }

  // The OTel mapping function: the index of the bucket holding `value` (> 0,
  // finite) at `scale`. Consistent across scales: MapToIndex(v, s - k) ==
  // MapToIndex(v, s) >> k for every value, which is what makes downscaling
  // and merging exact.
  static int32_t MapToIndex(double value, int scale);
  // Lower boundary base^index of bucket `index` at `scale` (exclusive).
  static double LowerBoundary(int32_t index, int scale);

 private:
  bool empty_buckets() const { return hi_ < lo_; }
  uint64_t& Slot(int32_t index) { return counts_[static_cast<uint32_t>(index - base_) & mask_]; }
  uint64_t Slot(int32_t index) const {
    return counts_[static_cast<uint32_t>(index - base_) & mask_];
  }
  // Grows the array so that indices [lo, hi] (hi - lo < kMaxBuckets) fit,
  // keeping the populated buckets; base_ becomes lo_ when it moves them.
  void EnsureCapacity(int32_t lo, int32_t hi);
  // The smallest shift so that [lo >> shift, hi >> shift] fits kMaxBuckets.
  static int ShiftToFit(int32_t lo, int32_t hi);
  // Lowers the scale by `shift` (>= 0), merging buckets in place.
  void Downscale(int shift);
  // Estimate of the value with 0-based rank `rank` (< count_).
  double ValueAtRank(uint64_t rank) const;
  // The bucket part of Merge / MergeSparse: brings this histogram to the
  // common scale of both (downscaling further until the union's range fits)
  // and makes room for the other's range [other_lo, other_hi] at
  // other_scale. Returns by how much the other's indices must be shifted.
  int PrepareBucketMerge(int other_scale, int32_t other_lo, int32_t other_hi);

  std::vector<uint64_t> counts_;  // circular: index i lives at (i - base_) & mask_
  uint32_t mask_ = 0;             // counts_.size() - 1 (size a power of two)
  int scale_ = kMaxScale;
  int32_t base_ = 0;
  int32_t lo_ = 0;  // populated index range [lo_, hi_]; empty when hi_ < lo_
  int32_t hi_ = -1;
  uint64_t count_ = 0;
  uint64_t zero_count_ = 0;
  double sum_ = 0;
  double min_ = std::numeric_limits<double>::infinity();
  double max_ = -std::numeric_limits<double>::infinity();
};

}  // namespace stampede::metrics
