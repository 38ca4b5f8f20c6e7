#include <string>

#include "gtest/gtest.h"
#include "pool_fixture.h"
#include "proxy/balance/peak_ewma.h"

namespace outrigger::balance {
namespace {

class P2cEwmaTest : public ::testing::Test {
 protected:
  std::unique_ptr<BalancingPolicy> Make(uint64_t seed = 1) {
    PolicyOptions options;
    options.seed = seed;
    return pool_.Make("p2c_ewma", options);
  }

  static void Observe(upstream::Backend& b, int64_t latency_ns, int64_t now_ns) {
    ObserveLatency(b, latency_ns, now_ns);
  }

  Pool pool_;
};

TEST_F(P2cEwmaTest, PicksLeastLoadedOfTwoChoices) {
  upstream::Backend& a = pool_.Add("a");
  upstream::Backend& b = pool_.Add("b");
  Observe(a, 10 * kMs, kT0);
  Observe(b, 10 * kMs, kT0);
  a.AddActive(5);
  auto p2c = Make();
  // Two members: every pick compares both.
  for (int i = 0; i < 100; ++i) ASSERT_EQ(p2c->Pick(At(kT0))->label(), "b");
}

TEST_F(P2cEwmaTest, PicksTheFasterOfTwoChoicesAtEqualLoad) {
  upstream::Backend& a = pool_.Add("a");
  upstream::Backend& b = pool_.Add("b");
  Observe(a, 30 * kMs, kT0);
  Observe(b, 10 * kMs, kT0);
  auto p2c = Make();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(p2c->Pick(At(kT0))->label(), "b");
}

TEST_F(P2cEwmaTest, WeighsLatencyAgainstLoad) {
  upstream::Backend& fast = pool_.Add("fast");
  upstream::Backend& slow = pool_.Add("slow");
  Observe(fast, 10 * kMs, kT0);
  Observe(slow, 30 * kMs, kT0);
  fast.AddActive(3);  // 10 × 4 = 40 > 30 × 1
  auto p2c = Make();
  EXPECT_EQ(p2c->Pick(At(kT0))->label(), "slow");
}

TEST_F(P2cEwmaTest, TriesANewBackendBeforeItsFirstResponse) {
  upstream::Backend& old = pool_.Add("old");
  pool_.Add("new");
  Observe(old, 10 * kMs, kT0);
  old.AddActive(1);
  auto p2c = Make();
  EXPECT_EQ(p2c->Pick(At(kT0))->label(), "new");
}

TEST_F(P2cEwmaTest, HonoursWeightsWithinOnePercentAtEqualLatencies) {
  for (auto [label, weight] : {std::pair{"a", 5}, {"b", 3}, {"c", 1}, {"d", 1}}) {
    Observe(pool_.Add(label, weight), 10 * kMs, kT0);
  }
  auto p2c = Make();
  EXPECT_LE(MaxShareErrorPoints(pool_, CountPicks(*p2c, 100'000), "p2c_ewma {5,3,1,1} idle"), 1.0);
}

TEST_F(P2cEwmaTest, HonoursWeightsUnderLoadAtEqualLatencies) {
  pool_.Add("a", 5);
  pool_.Add("b", 3);
  pool_.Add("c", 1);
  pool_.Add("d", 1);
  auto p2c = Make();
  const auto counts = Simulate(
      *p2c, 0, 20'000, 10, [](const upstream::Backend&, int) { return 20; }, &Observe);
  EXPECT_LE(MaxShareErrorPoints(pool_, counts, "p2c_ewma {5,3,1,1} loaded"), 1.0);
}

// Three equal backends at 10 ms, 2 requests per ms (~60 in flight). After 20 s, c's latency
// triples: from then on it should take clearly less than its third.
TEST_F(P2cEwmaTest, ShiftsTrafficAwayFromABackendWhoseLatencyTriples) {
  pool_.Add("a");
  pool_.Add("b");
  pool_.Add("c");
  auto p2c = Make();
  constexpr int kSlowFrom = 20'000;
  auto service = [](const upstream::Backend& b, int tick) {
    return b.label() == "c" && tick >= kSlowFrom ? 30 : 10;
  };
  Simulate(*p2c, 0, 1'000, 2, service, &Observe);  // warm-up
  const auto before = Simulate(*p2c, 1'000, kSlowFrom, 2, service, &Observe);
  Simulate(*p2c, kSlowFrom, kSlowFrom + 1'000, 2, service, &Observe);  // adapting
  const auto after = Simulate(*p2c, kSlowFrom + 1'000, 40'000, 2, service, &Observe);
  std::printf("[measure] p2c_ewma c's share: %.4f at 10 ms, %.4f once its latency tripled\n",
              Share(before, "c"), Share(after, "c"));
  EXPECT_NEAR(Share(before, "c"), 1.0 / 3, 0.02);
  EXPECT_LT(Share(after, "c"), 0.20);
  EXPECT_GT(Share(after, "c"), 0.0);  // still probed
}

}  // namespace
}  // namespace outrigger::balance
