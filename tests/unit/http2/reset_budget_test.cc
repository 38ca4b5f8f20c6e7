#include "proxy/http2/reset_budget.h"

#include <gtest/gtest.h>

namespace outrigger::http2 {
namespace {

// Takes until the budget refuses; how many it granted.
int Drain(ResetBudget& b, int64_t now) {
  int n = 0;
  while (b.Take(now) && n < 1000000) ++n;
  return n;
}

TEST(ResetBudgetTest, TheBurstIsGrantedAtOnceAndNoMore) {
  ResetBudget b(1000, 33);
  EXPECT_EQ(Drain(b, 5), 1000);
  EXPECT_FALSE(b.Take(5));
}

TEST(ResetBudgetTest, EachSecondRefillsTheRate) {
  ResetBudget b(1000, 33);
  Drain(b, 5);
  EXPECT_EQ(Drain(b, 6), 33);
  EXPECT_EQ(Drain(b, 9), 3 * 33);
}

TEST(ResetBudgetTest, TheRefillStopsAtTheBurst) {
  ResetBudget b(100, 33);
  Drain(b, 0);
  EXPECT_EQ(Drain(b, 3600), 100);
}

TEST(ResetBudgetTest, AClockGoingBackwardsGrantsNothingExtra) {
  ResetBudget b(10, 5);
  Drain(b, 100);
  EXPECT_FALSE(b.Take(50));
  EXPECT_EQ(Drain(b, 101), 5) << "measured from second 100, not from 50";
}

}  // namespace
}  // namespace outrigger::http2
