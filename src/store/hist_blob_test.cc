#include "store/hist_blob.h"

#include <gtest/gtest.h>

#include <random>

namespace stampede::store {
namespace {

TEST(HistBlobTest, RoundTripsEveryPart) {
  metrics::ExpHistogram h;
  std::mt19937_64 rng(1);
  std::lognormal_distribution<double> dist(15, 2);
  for (int i = 0; i < 5000; ++i) h.Record(dist(rng));
  h.Record(0);
  const std::string blob = EncodeHistBlob(h);
  EXPECT_EQ(static_cast<uint8_t>(blob[0]), kHistBlobVersion);
  auto back = DecodeHistBlob(blob);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->scale(), h.scale());
  EXPECT_EQ(back->count(), h.count());
  EXPECT_EQ(back->zero_count(), 1u);
  EXPECT_EQ(back->sum(), h.sum());
  EXPECT_EQ(back->min(), h.min());
  EXPECT_EQ(back->max(), h.max());
  EXPECT_EQ(back->positive_offset(), h.positive_offset());
  EXPECT_EQ(back->positive_bucket_count(), h.positive_bucket_count());
  for (int32_t i = h.positive_offset(); i < h.positive_offset() + h.positive_bucket_count(); ++i) {
    ASSERT_EQ(back->BucketCount(i), h.BucketCount(i)) << i;
  }
  EXPECT_EQ(back->Quantile(0.99), h.Quantile(0.99));
  EXPECT_EQ(EncodeHistBlob(*back), blob);
}

TEST(HistBlobTest, EmptyHistogramAndExactBytes) {
  metrics::ExpHistogram h;
  h.Record(1.0);  // index -1 at scale 20 (upper-inclusive buckets)
  const std::string blob = EncodeHistBlob(h);
  // version, zigzag(20)=40, zero 0, count 1, 3 doubles, zigzag(offset), n=1, count 1 << 1
  ASSERT_EQ(blob.size(), 1 + 1 + 1 + 1 + 24 + 1 + 1 + 1u);
  EXPECT_EQ(static_cast<uint8_t>(blob[1]), 40);
  EXPECT_EQ(static_cast<uint8_t>(blob[28]), 1);  // zigzag(-1) = 1
  EXPECT_EQ(static_cast<uint8_t>(blob[29]), 1);  // n
  EXPECT_EQ(static_cast<uint8_t>(blob[30]), 2);  // count 1, even
  // Two values far apart: count, a run of empty buckets, count.
  metrics::ExpHistogram two;
  two.Record(1.0);
  two.Record(1.001);
  const std::string sparse = EncodeHistBlob(two);
  const int32_t n = two.positive_bucket_count();
  ASSERT_GT(n, 2);
  EXPECT_EQ(static_cast<uint8_t>(sparse[sparse.size() - 1]), 2);  // last bucket: 1
  auto back = DecodeHistBlob(sparse);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->BucketCount(two.positive_offset() + n - 1), 1u);
  EXPECT_LT(sparse.size(), 40u);
  auto empty = DecodeHistBlob(EncodeHistBlob(metrics::ExpHistogram()));
  ASSERT_TRUE(empty.has_value());
  EXPECT_EQ(empty->count(), 0u);
}

TEST(HistBlobTest, RejectsMalformedBlobs) {
  metrics::ExpHistogram h;
  h.Record(5);
  h.Record(500);
  const std::string blob = EncodeHistBlob(h);
  EXPECT_FALSE(DecodeHistBlob(""));
  EXPECT_FALSE(DecodeHistBlob(std::string("\x02") + blob.substr(1)));  // unknown version
  for (size_t n = 1; n < blob.size(); ++n) EXPECT_FALSE(DecodeHistBlob(blob.substr(0, n))) << n;
  EXPECT_FALSE(DecodeHistBlob(blob + "x"));  // trailing bytes
  std::string wrong_count = blob;
  wrong_count[3] = 3;  // count 3, buckets say 2
  EXPECT_FALSE(DecodeHistBlob(wrong_count));
  std::string zero_item = blob;
  zero_item[zero_item.size() - 1] = 0;  // a count item of 0 is not allowed
  EXPECT_FALSE(DecodeHistBlob(zero_item));
}

}  // namespace
}  // namespace stampede::store
