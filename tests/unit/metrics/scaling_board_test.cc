#include "proxy/metrics/scaling_board.h"

#include <gtest/gtest.h>

#include <memory>

namespace outrigger::metrics {
namespace {

constexpr int64_t kSecond = 1'000'000'000;

TEST(ScalingBoardTest, TicksEveryPoolFromItsBusySecondsAndForgetsVanishedPools) {
  auto layout = std::make_shared<MetricLayout>();
  layout->pools = {"api", "web"};
  Totals totals = EmptyTotals(layout);
  PoolScalingSettings api;
  api.target = 2;
  api.ready_backends = 1;
  api.min_backends = 1;
  api.max_backends = 10;
  PoolScalingSettings web = api;
  web.kind = TargetKind::kRps;
  web.target = 50;

  ScalingBoard board;
  int64_t now = 1000 * kSecond;
  for (int s = 0; s <= 60; ++s) {
    board.Tick(now, totals, {api, web});
    now += kSecond;
    totals.pools[0].busy_ns += uint64_t{4 * kSecond};  // 4 concurrent all the time
    totals.pools[0].requests[1] += 40;
    totals.pools[1].requests[1] += 100;
  }
  board.Tick(now, totals, {api, web});
  ASSERT_EQ(board.latest().size(), 2u);
  const PoolScaling& a = board.latest()[0];
  EXPECT_EQ(a.pool, "api");
  EXPECT_NEAR(a.signals.concurrency, 4, 1e-9);
  EXPECT_NEAR(a.signals.desired, 2, 1e-9);
  EXPECT_NEAR(a.signals.requests_per_second, 40, 1e-9);
  EXPECT_EQ(a.signals.recommended, 2);
  const PoolScaling& w = board.latest()[1];
  EXPECT_NEAR(w.signals.desired, 2, 1e-9);  // 100 rps / 50

  std::vector<prometheus::MetricFamily> families = board.Families();
  ASSERT_FALSE(families.empty());
  EXPECT_EQ(families[0].name, "outrigger_pool_requests_per_second");
  EXPECT_EQ(families[0].metric.size(), 2u);

  auto only_web = std::make_shared<MetricLayout>();
  only_web->pools = {"web"};
  Totals after = EmptyTotals(only_web);
  after.pools[0] = totals.pools[1];
  board.Tick(now + kSecond, after, {web});
  ASSERT_EQ(board.latest().size(), 1u);
  EXPECT_EQ(board.latest()[0].pool, "web");
  EXPECT_NEAR(board.latest()[0].signals.requests_per_second, 90, 1e-6);  // 9 s of 100 in 10
}

}  // namespace
}  // namespace outrigger::metrics
