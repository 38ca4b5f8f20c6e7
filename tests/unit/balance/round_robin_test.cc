#include <string>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class RoundRobinTest : public ::testing::Test {
 protected:
  std::string Sequence(BalancingPolicy& policy, int n, const PickContext& ctx = At(kT0)) {
    std::string seq;
    for (int i = 0; i < n; ++i) {
      upstream::Backend* b = policy.Pick(ctx);
      seq += b == nullptr ? "-" : b->label();
    }
    return seq;
  }

  Pool pool_;
};

TEST_F(RoundRobinTest, InterleavesWeightsAsNginxDoes) {
  pool_.Add("a", 5);
  pool_.Add("b", 1);
  pool_.Add("c", 1);
  auto rr = pool_.Make("round_robin");
  EXPECT_EQ(Sequence(*rr, 14), "aabacaaaabacaa");
}

TEST_F(RoundRobinTest, SkipsUnavailableBackends) {
  pool_.Add("a");
  pool_.Add("b").SetUnavailable(upstream::Backend::kDead, true);
  pool_.Add("c");
  auto rr = pool_.Make("round_robin");
  EXPECT_EQ(Sequence(*rr, 6), "acacac");
}

TEST_F(RoundRobinTest, HonoursExclude) {
  pool_.Add("a");
  upstream::Backend& b = pool_.Add("b");
  pool_.Add("c");
  auto rr = pool_.Make("round_robin");
  EXPECT_EQ(Sequence(*rr, 6, At(kT0, {}, &b)), "acacac");
}

TEST_F(RoundRobinTest, ReturnsTheExcludedBackendWhenItIsTheOnlyOneAvailable) {
  upstream::Backend& a = pool_.Add("a");
  pool_.Add("b").SetUnavailable(upstream::Backend::kUnready, true);
  auto rr = pool_.Make("round_robin");
  EXPECT_EQ(rr->Pick(At(kT0, {}, &a)), &a);
}

TEST_F(RoundRobinTest, HonoursWeightsWithinOnePercentOver100000Picks) {
  pool_.Add("a", 5);
  pool_.Add("b", 3);
  pool_.Add("c", 1);
  pool_.Add("d", 1);
  auto rr = pool_.Make("round_robin");
  const auto counts = CountPicks(*rr, 100'000);
  EXPECT_LE(MaxShareErrorPoints(pool_, counts, "round_robin {5,3,1,1}"), 0.01);
  EXPECT_EQ(counts.at("a"), 50'000);
  EXPECT_EQ(counts.at("d"), 10'000);
}

}  // namespace
}  // namespace outrigger::balance
