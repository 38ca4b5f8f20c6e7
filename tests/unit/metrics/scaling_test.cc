#include "proxy/metrics/scaling.h"

#include <gtest/gtest.h>

#include <cmath>

namespace outrigger::metrics {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

// One pool ticked once a second; each Second() adds a second of the given load.
class Pool {
 public:
  Pool(int ready, double target, int min = 0, int max = 100,
       int64_t stable_ns = ScalingSignals::kDefaultStableWindowNs,
       int64_t panic_ns = ScalingSignals::kDefaultPanicWindowNs)
      : signals_(stable_ns, panic_ns) {
    input_.now_ns = 1'000 * kSecond;
    input_.ready_backends = ready;
    input_.target = target;
    input_.min_backends = min;
    input_.max_backends = max;
    last_ = signals_.Tick(input_);
  }

  ScalingInput& input() { return input_; }

  // A second at mean concurrency `concurrency` with `requests` client requests.
  const ScalingOutput& Second(double concurrency, uint64_t requests = 0) {
    input_.now_ns += kSecond;
    input_.busy_seconds += concurrency;
    input_.requests += requests;
    last_ = signals_.Tick(input_);
    return last_;
  }
  const ScalingOutput& Seconds(int n, double concurrency, uint64_t requests = 0) {
    for (int i = 0; i < n; ++i) Second(concurrency, requests);
    return last_;
  }

 private:
  ScalingSignals signals_;
  ScalingInput input_;
  ScalingOutput last_;
};

TEST(ScalingTest, UtilizationFollowsConcurrencyOverTarget) {
  Pool pool(/*ready=*/4, /*target=*/2);
  // Ten seconds of history stand in for the 60 s window.
  EXPECT_DOUBLE_EQ(pool.Seconds(10, 8).utilization, 1.0);
  const ScalingOutput& steady = pool.Seconds(60, 8);
  EXPECT_DOUBLE_EQ(steady.concurrency, 8);
  EXPECT_DOUBLE_EQ(steady.utilization, 1.0);
  EXPECT_DOUBLE_EQ(steady.desired, 4.0);
  EXPECT_FALSE(steady.panic);
  EXPECT_DOUBLE_EQ(pool.Seconds(30, 4).utilization, 0.75);  // half the window at each load
  EXPECT_DOUBLE_EQ(pool.Seconds(30, 4).utilization, 0.5);

  Pool empty(/*ready=*/0, /*target=*/2);  // no ready backend counts as one
  EXPECT_DOUBLE_EQ(empty.Seconds(60, 1).utilization, 0.5);

  Pool by_rps(/*ready=*/2, /*target=*/50);
  by_rps.input().kind = TargetKind::kRps;
  const ScalingOutput& rps = by_rps.Seconds(60, 0.5, 100);
  EXPECT_DOUBLE_EQ(rps.utilization, 1.0);
  EXPECT_DOUBLE_EQ(rps.desired, 2.0);
}

TEST(ScalingTest, PanicEntersOnDoubleDemandWithinSeconds) {
  Pool pool(/*ready=*/2, /*target=*/1);
  EXPECT_FALSE(pool.Seconds(60, 2).panic);
  EXPECT_FALSE(pool.Second(8).panic);           // C̄6 = 3: ceil(3) < 2·2
  const ScalingOutput& burst = pool.Second(8);  // C̄6 = 4: twice the ready capacity
  EXPECT_TRUE(burst.panic);
  EXPECT_DOUBLE_EQ(burst.desired, 4.0);  // C̄6/T, not the stable 2.2
  EXPECT_EQ(burst.recommended, 4);
}

TEST(ScalingTest, PanicHoldsSixtySecondsAfterTheBurst) {
  Pool pool(/*ready=*/2, /*target=*/1);
  pool.Seconds(60, 2);
  double previous = 0;
  for (int i = 0; i < 10; ++i) {
    const ScalingOutput& out = pool.Second(8);
    if (out.panic) {
      EXPECT_GE(out.desired, previous);
      previous = out.desired;
    }
  }
  ASSERT_TRUE(pool.Second(2).panic);
  // The condition holds while the burst dominates the 6 s window: C̄6 = ((6-k)·8 + 2k)/6 ≥ 4
  // (the ceiling's 2·R) up to k = 4 seconds after it.
  constexpr int kLastCondition = 4;
  for (int k = 2; k <= kLastCondition + 59; ++k) {
    const ScalingOutput& out = pool.Second(2);
    ASSERT_TRUE(out.panic) << k << " s after the burst";
    EXPECT_GE(out.desired, previous) << "panic never lowers desired";
    previous = out.desired;
  }
  const ScalingOutput& calm = pool.Second(2);
  EXPECT_FALSE(calm.panic);
  EXPECT_LT(calm.desired, previous);
}

TEST(ScalingTest, RecommendedIsClampedAndFallsBackAfterStableWindow) {
  Pool pool(/*ready=*/10, /*target=*/1, /*min=*/1, /*max=*/8);
  EXPECT_EQ(pool.Seconds(10, 0).recommended, 1);  // clamped up to min
  EXPECT_EQ(pool.Seconds(60, 5).recommended, 5);
  const ScalingOutput& high = pool.Seconds(60, 12);
  EXPECT_FALSE(high.panic);
  EXPECT_DOUBLE_EQ(high.desired, 12);
  EXPECT_EQ(high.recommended, 8);  // clamped down to max

  // Load drops to 3. D = C̄60/T slides from 12 to 3 over 60 s, and the recommendation is the
  // max of D over the last 60 s: it holds at max for that window, then follows D down.
  int previous = 8;
  for (int m = 1; m <= 130; ++m) {
    const int recommended = pool.Second(3).recommended;
    if (m <= 85) {
      EXPECT_EQ(recommended, 8) << m;
    }
    if (m >= 119) {
      EXPECT_EQ(recommended, 3) << m;
    }
    EXPECT_LE(recommended, previous) << m;
    previous = recommended;
  }
}

TEST(ScalingTest, ShorterWindowsScaleEverythingDown) {
  // stable_window 10 s, panic_window 2 s: the same shape as 60 s / 6 s, six times faster.
  Pool pool(/*ready=*/2, /*target=*/1, /*min=*/1, /*max=*/10, 10 * kSecond, 2 * kSecond);
  EXPECT_FALSE(pool.Seconds(10, 2).panic);
  EXPECT_EQ(pool.Second(2).recommended, 2);
  const ScalingOutput& burst = pool.Second(8);  // C̄2 = 5 ≥ 2·2 within one second
  EXPECT_TRUE(burst.panic);
  EXPECT_DOUBLE_EQ(burst.desired, 5.0);
  EXPECT_EQ(pool.Second(8).recommended, 8);
  int seconds_to_calm = 0;
  while (pool.Second(2).panic) ASSERT_LT(++seconds_to_calm, 30);
  // The condition last held 1 s after the burst; panic ends one stable window later.
  EXPECT_EQ(seconds_to_calm, 10);
  const ScalingOutput& after = pool.Seconds(10, 2);
  EXPECT_FALSE(after.panic);
  EXPECT_DOUBLE_EQ(after.desired, 2.0);
  EXPECT_EQ(after.recommended, 2);
}

TEST(ScalingTest, DesiredIsAdditiveAcrossProxies) {
  Pool whole(/*ready=*/4, /*target=*/2);
  Pool first(/*ready=*/4, /*target=*/2);
  Pool second(/*ready=*/4, /*target=*/2);
  for (int s = 0; s < 150; ++s) {
    const double load = 6 + 5 * std::sin(s / 7.0);  // below the panic threshold of 2·R·T
    const double share = 0.3 + 0.2 * std::cos(s / 3.0);
    const double d = whole.Second(load).desired;
    const double d1 = first.Second(load * share).desired;
    const double d2 = second.Second(load * (1 - share)).desired;
    EXPECT_NEAR(d1 + d2, d, 1e-9) << s;
  }
}

TEST(ScalingTest, RpsOverTenSeconds) {
  Pool pool(/*ready=*/1, /*target=*/1);
  EXPECT_DOUBLE_EQ(pool.Seconds(3, 0, 100).requests_per_second, 100);  // 3 s of history
  EXPECT_DOUBLE_EQ(pool.Seconds(20, 0, 100).requests_per_second, 100);
  EXPECT_DOUBLE_EQ(pool.Seconds(5, 0, 0).requests_per_second, 50);
  EXPECT_DOUBLE_EQ(pool.Seconds(5, 0, 0).requests_per_second, 0);
}

TEST(ScalingTest, FirstTickAndCounterResetHaveNoRates) {
  ScalingSignals signals;
  ScalingInput input;
  input.now_ns = kSecond;
  input.busy_seconds = 500;
  input.requests = 1'000;
  input.target = 1;
  input.min_backends = 2;
  input.max_backends = 4;
  ScalingOutput out = signals.Tick(input);
  EXPECT_EQ(out.concurrency, 0);
  EXPECT_EQ(out.requests_per_second, 0);
  EXPECT_EQ(out.recommended, 2);
  input.now_ns += kSecond;
  input.busy_seconds = 1;  // the counter restarted
  input.requests = 10;
  out = signals.Tick(input);
  EXPECT_EQ(out.concurrency, 0);
  EXPECT_EQ(out.requests_per_second, 0);
}

}  // namespace
}  // namespace outrigger::metrics
