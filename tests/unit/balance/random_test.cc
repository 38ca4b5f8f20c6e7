#include <string>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class RandomTest : public ::testing::Test {
 protected:
  PolicyOptions Seed(uint64_t seed) {
    PolicyOptions options;
    options.seed = seed;
    return options;
  }

  Pool pool_;
};

TEST_F(RandomTest, HonoursWeightsWithinOnePercentOver100000Picks) {
  pool_.Add("a", 5);
  pool_.Add("b", 3);
  pool_.Add("c", 1);
  pool_.Add("d", 1);
  auto random = pool_.Make("random", Seed(1));
  EXPECT_LE(MaxShareErrorPoints(pool_, CountPicks(*random, 100'000), "random {5,3,1,1}"), 1.0);
}

TEST_F(RandomTest, HonoursWeightsAmongTheAvailableWhenMostAreDown) {
  for (int i = 0; i < 100; ++i) {
    pool_.Add("down" + std::to_string(i), 10).SetUnavailable(upstream::Backend::kDead, true);
  }
  pool_.Add("a", 3);
  pool_.Add("b", 1);
  auto random = pool_.Make("random", Seed(2));
  const auto counts = CountPicks(*random, 100'000);
  EXPECT_NEAR(Share(counts, "a"), 0.75, 0.01);
  EXPECT_NEAR(Share(counts, "b"), 0.25, 0.01);
}

TEST_F(RandomTest, RepeatsItsPicksForTheSameSeed) {
  pool_.Add("a");
  pool_.Add("b");
  pool_.Add("c");
  auto one = pool_.Make("random", Seed(42));
  auto two = pool_.Make("random", Seed(42));
  for (int i = 0; i < 1'000; ++i) ASSERT_EQ(one->Pick(At(kT0)), two->Pick(At(kT0)));
}

TEST_F(RandomTest, DiffersBetweenSeeds) {
  pool_.Add("a");
  pool_.Add("b");
  pool_.Add("c");
  auto one = pool_.Make("random", Seed(1));
  auto two = pool_.Make("random", Seed(2));
  int same = 0;
  for (int i = 0; i < 1'000; ++i) same += one->Pick(At(kT0)) == two->Pick(At(kT0));
  EXPECT_LT(same, 500);
}

}  // namespace
}  // namespace outrigger::balance
