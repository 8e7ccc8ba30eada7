#include "metrics/exp_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <vector>

namespace stampede::metrics {
namespace {

constexpr double kUs = 1e3;  // in ns
constexpr double kSec = 1e9;

// Linear interpolation between closest ranks, as ExpHistogram::Quantile.
double ExactQuantile(std::vector<double> sorted, double q) {
  std::sort(sorted.begin(), sorted.end());
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const double frac = pos - static_cast<double>(lo);
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

void ExpectSameHistogram(const ExpHistogram& a, const ExpHistogram& b) {
  EXPECT_EQ(a.scale(), b.scale());
  EXPECT_EQ(a.count(), b.count());
  EXPECT_EQ(a.zero_count(), b.zero_count());
  EXPECT_DOUBLE_EQ(a.min(), b.min());
  EXPECT_DOUBLE_EQ(a.max(), b.max());
  EXPECT_NEAR(a.sum(), b.sum(), std::abs(b.sum()) * 1e-12);
  ASSERT_EQ(a.positive_offset(), b.positive_offset());
  ASSERT_EQ(a.positive_bucket_count(), b.positive_bucket_count());
  for (int32_t i = a.positive_offset(); i < a.positive_offset() + a.positive_bucket_count(); ++i) {
    ASSERT_EQ(a.BucketCount(i), b.BucketCount(i)) << "bucket " << i;
  }
}

struct Distribution {
  const char* name;
  std::vector<double> values;
};

std::vector<Distribution> MakeDistributions() {
  std::mt19937_64 rng(42);
  constexpr int kN = 200'000;
  std::vector<Distribution> out;
  auto gen = [&](const char* name, auto&& draw) {
    Distribution d{name, {}};
    d.values.reserve(kN);
    for (int i = 0; i < kN; ++i) d.values.push_back(std::clamp(draw(), 1 * kUs, 60 * kSec));
    out.push_back(std::move(d));
  };
  std::uniform_real_distribution<double> uniform(1 * kUs, 60 * kSec);
  gen("uniform 1us..60s", [&] { return uniform(rng); });
  std::uniform_real_distribution<double> log_uniform(std::log(1 * kUs), std::log(60 * kSec));
  gen("log-uniform 1us..60s", [&] { return std::exp(log_uniform(rng)); });
  std::lognormal_distribution<double> lognormal(std::log(50e6), 1.5);  // median 50 ms
  gen("log-normal", [&] { return lognormal(rng); });
  std::uniform_real_distribution<double> narrow(100e6, 110e6);
  gen("uniform 100..110ms", [&] { return narrow(rng); });
  std::exponential_distribution<double> expo(1.0 / 2e6);  // mean 2 ms
  gen("exponential", [&] { return expo(rng) + kUs; });
  std::uniform_int_distribution<int> coin(0, 99);
  std::lognormal_distribution<double> fast(std::log(200 * kUs), 0.3);
  gen("bimodal with 1% of 30s timeouts", [&] { return coin(rng) == 0 ? 30 * kSec : fast(rng); });
  return out;
}

TEST(ExpHistogramTest, QuantilesWithinOnePercentOfExactSort) {
  const double qs[] = {0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1};
  for (const Distribution& d : MakeDistributions()) {
    SCOPED_TRACE(d.name);
    ExpHistogram h;
    for (double v : d.values) h.Record(v);
    EXPECT_GE(h.scale(), 6);
    EXPECT_EQ(h.count(), d.values.size());
    std::vector<double> sorted = d.values;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(h.min(), sorted.front());
    EXPECT_EQ(h.max(), sorted.back());
    for (double q : qs) {
      const double exact = ExactQuantile(sorted, q);
      EXPECT_LE(std::abs(h.Quantile(q) - exact) / exact, 0.01) << "q=" << q;
    }
    double sum = 0;
    for (double v : d.values) sum += v;
    EXPECT_NEAR(h.Mean(), sum / static_cast<double>(d.values.size()), 1e-9 * h.Mean());
  }
}

TEST(ExpHistogramTest, WideRangeKeepsScaleAtLeastSix) {
  ExpHistogram h;
  h.Record(1.0);
  h.Record(std::exp2(31.99));  // 4096 buckets of scale 7 span a ratio just under 2^32
  EXPECT_EQ(h.scale(), 7);
  h.Record(std::exp2(32.01));
  EXPECT_EQ(h.scale(), 6);
  h.Record(std::ldexp(1.0, 63));
  EXPECT_GE(h.scale(), 6);
}

TEST(ExpHistogramTest, MappingAtPowersOfTwoAndBoundaries) {
  // Upper-inclusive buckets: 1.0 closes bucket -1, 2.0 closes bucket 2^s - 1.
  for (int scale : {1, 3, 6, 20}) {
    EXPECT_EQ(ExpHistogram::MapToIndex(1.0, scale), -1);
    EXPECT_EQ(ExpHistogram::MapToIndex(2.0, scale), (1 << scale) - 1);
    EXPECT_EQ(ExpHistogram::MapToIndex(0.5, scale), -(1 << scale) - 1);
    EXPECT_EQ(ExpHistogram::MapToIndex(std::nextafter(1.0, 2.0), scale), 0);
  }
  EXPECT_EQ(ExpHistogram::MapToIndex(1.0, 0), -1);
  EXPECT_EQ(ExpHistogram::MapToIndex(2.0, 0), 0);
  EXPECT_EQ(ExpHistogram::MapToIndex(3.0, 0), 1);
  EXPECT_EQ(ExpHistogram::MapToIndex(4.0, 0), 1);
  EXPECT_EQ(ExpHistogram::MapToIndex(4.0, -1), 0);
  EXPECT_EQ(ExpHistogram::MapToIndex(5.0, -1), 1);
  EXPECT_DOUBLE_EQ(ExpHistogram::LowerBoundary(0, 3), 1.0);
  EXPECT_DOUBLE_EQ(ExpHistogram::LowerBoundary(8, 3), 2.0);
  EXPECT_DOUBLE_EQ(ExpHistogram::LowerBoundary(-8, 3), 0.5);
  EXPECT_DOUBLE_EQ(ExpHistogram::LowerBoundary(2, -1), 16.0);
}

TEST(ExpHistogramTest, MappingIsConsistentAcrossScalesAndWithinBounds) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-30, 40);
  for (int i = 0; i < 20000; ++i) {
    const double v = std::exp2(exponent(rng));
    const int32_t top = ExpHistogram::MapToIndex(v, 20);
    for (int scale = 19; scale >= -4; --scale) {
      ASSERT_EQ(ExpHistogram::MapToIndex(v, scale), top >> (20 - scale)) << v << " @" << scale;
    }
    for (int scale : {0, 6, 10}) {
      const int32_t idx = ExpHistogram::MapToIndex(v, scale);
      const double lo = ExpHistogram::LowerBoundary(idx, scale);
      const double hi = ExpHistogram::LowerBoundary(idx + 1, scale);
      // Bucket (lo, hi], up to rounding of exp2/log2 right at a boundary.
      EXPECT_GT(v, lo * (1 - 1e-12));
      EXPECT_LE(v, hi * (1 + 1e-12));
    }
  }
}

TEST(ExpHistogramTest, DownscaleMatchesDirectMappingAtFinalScale) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> exponent(0, 36);
  std::vector<double> values;
  ExpHistogram h;
  // Growing spread forces several downscales along the way.
  for (int i = 0; i < 50000; ++i) {
    const double v = std::exp2(exponent(rng) * i / 50000.0) * 1000.0;
    values.push_back(v);
    h.Record(v);
  }
  ASSERT_LT(h.scale(), ExpHistogram::kMaxScale);
  std::map<int32_t, uint64_t> expected;
  for (double v : values) ++expected[ExpHistogram::MapToIndex(v, h.scale())];
  EXPECT_EQ(h.positive_offset(), expected.begin()->first);
  EXPECT_EQ(h.positive_offset() + h.positive_bucket_count() - 1, expected.rbegin()->first);
  for (int32_t i = h.positive_offset(); i < h.positive_offset() + h.positive_bucket_count(); ++i) {
    auto it = expected.find(i);
    ASSERT_EQ(h.BucketCount(i), it == expected.end() ? 0u : it->second) << "bucket " << i;
  }
  EXPECT_LE(h.positive_bucket_count(), ExpHistogram::kMaxBuckets);
  // A histogram fed the same data at once from a fresh start ends identically.
  ExpHistogram sorted_order;
  std::sort(values.begin(), values.end());
  for (double v : values) sorted_order.Record(v);
  ExpectSameHistogram(sorted_order, h);
}

// The bucket array starts small and grows with the populated range, at both
// ends and across wrap-around of its circular layout; every step keeps the
// counts. Values within a narrow band first (no downscale), then wider on
// both sides, below 1 (negative indices) and above.
TEST(ExpHistogramTest, GrowingArrayKeepsEveryBucket) {
  std::mt19937_64 rng(11);
  std::vector<double> values;
  ExpHistogram h;
  for (int round = 0; round < 12; ++round) {
    const double spread = std::exp2(round) / 2048.0;  // 1/2048 .. 1 octave
    std::uniform_real_distribution<double> rel(-spread, spread);
    for (int i = 0; i < 200; ++i) {
      const double v = std::exp2(rel(rng)) * (round % 2 == 0 ? 1.0 : 0.999);
      values.push_back(v);
      h.Record(v);
    }
  }
  std::map<int32_t, uint64_t> expected;
  for (double v : values) ++expected[ExpHistogram::MapToIndex(v, h.scale())];
  EXPECT_EQ(h.positive_offset(), expected.begin()->first);
  EXPECT_EQ(h.positive_offset() + h.positive_bucket_count() - 1, expected.rbegin()->first);
  for (int32_t i = h.positive_offset(); i < h.positive_offset() + h.positive_bucket_count(); ++i) {
    auto it = expected.find(i);
    ASSERT_EQ(h.BucketCount(i), it == expected.end() ? 0u : it->second) << "bucket " << i;
  }
  // Merging a small array into a large one, and a large into a small one,
  // gives the histogram of the union either way.
  ExpHistogram one;
  one.Record(1.5);
  ExpHistogram big_into_small = one;
  big_into_small.Merge(h);
  ExpHistogram small_into_big = h;
  small_into_big.Merge(one);
  ExpHistogram all;
  for (double v : values) all.Record(v);
  all.Record(1.5);
  ExpectSameHistogram(all, small_into_big);
  ExpectSameHistogram(all, big_into_small);
}

TEST(ExpHistogramTest, DownscaleWithNegativeIndices) {
  ExpHistogram h;
  for (double v : {1e-3, 2e-3, 0.5, 0.9}) h.Record(v);  // all indices negative
  h.Record(1e-9);
  ExpHistogram expected;
  for (double v : {1e-9, 1e-3, 2e-3, 0.5, 0.9}) expected.Record(v);
  ExpectSameHistogram(h, expected);
  uint64_t total = 0;
  for (int32_t i = h.positive_offset(); i < h.positive_offset() + h.positive_bucket_count(); ++i) {
    total += h.BucketCount(i);
  }
  EXPECT_EQ(total, 5u);
  EXPECT_EQ(h.BucketCount(ExpHistogram::MapToIndex(1e-9, h.scale())), 1u);
}

TEST(ExpHistogramTest, MergeEqualsHistogramOfUnion) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> narrow(1000, 1001);     // stays at a high scale
  std::lognormal_distribution<double> wide(std::log(1e6), 3.0);  // forces a low scale
  std::vector<double> a_values, b_values;
  for (int i = 0; i < 5000; ++i) a_values.push_back(narrow(rng));
  for (int i = 0; i < 5000; ++i) b_values.push_back(wide(rng));
  b_values.push_back(0);
  ExpHistogram a, b, u;
  for (double v : a_values) a.Record(v);
  for (double v : b_values) b.Record(v);
  for (double v : a_values) u.Record(v);
  for (double v : b_values) u.Record(v);
  ASSERT_NE(a.scale(), b.scale());

  ExpHistogram ab = a;
  ab.Merge(b);
  ExpectSameHistogram(ab, u);
  ExpHistogram ba = b;
  ba.Merge(a);
  ExpectSameHistogram(ba, u);
  ExpHistogram empty;
  empty.Merge(u);
  ExpectSameHistogram(empty, u);
  ExpHistogram copy = u;
  copy.Merge(ExpHistogram());
  ExpectSameHistogram(copy, u);
}

TEST(ExpHistogramTest, MergeWhereUnionNeedsLowerScaleThanEither) {
  ExpHistogram a, b, u;
  for (double v : {1.0, 3.0, 1e4}) {
    a.Record(v);
    u.Record(v);
  }
  for (double v : {1e14, 3e15}) {
    b.Record(v);
    u.Record(v);
  }
  ASSERT_GT(std::min(a.scale(), b.scale()), u.scale());
  a.Merge(b);
  ExpectSameHistogram(a, u);
}

TEST(ExpHistogramTest, SelfMergeDoubles) {
  ExpHistogram h, expected;
  for (double v : {0.0, 5.0, 7.0, 1e6}) {
    h.Record(v);
    expected.Record(v);
    expected.Record(v);
  }
  h.Merge(h);
  ExpectSameHistogram(h, expected);
}

TEST(ExpHistogramTest, ZeroAndInvalidValues) {
  ExpHistogram h;
  for (int i = 0; i < 10; ++i) h.Record(0);
  h.Record(-5);  // recorded as zero
  h.Record(std::nan(""));
  h.Record(std::numeric_limits<double>::infinity());
  for (int i = 0; i < 9; ++i) h.Record(100);
  EXPECT_EQ(h.count(), 20u);
  EXPECT_EQ(h.zero_count(), 11u);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 100);
  EXPECT_EQ(h.Quantile(0.25), 0);
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_NEAR(h.Quantile(0.9), 100, 1);
  EXPECT_DOUBLE_EQ(h.sum(), 900);
  EXPECT_EQ(h.positive_bucket_count(), 1);
}

TEST(ExpHistogramTest, EmptyAndSingleValue) {
  ExpHistogram h;
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_EQ(h.Mean(), 0);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.positive_bucket_count(), 0);
  h.Record(123.456);
  for (double q : {0.0, 0.5, 0.99, 1.0}) EXPECT_EQ(h.Quantile(q), 123.456);
}

TEST(ExpHistogramTest, ResetRestoresFreshState) {
  ExpHistogram h;
  for (double v : {1.0, 1e12, 0.0}) h.Record(v);
  ASSERT_LT(h.scale(), ExpHistogram::kMaxScale);
  h.Reset();
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.zero_count(), 0u);
  EXPECT_EQ(h.scale(), ExpHistogram::kMaxScale);
  EXPECT_EQ(h.positive_bucket_count(), 0);
  ExpHistogram fresh;
  for (double v : {5.0, 5.5}) {
    h.Record(v);
    fresh.Record(v);
  }
  ExpectSameHistogram(h, fresh);
}

// Buckets of a histogram as (index → count) at its own scale.
std::map<int32_t, uint64_t> BucketsOf(const ExpHistogram& h) {
  std::map<int32_t, uint64_t> out;
  for (int32_t i = h.positive_offset(); i < h.positive_offset() + h.positive_bucket_count(); ++i) {
    if (h.BucketCount(i) != 0) out[i] = h.BucketCount(i);
  }
  return out;
}

TEST(ExpHistogramTest, FromPartsRoundTripsAndRejectsInconsistentParts) {
  ExpHistogram h;
  for (double v : {0.0, 1.5 * kUs, 20 * kUs, 3 * kSec, 7 * kSec}) h.Record(v);
  std::vector<uint64_t> counts;
  for (int32_t i = h.positive_offset(); i < h.positive_offset() + h.positive_bucket_count(); ++i) {
    counts.push_back(h.BucketCount(i));
  }
  counts.insert(counts.begin(), 0);  // a leading zero is trimmed
  auto back = ExpHistogram::FromParts(h.scale(), h.zero_count(), h.count(), h.sum(), h.min(),
                                      h.max(), h.positive_offset() - 1, counts);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->scale(), h.scale());
  EXPECT_EQ(back->count(), h.count());
  EXPECT_EQ(back->zero_count(), 1u);
  EXPECT_EQ(back->positive_offset(), h.positive_offset());
  EXPECT_EQ(BucketsOf(*back), BucketsOf(h));
  EXPECT_DOUBLE_EQ(back->Quantile(0.5), h.Quantile(0.5));
  EXPECT_FALSE(ExpHistogram::FromParts(h.scale(), 0, h.count(), 0, 0, 0, 0, counts));
  EXPECT_FALSE(ExpHistogram::FromParts(99, 1, h.count(), 0, 0, 0, 0, counts));
  // Merging rebuilt histograms works like merging the originals.
  ExpHistogram m = *back;
  m.Merge(h);
  EXPECT_EQ(m.count(), 2 * h.count());
}

TEST(ExpHistogramTest, DifferenceOfCumulativeHistogramsIsExactAcrossScaleChanges) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(std::log(5e6), 1.0);
  ExpHistogram cumulative, earlier, second;
  for (int i = 0; i < 1000; ++i) cumulative.Record(dist(rng));
  earlier = cumulative;
  // The second widens the range a lot, so the cumulative histogram downscales.
  for (int i = 0; i < 1000; ++i) {
    const double v = i % 100 == 0 ? 1e2 * (i + 1) : dist(rng) * (i % 7 == 0 ? 1e4 : 1);
    cumulative.Record(v);
    second.Record(v);
  }
  ASSERT_LT(cumulative.scale(), earlier.scale());
  auto d = ExpHistogram::Difference(cumulative, earlier);
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->count(), second.count());
  EXPECT_EQ(d->scale(), cumulative.scale());
  EXPECT_NEAR(d->sum(), second.sum(), second.sum() * 1e-9);
  // `second` recorded directly, its buckets downscaled to the same scale:
  // identical buckets.
  ASSERT_GE(second.scale(), d->scale());
  std::map<int32_t, uint64_t> expected;
  for (auto [i, c] : BucketsOf(second)) expected[i >> (second.scale() - d->scale())] += c;
  EXPECT_EQ(BucketsOf(*d), expected);
  EXPECT_EQ(d->zero_count(), second.zero_count());
  EXPECT_LE(d->min(), d->max());
  EXPECT_NEAR(d->Quantile(0.95), second.Quantile(0.95), second.Quantile(0.95) * 0.03);
  // Not a predecessor: more counts than the later one.
  EXPECT_FALSE(ExpHistogram::Difference(earlier, cumulative).has_value());
  // An empty predecessor: the later histogram itself.
  auto same = ExpHistogram::Difference(earlier, ExpHistogram());
  ASSERT_TRUE(same.has_value());
  EXPECT_EQ(BucketsOf(*same), BucketsOf(earlier));
}

// The sparse form of a histogram (its non-zero buckets), as the distributed
// run's wire carries it.
struct Sparse {
  ExpHistogram::SparseView view;
  std::vector<ExpHistogram::Bucket> buckets;
};

Sparse SparseOf(const ExpHistogram& h) {
  Sparse s;
  h.ForEachNonZeroBucket([&](ExpHistogram::Bucket b) { s.buckets.push_back(b); });
  s.view.scale = h.scale();
  s.view.count = h.count();
  s.view.zero_count = h.zero_count();
  s.view.sum = h.sum();
  s.view.min = h.min();
  s.view.max = h.max();
  s.view.buckets = s.buckets;
  return s;
}

TEST(ExpHistogramTest, MergeSparseEqualsMergeInEveryScaleRelation) {
  std::mt19937_64 rng(21);
  std::uniform_real_distribution<double> narrow(1000, 1001);     // a high scale
  std::lognormal_distribution<double> latency(std::log(20e6), 0.6);
  std::lognormal_distribution<double> wide(std::log(1e6), 3.0);  // a low scale
  auto make = [&](auto& dist, int n, int zeros) {
    ExpHistogram h;
    for (int i = 0; i < n; ++i) h.Record(dist(rng));
    for (int i = 0; i < zeros; ++i) h.Record(0);
    return h;
  };
  std::vector<ExpHistogram> hs;
  hs.push_back(ExpHistogram());                 // empty
  hs.push_back(make(narrow, 0, 3));             // zeros only
  hs.push_back(make(narrow, 50, 0));            // target scale above the delta's
  hs.push_back(make(latency, 30, 1));           // a second's delta of a latency trend
  hs.push_back(make(latency, 20000, 0));        // its cumulative
  hs.push_back(make(wide, 5000, 2));            // below every other's scale
  ExpHistogram far;                             // union needs a lower scale than either
  for (double v : {1e14, 3e15}) far.Record(v);
  hs.push_back(far);
  ExpHistogram negative;                        // negative indices
  for (double v : {1e-6, 3e-5, 0.5}) negative.Record(v);
  hs.push_back(negative);
  for (size_t i = 0; i < hs.size(); ++i) {
    for (size_t j = 0; j < hs.size(); ++j) {
      SCOPED_TRACE("target " + std::to_string(i) + ", delta " + std::to_string(j));
      const Sparse delta = SparseOf(hs[j]);
      ASSERT_TRUE(delta.view.IsValid());
      ExpHistogram want = hs[i];
      want.Merge(hs[j]);
      ExpHistogram got = hs[i];
      got.MergeSparse(delta.view);
      ExpectSameHistogram(got, want);
      // Merging again (a warm target, the steady state) stays equal.
      want.Merge(hs[j]);
      got.MergeSparse(delta.view);
      ExpectSameHistogram(got, want);
    }
  }
}

TEST(ExpHistogramTest, MergeSparseOfEverySecondEqualsOneHistogramOfEverySample) {
  std::mt19937_64 rng(5);
  std::lognormal_distribution<double> latency(std::log(20e6), 0.8);
  ExpHistogram whole, merged, cumulative, previous;
  for (int second = 0; second < 30; ++second) {
    for (int i = 0; i < 40 + second * 7; ++i) {
      const double v = second == 17 && i == 0 ? 90e9 : latency(rng);  // a late outlier
      whole.Record(v);
      cumulative.Record(v);
    }
    const auto delta = ExpHistogram::Difference(cumulative, previous);
    ASSERT_TRUE(delta.has_value());
    merged.MergeSparse(SparseOf(*delta).view);
    previous = cumulative;
  }
  ExpectSameHistogram(merged, whole);
  EXPECT_EQ(merged.min(), whole.min());
  EXPECT_EQ(merged.max(), whole.max());
}

TEST(ExpHistogramTest, FromSparseRoundTripsAndRejectsInvalidViews) {
  ExpHistogram h;
  for (double v : {0.0, 1.5 * kUs, 20 * kUs, 3 * kSec, 7 * kSec}) h.Record(v);
  Sparse s = SparseOf(h);
  auto back = ExpHistogram::FromSparse(s.view);
  ASSERT_TRUE(back.has_value());
  ExpectSameHistogram(*back, h);
  EXPECT_EQ(back->min(), h.min());

  auto invalid = [&](auto&& change) {
    Sparse bad = SparseOf(h);
    change(bad);
    bad.view.buckets = bad.buckets;
    EXPECT_FALSE(bad.view.IsValid());
    EXPECT_FALSE(ExpHistogram::FromSparse(bad.view).has_value());
  };
  invalid([](Sparse& x) { x.view.count += 1; });               // counts do not add up
  invalid([](Sparse& x) { x.view.scale = 21; });               // scale out of range
  invalid([](Sparse& x) { x.buckets[1].count = 0; });          // a zero bucket listed
  invalid([](Sparse& x) { std::swap(x.buckets[0], x.buckets[1]); });  // not increasing
  invalid([](Sparse& x) { x.buckets.back().index = x.buckets.front().index + 4096; });  // too wide
  invalid([](Sparse& x) { std::swap(x.view.min, x.view.max); });  // min above max
  invalid([](Sparse& x) { x.buckets.back().index = std::numeric_limits<int32_t>::max(); });

  // An empty view is valid and builds an empty histogram at its scale.
  ExpHistogram::SparseView empty;
  empty.scale = 3;
  auto e = ExpHistogram::FromSparse(empty);
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->count(), 0u);
  EXPECT_EQ(e->scale(), 3);
  EXPECT_GT(e->bucket_bytes(), 0u);
}

}  // namespace
}  // namespace stampede::metrics
