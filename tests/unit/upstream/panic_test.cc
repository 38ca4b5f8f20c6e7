#include "proxy/upstream/panic.h"

#include <gtest/gtest.h>

#include <limits>

namespace outrigger::upstream {
namespace {

TEST(PanicTest, PanicsBelowTheThreshold) {
  EXPECT_TRUE(InPanic(4, 10, 50));
  EXPECT_TRUE(InPanic(1, 10, 50));
}

TEST(PanicTest, NoUsableBackendIsNotPanic) {
  // Nothing is left to protect: the pool answers 503 rather than use backends known down.
  EXPECT_FALSE(InPanic(0, 10, 50));
  EXPECT_FALSE(InPanic(0, 1, 100));
}

TEST(PanicTest, ExactlyAtTheThresholdIsNotPanic) {
  EXPECT_FALSE(InPanic(5, 10, 50));
  EXPECT_FALSE(InPanic(1, 2, 50));
}

TEST(PanicTest, AllUsableIsNeverPanic) {
  EXPECT_FALSE(InPanic(10, 10, 100));
  EXPECT_FALSE(InPanic(3, 3, 50));
}

TEST(PanicTest, HundredPercentPanicsOnAnyUnusableBackend) { EXPECT_TRUE(InPanic(9, 10, 100)); }

TEST(PanicTest, ZeroThresholdDisablesPanic) {
  EXPECT_FALSE(InPanic(0, 10, 0));
  EXPECT_FALSE(InPanic(0, 10, -5));
  EXPECT_FALSE(InPanic(0, 10, std::numeric_limits<double>::quiet_NaN()));
}

TEST(PanicTest, EmptyPoolIsNotPanic) { EXPECT_FALSE(InPanic(0, 0, 50)); }

TEST(PanicTest, MoreUsableThanTotalIsNotPanic) { EXPECT_FALSE(InPanic(11, 10, 50)); }

TEST(PanicTest, FractionalThresholdsCompareExactly) {
  EXPECT_TRUE(InPanic(1, 3, 33.34));
  EXPECT_FALSE(InPanic(1, 3, 33.33));
}

}  // namespace
}  // namespace outrigger::upstream
