#include "proxy/metrics/histogram_buckets.h"

#include <gtest/gtest.h>

#include <limits>

namespace outrigger::metrics {
namespace {

TEST(HistogramBucketsTest, BucketIndexPutsBoundaryValuesInTheirBucket) {
  for (size_t i = 0; i < kLatencyBoundsNs.size(); ++i) {
    const int64_t bound = kLatencyBoundsNs[i];
    EXPECT_EQ(BucketIndex(bound), i) << "le is inclusive at " << bound;
    EXPECT_EQ(BucketIndex(bound + 1), i + 1) << "just above " << bound;
    if (i > 0) {
      EXPECT_EQ(BucketIndex(kLatencyBoundsNs[i - 1] + 1), i);
    }
  }
}

TEST(HistogramBucketsTest, BucketIndexCoversTheEnds) {
  EXPECT_EQ(BucketIndex(0), 0u);
  EXPECT_EQ(BucketIndex(-5), 0u);
  EXPECT_EQ(BucketIndex(999'999), 0u);
  EXPECT_EQ(BucketIndex(10'000'000'001), kLatencyBucketCount - 1);
  EXPECT_EQ(BucketIndex(std::numeric_limits<int64_t>::max()), kLatencyBucketCount - 1);
}

TEST(HistogramBucketsTest, BucketsAreTheContractsThirteenBounds) {
  EXPECT_EQ(kLatencyBucketCount, 14u);
  EXPECT_DOUBLE_EQ(kLatencyBoundsSeconds.front(), 0.001);
  EXPECT_DOUBLE_EQ(kLatencyBoundsSeconds.back(), 10.0);
  static_assert(BucketIndex(25'000'000) == 4);
}

}  // namespace
}  // namespace outrigger::metrics
