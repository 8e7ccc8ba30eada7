// Histogram bucket conversions for the OTLP metrics encoder: from stampede's
// recording histogram (metrics::ExpHistogram: base-2 exponential, up to 4096
// buckets, values in RAW units such as ns) to what OTLP carries, in the
// EXPORTED unit (value × unit_scale, e.g. seconds):
//
//   - ToExponentialBuckets: the positive range of an OTLP
//     ExponentialHistogramDataPoint with at most `max_buckets` buckets and a
//     scale of at most `max_scale` (the SDK defaults are 160 and 20).
//       * unit_scale == 1 (bytes, counts): EXACT. The buckets are the
//         recording buckets downscaled by `shift` (index >> shift, counts
//         summed), the OTel "perfect subsetting": the result is bit-for-bit
//         the histogram an SDK recording the same values at that scale holds.
//       * any other unit_scale (1e-9, ns → s): bucket boundaries in the
//         exported unit are raw boundaries × unit_scale, which is not a power
//         of the base, so raw buckets do not line up with exported ones. Each
//         raw bucket goes WHOLE to the exported bucket that holds its
//         geometric midpoint (no fractional counts, so counts stay integers,
//         sum to count - zero_count, and the mapping is the same at every
//         export). Error: a value within one raw bucket width of an exported
//         boundary may be counted in the neighbouring exported bucket; raw
//         buckets are 2^(2^-s) wide (s >= 6 in practice: <= 1.09 %), while
//         exported buckets are about 2^5 times wider. The exported scale is
//         also capped at the raw scale (no invented resolution).
//     Downscaling is consistent: the result at scale s-k is the result at s
//     with indices >> k (both paths), which is what delta temporality relies
//     on (DownscaleBuckets, SubtractBuckets).
//
//   - ToExplicitBuckets: HistogramDataPoint.bucket_counts for explicit
//     `bounds` (exported unit, strictly increasing; buckets (-inf, b0],
//     (b0, b1], ..., (b_last, +inf)). Every raw bucket (its range narrowed to
//     [min, max] for the first and last one) is assigned to the explicit
//     bucket that contains it; a raw bucket straddling an explicit bound is
//     split in proportion to the log-length on each side (values are assumed
//     log-uniform inside a raw bucket), and the fractional counts are rounded
//     cumulatively so that the counts are integers, never negative and sum to
//     exactly count(). Error: only the count near a bound moves — at most the
//     count of the one raw bucket containing that bound (values within a
//     factor 2^(2^-s) of the bound) can be on the wrong side of it; counts of
//     buckets whose bounds fall on no populated raw bucket are exact.
//
// All functions are pure; `out` arguments are reused buffers (cleared first).
// Cost: one pass over the histogram's populated raw buckets.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "metrics/exp_histogram.h"

namespace stampede::otel {

// One dense range of exponential buckets: counts[i] is bucket offset + i at
// `scale`. Empty counts: no buckets (offset is then 0).
struct ExpBuckets {
  int scale = 0;
  int32_t offset = 0;
  std::vector<uint64_t> counts;

  uint64_t Total() const;
};

// See the file comment. `max_buckets` >= 1, `max_scale` in
// [ExpHistogram::kMinScale, ExpHistogram::kMaxScale]. With no positive
// buckets, `out` is empty with scale min(h.scale(), max_scale).
void ToExponentialBuckets(const metrics::ExpHistogram& h, double unit_scale, int max_scale,
                          int32_t max_buckets, ExpBuckets& out);

// Lowers `b` by `shift` >= 0 scales (index >> shift, counts summed).
void DownscaleBuckets(ExpBuckets& b, int shift);

// Drops zero counts at both ends (offset adjusted); all zero → empty.
void TrimBuckets(ExpBuckets& b);

// cur - prev, bucket by bucket, into `out`, at the lower of both scales
// (each is downscaled to it first). Negative differences (which exact
// cumulative data never gives) are moved into the next bucket up, then down,
// so the result is never negative and sums to cur.Total() - prev.Total() when
// that is >= 0. The result is trimmed. `out` must not alias an input.
void SubtractBuckets(const ExpBuckets& cur, const ExpBuckets& prev, ExpBuckets& out);

// Same repair for explicit bucket counts: `cur` - `prev` element-wise (same
// size), negatives moved to the neighbours; written to `out`.
void SubtractCounts(std::span<const uint64_t> cur, std::span<const uint64_t> prev,
                    std::vector<uint64_t>& out);

// See the file comment. `bounds` in the exported unit, strictly increasing.
// `out` gets bounds.size() + 1 counts summing to h.count().
void ToExplicitBuckets(const metrics::ExpHistogram& h, double unit_scale,
                       std::span<const double> bounds, std::vector<uint64_t>& out);

}  // namespace stampede::otel
