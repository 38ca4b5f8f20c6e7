#include "proxy/balance/peak_ewma.h"

#include <cmath>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class PeakEwmaTest : public ::testing::Test {
 protected:
  Pool pool_;
  upstream::Backend& b_ = pool_.Add("b");
};

TEST_F(PeakEwmaTest, IsZeroUntilTheFirstObservation) { EXPECT_EQ(EwmaCost(b_, kT0), 0.0); }

TEST_F(PeakEwmaTest, TakesTheFirstObservationAsIs) {
  ObserveLatency(b_, 10 * kMs, kT0);
  EXPECT_DOUBLE_EQ(EwmaCost(b_, kT0), 10.0 * kMs);
}

TEST_F(PeakEwmaTest, JumpsToAPeakAtOnce) {
  ObserveLatency(b_, 10 * kMs, kT0);
  ObserveLatency(b_, 50 * kMs, kT0 + 1);
  EXPECT_DOUBLE_EQ(EwmaCost(b_, kT0 + 1), 50.0 * kMs);
}

TEST_F(PeakEwmaTest, DecaysTowardsLowerObservationsWithTimeConstantTau) {
  ObserveLatency(b_, 50 * kMs, kT0);
  // One τ later, e^-1 of the old estimate remains.
  ObserveLatency(b_, 10 * kMs, kT0 + 10 * kSecond);
  const double expected = 50.0 * kMs * std::exp(-1.0) + 10.0 * kMs * (1 - std::exp(-1.0));
  EXPECT_NEAR(EwmaCost(b_, kT0 + 10 * kSecond), expected, 1.0);
}

TEST_F(PeakEwmaTest, BarelyMovesForALowObservationSoonAfterAPeak) {
  ObserveLatency(b_, 50 * kMs, kT0);
  ObserveLatency(b_, 10 * kMs, kT0 + 10 * kMs);  // Δt = τ/1000
  EXPECT_GT(EwmaCost(b_, kT0 + 10 * kMs), 49.9 * kMs);
}

TEST_F(PeakEwmaTest, DecaysTowardsZeroWhileUnobservedSoAShunnedBackendIsRetried) {
  ObserveLatency(b_, 30 * kMs, kT0);
  EXPECT_NEAR(EwmaCost(b_, kT0 + 10 * kSecond), 30.0 * kMs * std::exp(-1.0), 1.0);
  EXPECT_LT(EwmaCost(b_, kT0 + 60 * kSecond), 0.1 * kMs);
}

TEST_F(PeakEwmaTest, KeepsEveryPeakUnderConcurrentObservers) {
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([this, w] {
      for (int i = 0; i < 10'000; ++i) ObserveLatency(b_, (1 + (i + w) % 7) * kMs, kT0 + i);
    });
  }
  for (std::thread& t : workers) t.join();
  ObserveLatency(b_, 99 * kMs, kT0 + 20'000);
  EXPECT_DOUBLE_EQ(EwmaCost(b_, kT0 + 20'000), 99.0 * kMs);
}

}  // namespace
}  // namespace outrigger::balance
