// What every policy promises (policy.h), checked for each name in the registry.
#include <string>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class PolicyContractTest : public ::testing::TestWithParam<std::string_view> {
 protected:
  PickContext Context(int i) const { return At(kT0 + i, keys_[i % keys_.size()]); }

  Pool pool_;
  std::vector<std::string> keys_ = {"10.0.0.1", "10.0.0.2", "192.168.1.77", "2001:db8::1",
                                    "172.16.5.4"};
};

TEST_P(PolicyContractTest, NeverPicksAnUnavailableBackend) {
  pool_.Add("a", 3);
  pool_.Add("b", 1).SetUnavailable(upstream::Backend::kDead, true);
  pool_.Add("c", 2);
  pool_.Add("d", 1).SetUnavailable(upstream::Backend::kDraining, true);
  pool_.Add("e", 5).SetUnavailable(upstream::Backend::kCircuitOpen, true);
  auto policy = pool_.Make(GetParam());
  for (int i = 0; i < 10'000; ++i) {
    upstream::Backend* b = policy->Pick(Context(i));
    ASSERT_NE(b, nullptr);
    ASSERT_TRUE(b->Available()) << b->label();
  }
}

TEST_P(PolicyContractTest, ReturnsNullWhenEveryBackendIsUnavailable) {
  pool_.Add("a").SetUnavailable(upstream::Backend::kDead, true);
  pool_.Add("b").SetUnavailable(upstream::Backend::kUnready, true);
  auto policy = pool_.Make(GetParam());
  for (int i = 0; i < 100; ++i) EXPECT_EQ(policy->Pick(Context(i)), nullptr);
}

TEST_P(PolicyContractTest, ReturnsNullForAnEmptyPool) {
  auto policy = pool_.Make(GetParam());
  EXPECT_EQ(policy->Pick(Context(0)), nullptr);
}

TEST_P(PolicyContractTest, AvoidsTheExcludedBackendWhileAnotherIsAvailable) {
  pool_.Add("a", 10);
  pool_.Add("b", 1);
  upstream::Backend& a = pool_["a"];
  auto policy = pool_.Make(GetParam());
  for (int i = 0; i < 1'000; ++i) {
    PickContext ctx = Context(i);
    ctx.Exclude(&a);
    ASSERT_EQ(policy->Pick(ctx)->label(), "b");
  }
}

TEST_P(PolicyContractTest, FindsTheOneAvailableBackendOfALargePool) {
  for (int i = 0; i < 1'000; ++i) {
    pool_.Add("b" + std::to_string(i)).SetUnavailable(upstream::Backend::kDead, i != 617);
  }
  auto policy = pool_.Make(GetParam());
  for (int i = 0; i < 100; ++i) ASSERT_EQ(policy->Pick(Context(i))->label(), "b617");
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, PolicyContractTest, ::testing::ValuesIn(PolicyNames()),
                         [](const auto& info) { return std::string(info.param); });

TEST(RegistryTest, KnowsEveryConfiguredPolicyName) {
  for (std::string_view name : {"round_robin", "least_conn", "ip_hash", "p2c_ewma", "random"}) {
    EXPECT_NE(FindPolicy(name), nullptr) << name;
  }
  EXPECT_EQ(FindPolicy("leastconn"), nullptr);
}

}  // namespace
}  // namespace outrigger::balance
