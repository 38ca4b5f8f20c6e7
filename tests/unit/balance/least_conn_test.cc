#include <string>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class LeastConnTest : public ::testing::Test {
 protected:
  Pool pool_;
};

TEST_F(LeastConnTest, PicksTheBackendWithFewestRequestsInFlight) {
  pool_.Add("a").AddActive(3);
  pool_.Add("b").AddActive(1);
  pool_.Add("c").AddActive(2);
  auto lc = pool_.Make("least_conn");
  EXPECT_EQ(lc->Pick(At(kT0))->label(), "b");
}

TEST_F(LeastConnTest, ComparesInFlightPerUnitOfWeight) {
  pool_.Add("heavy", 4).AddActive(6);  // 1.5 per unit
  pool_.Add("light", 1).AddActive(2);  // 2 per unit
  auto lc = pool_.Make("least_conn");
  EXPECT_EQ(lc->Pick(At(kT0))->label(), "heavy");
}

TEST_F(LeastConnTest, CountsRequestsInFlightFromEveryWorker) {
  pool_.Add("a");
  pool_.Add("b");
  auto worker1 = pool_.Make("least_conn");
  auto worker2 = pool_.Make("least_conn");
  upstream::Backend* first = worker1->Pick(At(kT0));
  first->AddActive(1);
  EXPECT_NE(worker2->Pick(At(kT0)), first);
}

TEST_F(LeastConnTest, SharesTiesInTurnInsteadOfHerdingOntoTheFirstBackend) {
  pool_.Add("a");
  pool_.Add("b");
  pool_.Add("c");
  auto lc = pool_.Make("least_conn");
  std::string seq;
  for (int i = 0; i < 6; ++i) seq += lc->Pick(At(kT0))->label();
  EXPECT_EQ(seq, "abcabc");
}

TEST_F(LeastConnTest, HonoursWeightsWithinOnePercentWhenRequestsCompleteImmediately) {
  pool_.Add("a", 5);
  pool_.Add("b", 3);
  pool_.Add("c", 1);
  pool_.Add("d", 1);
  auto lc = pool_.Make("least_conn");
  const auto counts = CountPicks(*lc, 100'000);
  EXPECT_LE(MaxShareErrorPoints(pool_, counts, "least_conn {5,3,1,1} idle"), 0.01);
}

TEST_F(LeastConnTest, HonoursWeightsUnderSteadyLoadWithEqualServiceTimes) {
  pool_.Add("a", 5);
  pool_.Add("b", 3);
  pool_.Add("c", 1);
  pool_.Add("d", 1);
  auto lc = pool_.Make("least_conn");
  // 10 arrivals per ms, 20 ms each: ~200 in flight.
  const auto counts = Simulate(
      *lc, 0, 10'000, 10, [](const upstream::Backend&, int) { return 20; },
      [](upstream::Backend&, int64_t, int64_t) {});
  EXPECT_LE(MaxShareErrorPoints(pool_, counts, "least_conn {5,3,1,1} loaded"), 1.0);
}

// Requests arrive at 3 per ms; a and b serve in 10 ms, c in 40 ms. Equalising requests in
// flight gives each backend throughput ∝ 1 / service time: c's fair share is
// (1/40) / (1/10 + 1/10 + 1/40) = 11.1%, a third of what round robin would send it.
TEST_F(LeastConnTest, SendsASlowBackendProportionallyLess) {
  pool_.Add("a");
  pool_.Add("b");
  pool_.Add("slow");
  auto lc = pool_.Make("least_conn");
  const auto counts = Simulate(
      *lc, 0, 100'000, 3,
      [](const upstream::Backend& b, int) { return b.label() == "slow" ? 40 : 10; },
      [](upstream::Backend&, int64_t, int64_t) {});
  std::printf("[measure] least_conn slow backend (4x service time): share %.4f (∝1/S: 0.1111)\n",
              Share(counts, "slow"));
  EXPECT_NEAR(Share(counts, "slow"), 1.0 / 9, 0.02);
  EXPECT_NEAR(Share(counts, "a"), Share(counts, "b"), 0.01);
}

}  // namespace
}  // namespace outrigger::balance
