#include "proxy/balance/slow_start.h"

#include <chrono>
#include <string>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

using std::chrono::seconds;

class SlowStartTest : public ::testing::Test {
 protected:
  // Backend "b" (weight 4) became available at kT0; the window is 10 s.
  SlowStartTest() { pool_.Add("b", 4).set_available_since_ns(kT0); }

  const Member& b() const { return pool_.members()[0]; }

  Pool pool_;
  SlowStart ramp_{seconds(10)};
};

TEST_F(SlowStartTest, RampsTheWeightLinearlyOverTheWindow) {
  const uint64_t full = 4 * kWeightScale;
  EXPECT_EQ(ramp_.Points(b(), kT0), 1u);  // floor: never 0, so it stays eligible
  EXPECT_EQ(ramp_.Points(b(), kT0 + 10 * kSecond / 4), full / 4);
  EXPECT_EQ(ramp_.Points(b(), kT0 + 10 * kSecond / 2), full / 2);
  EXPECT_EQ(ramp_.Points(b(), kT0 + 10 * kSecond), full);
  EXPECT_EQ(ramp_.Points(b(), kT0 + 3600 * kSecond), full);
}

TEST_F(SlowStartTest, GivesFullWeightWithoutAWindow) {
  EXPECT_EQ(SlowStart(seconds(0)).Points(b(), kT0), 4 * kWeightScale);
}

TEST_F(SlowStartTest, GivesFullWeightToABackendAvailableSinceStartUp) {
  pool_["b"].set_available_since_ns(0);
  EXPECT_EQ(ramp_.Points(b(), kT0), 4 * kWeightScale);
}

TEST_F(SlowStartTest, TreatsAClockBeforeTheRecoveryAsTheRampsStart) {
  EXPECT_EQ(ramp_.Points(b(), kT0 - kSecond), 1u);
}

// A recovered backend 25% into its ramp has a quarter of its weight: next to an equal
// backend at full weight it takes 0.25 / 1.25 = 20% of the picks, in every policy that
// weighs (ip_hash keeps affinity instead; see ip_hash.cc and its test).
class SlowStartPolicyTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(SlowStartPolicyTest, GivesARecoveredBackendProportionallyFewerPicksDuringTheRamp) {
  Pool pool;
  pool.Add("steady");
  pool.Add("recovered").set_available_since_ns(kT0);
  PolicyOptions options;
  options.slow_start = seconds(20);
  options.seed = 7;
  auto policy = pool.Make(GetParam(), options);

  const auto quarter = CountPicks(*policy, 100'000, At(kT0 + 5 * kSecond));
  const auto done = CountPicks(*policy, 100'000, At(kT0 + 20 * kSecond));
  std::printf("[measure] %s: recovered share at 25%% of ramp %.4f (expect 0.2000), after %.4f\n",
              std::string(GetParam()).c_str(), Share(quarter, "recovered"),
              Share(done, "recovered"));
  EXPECT_NEAR(Share(quarter, "recovered"), 0.20, 0.01);
  EXPECT_NEAR(Share(done, "recovered"), 0.50, 0.01);
}

TEST_P(SlowStartPolicyTest, SendsAlmostNothingAtTheStartOfTheRamp) {
  Pool pool;
  pool.Add("steady");
  pool.Add("recovered").set_available_since_ns(kT0);
  PolicyOptions options;
  options.slow_start = seconds(20);
  auto policy = pool.Make(GetParam(), options);
  EXPECT_LT(Share(CountPicks(*policy, 100'000, At(kT0)), "recovered"), 0.002);
}

INSTANTIATE_TEST_SUITE_P(WeighingPolicies, SlowStartPolicyTest,
                         ::testing::Values("round_robin", "least_conn", "random", "p2c_ewma"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace outrigger::balance
