#include "proxy/upstream/retry_budget.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace outrigger::upstream {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

class RetryBudgetTest : public ::testing::Test {
 protected:
  static void Requests(RetryBudget& budget, int n, int64_t at) {
    for (int i = 0; i < n; ++i) budget.OnRequest(at);
  }
  // Tries `n` retries at `at` and returns how many were allowed.
  static int Retries(RetryBudget& budget, int n, int64_t at) {
    int allowed = 0;
    for (int i = 0; i < n; ++i) allowed += budget.TryRetry(at);
    return allowed;
  }
};

TEST_F(RetryBudgetTest, BudgetRefusesRetriesBeyondPercent) {
  RetryBudget budget(20, 0);
  Requests(budget, 100, 0);
  EXPECT_EQ(Retries(budget, 20, 0), 20);
  EXPECT_FALSE(budget.TryRetry(0));
}

TEST_F(RetryBudgetTest, BudgetRoundsDown) {
  RetryBudget budget(20, 0);
  Requests(budget, 14, 0);
  EXPECT_EQ(Retries(budget, 10, 0), 2);
}

TEST_F(RetryBudgetTest, BudgetAllowsFloorWhenQuiet) {
  RetryBudget budget(20, 3);
  Requests(budget, 1, 0);
  EXPECT_EQ(Retries(budget, 5, 0), 3);
  EXPECT_EQ(Retries(budget, 5, kSecond), 3);
}

TEST_F(RetryBudgetTest, FloorNeedsNoRequestsAtAll) {
  RetryBudget budget(20, 3);
  EXPECT_EQ(Retries(budget, 5, 7 * kSecond), 3);
}

TEST_F(RetryBudgetTest, FloorRetriesCountTowardsThePercent) {
  RetryBudget budget(20, 3);
  Requests(budget, 100, 0);
  EXPECT_EQ(Retries(budget, 50, 0), 20);
}

TEST_F(RetryBudgetTest, ZeroPercentLeavesOnlyTheFloor) {
  RetryBudget budget(0, 2);
  Requests(budget, 1000, 0);
  EXPECT_EQ(Retries(budget, 10, 0), 2);
}

TEST_F(RetryBudgetTest, ZeroFloorAndNoRequestsRefuses) {
  RetryBudget budget(20, 0);
  EXPECT_FALSE(budget.TryRetry(0));
}

TEST_F(RetryBudgetTest, RetriesDoNotEarnBudget) {
  RetryBudget budget(50, 0);
  Requests(budget, 4, 0);
  EXPECT_EQ(Retries(budget, 10, 0), 2);
  EXPECT_FALSE(budget.TryRetry(kSecond));
}

TEST_F(RetryBudgetTest, BudgetWindowSlides) {
  RetryBudget budget(20, 0);
  Requests(budget, 100, 0);
  EXPECT_EQ(Retries(budget, 30, 0), 20);
  EXPECT_FALSE(budget.TryRetry(5 * kSecond));
  Requests(budget, 100, 5 * kSecond);
  EXPECT_EQ(Retries(budget, 10, 5 * kSecond), 10);
  // Second 0 stays in the window until second 10 begins: 200 requests allow 40 retries.
  EXPECT_EQ(Retries(budget, 30, 9 * kSecond + kSecond / 2), 10);
  // Second 0 has left: its 100 requests no longer pay for the 20 retries of seconds 5 and 9.
  EXPECT_FALSE(budget.TryRetry(10 * kSecond));
  // Second 5 has left too; fresh requests pay for retries again beside second 9's ten.
  Requests(budget, 100, 15 * kSecond);
  EXPECT_EQ(Retries(budget, 30, 15 * kSecond), 10);
}

TEST_F(RetryBudgetTest, SecondsOutsideTheWindowAreIgnoredBeforeTheirBucketIsReused) {
  RetryBudget budget(20, 0);
  Requests(budget, 100, 0);  // bucket 0
  // Second 12 uses bucket 2, leaving bucket 0 (second 0) stale but not yet overwritten.
  EXPECT_FALSE(budget.TryRetry(12 * kSecond));
}

TEST_F(RetryBudgetTest, LongIdleGapForgetsEverything) {
  RetryBudget budget(20, 0);
  Requests(budget, 100, 0);
  EXPECT_FALSE(budget.TryRetry(1000 * kSecond));  // same ring slot as second 0
  Requests(budget, 10, 1000 * kSecond);
  EXPECT_EQ(Retries(budget, 5, 1000 * kSecond), 2);
}

TEST_F(RetryBudgetTest, FloorIsPerSecond) {
  RetryBudget budget(0, 3);
  EXPECT_EQ(Retries(budget, 5, 0), 3);
  EXPECT_EQ(Retries(budget, 5, kSecond - 1), 0);
  EXPECT_EQ(Retries(budget, 5, kSecond), 3);
}

}  // namespace
}  // namespace outrigger::upstream
