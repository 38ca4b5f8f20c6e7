#include "proxy/upstream/health_state.h"

#include <gtest/gtest.h>

#include <vector>

namespace outrigger::upstream {
namespace {

using Initial = HealthState::Initial;

// Feeds results in order and returns what each one reported, so a test reads as the probe
// timeline it describes.
std::vector<HealthChange> Feed(HealthState& state, const std::vector<bool>& results) {
  std::vector<HealthChange> changes;
  for (bool ok : results) changes.push_back(state.Observe(ok));
  return changes;
}

constexpr HealthChange kNo = HealthChange::kUnchanged;
constexpr HealthChange kUp = HealthChange::kBecameHealthy;
constexpr HealthChange kDown = HealthChange::kBecameUnhealthy;

TEST(HealthStateTest, StartsHealthyWhenToldTo) {
  HealthState state(3, 2, Initial::kHealthy);
  EXPECT_TRUE(state.healthy());
  EXPECT_EQ(state.Observe(true), kNo);
  EXPECT_TRUE(state.healthy());
}

TEST(HealthStateTest, FallFlipsOnlyOnceAndReportsIt) {
  HealthState state(3, 2, Initial::kHealthy);
  EXPECT_EQ(Feed(state, {false, false, false, false, false}),
            (std::vector<HealthChange>{kNo, kNo, kDown, kNo, kNo}));
  EXPECT_FALSE(state.healthy());
}

TEST(HealthStateTest, SuccessBetweenFailuresRestartsTheFallCount) {
  HealthState state(3, 2, Initial::kHealthy);
  EXPECT_EQ(Feed(state, {false, false, true, false, false}),
            (std::vector<HealthChange>{kNo, kNo, kNo, kNo, kNo}));
  EXPECT_TRUE(state.healthy());
  EXPECT_EQ(state.Observe(false), kDown);
}

TEST(HealthStateTest, RiseNeedsConsecutiveSuccesses) {
  HealthState state(1, 3, Initial::kHealthy);
  ASSERT_EQ(state.Observe(false), kDown);
  EXPECT_EQ(Feed(state, {true, true, false, true, true, true, true}),
            (std::vector<HealthChange>{kNo, kNo, kNo, kNo, kNo, kUp, kNo}));
  EXPECT_TRUE(state.healthy());
}

TEST(HealthStateTest, FallOfOneFlipsOnTheFirstFailure) {
  HealthState state(1, 1, Initial::kHealthy);
  EXPECT_EQ(Feed(state, {false, true, false}), (std::vector<HealthChange>{kDown, kUp, kDown}));
}

TEST(HealthStateTest, ZeroThresholdsActAsOne) {
  HealthState state(0, 0, Initial::kHealthy);
  EXPECT_EQ(Feed(state, {false, true}), (std::vector<HealthChange>{kDown, kUp}));
}

TEST(HealthStateTest, UnhealthyUntilFirstSuccessNeedsOnlyOneSuccessAtStart) {
  HealthState state(1, 2, Initial::kUnhealthyUntilFirstSuccess);
  EXPECT_FALSE(state.healthy());
  EXPECT_EQ(state.Observe(true), kUp);
  EXPECT_TRUE(state.healthy());
}

TEST(HealthStateTest, FailedFirstProbeThenNeedsTheFullRise) {
  HealthState state(1, 2, Initial::kUnhealthyUntilFirstSuccess);
  EXPECT_EQ(Feed(state, {false, true, true}), (std::vector<HealthChange>{kNo, kNo, kUp}));
}

TEST(HealthStateTest, OnlyTheVeryFirstProbeIsShortened) {
  HealthState state(1, 2, Initial::kUnhealthyUntilFirstSuccess);
  EXPECT_EQ(Feed(state, {true, false, true, true}),
            (std::vector<HealthChange>{kUp, kDown, kNo, kUp}));
}

TEST(HealthStateTest, UnhealthyStartNeedsTheFullRise) {
  HealthState state(3, 2, Initial::kUnhealthy);
  EXPECT_FALSE(state.healthy());
  EXPECT_EQ(Feed(state, {true, true}), (std::vector<HealthChange>{kNo, kUp}));
}

TEST(HealthStateTest, FailuresWhileUnhealthyReportNothing) {
  HealthState state(3, 2, Initial::kUnhealthy);
  EXPECT_EQ(Feed(state, {false, false, false, false}),
            (std::vector<HealthChange>{kNo, kNo, kNo, kNo}));
  EXPECT_FALSE(state.healthy());
}

TEST(HealthStateTest, FlappingBackendFlipsOncePerThresholdRun) {
  HealthState state(2, 2, Initial::kHealthy);
  EXPECT_EQ(Feed(state, {false, false, true, true, false, false, true, true}),
            (std::vector<HealthChange>{kNo, kDown, kNo, kUp, kNo, kDown, kNo, kUp}));
}

}  // namespace
}  // namespace outrigger::upstream
