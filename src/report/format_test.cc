#include "report/format.h"

#include <gtest/gtest.h>

namespace stampede::report {
namespace {

TEST(FormatTest, DurationsLikeK6) {
  EXPECT_EQ(FormatDurationNs(0), "0s");
  EXPECT_EQ(FormatDurationNs(999), "999ns");
  EXPECT_EQ(FormatDurationNs(1500.4), "1.5µs");
  EXPECT_EQ(FormatDurationNs(210'000), "210µs");
  EXPECT_EQ(FormatDurationNs(850'000), "850µs");
  EXPECT_EQ(FormatDurationNs(158'300), "158.3µs");
  EXPECT_EQ(FormatDurationNs(1'000'000), "1ms");
  EXPECT_EQ(FormatDurationNs(1'230'000), "1.23ms");
  EXPECT_EQ(FormatDurationNs(1'234'999), "1.23ms");
  EXPECT_EQ(FormatDurationNs(1'235'000), "1.24ms");  // rounded to nearest
  EXPECT_EQ(FormatDurationNs(1'999'700), "2ms");
  EXPECT_EQ(FormatDurationNs(999'996), "1ms");
  EXPECT_EQ(FormatDurationNs(1'204'999), "1.2ms");
  EXPECT_EQ(FormatDurationNs(1'100'000'000), "1.1s");
  EXPECT_EQ(FormatDurationNs(2'500'000'000), "2.5s");
  EXPECT_EQ(FormatDurationNs(59'989'999'999), "59.99s");
  EXPECT_EQ(FormatDurationNs(59'999'999'999), "1m0s");
  EXPECT_EQ(FormatDurationNs(60e9), "1m0s");
  EXPECT_EQ(FormatDurationNs(90e9), "1m30s");
  EXPECT_EQ(FormatDurationNs(90.4e9), "1m30s");
  EXPECT_EQ(FormatDurationNs(90.7e9), "1m31s");
  EXPECT_EQ(FormatDurationNs(3605e9), "1h0m5s");
  EXPECT_EQ(FormatDurationNs(-2'500'000), "-2.5ms");
}

TEST(FormatTest, BytesLikeK6) {
  EXPECT_EQ(FormatBytes(0), "0 B");
  EXPECT_EQ(FormatBytes(9), "9 B");
  EXPECT_EQ(FormatBytes(9.9), "9 B");
  EXPECT_EQ(FormatBytes(10), "10 B");
  EXPECT_EQ(FormatBytes(718), "718 B");
  EXPECT_EQ(FormatBytes(2000), "2.0 kB");
  EXPECT_EQ(FormatBytes(4'900), "4.9 kB");
  EXPECT_EQ(FormatBytes(31'000), "31 kB");
  EXPECT_EQ(FormatBytes(1'250'000), "1.3 MB");
  EXPECT_EQ(FormatBytes(12'000'000), "12 MB");
  EXPECT_EQ(FormatBytes(94e6), "94 MB");
  EXPECT_EQ(FormatBytes(3.2e9), "3.2 GB");
  EXPECT_EQ(FormatBytes(-1), "0 B");
}

TEST(FormatTest, NumbersAndPercentages) {
  EXPECT_EQ(FormatNumber(12034), "12034");
  EXPECT_EQ(FormatNumber(1203.4), "1203.4");
  EXPECT_EQ(FormatNumber(1.0 / 3), "0.333333");
  EXPECT_EQ(FormatNumber(4.36938), "4.36938");
  EXPECT_EQ(FormatNumber(-1e-9), "0");
  EXPECT_EQ(FormatNumber(-2.5), "-2.5");
  EXPECT_EQ(FormatPercent(0, 12034), "0.00%");
  EXPECT_EQ(FormatPercent(2, 3), "66.66%");
  EXPECT_EQ(FormatPercent(29, 100), "29.00%");
  EXPECT_EQ(FormatPercent(1, 1), "100.00%");
  EXPECT_EQ(FormatPercent(0, 0), "0.00%");
}

TEST(FormatTest, ValueByTypeAndWidth) {
  EXPECT_EQ(FormatValue(1'500'000, metrics::ValueType::kTime), "1.5ms");
  EXPECT_EQ(FormatValue(1'500'000, metrics::ValueType::kData), "1.5 MB");
  EXPECT_EQ(FormatValue(1'500'000, metrics::ValueType::kDefault), "1500000");
  EXPECT_EQ(DisplayWidth("850µs"), 5u);
  EXPECT_EQ(DisplayWidth("✓ 0"), 3u);
}

}  // namespace
}  // namespace stampede::report
