#include "proxy/balance/ip_hash.h"

#include <algorithm>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pool_fixture.h"

namespace outrigger::balance {
namespace {

class IpHashTest : public ::testing::Test {
 protected:
  // n distinct client addresses.
  static std::vector<std::string> Clients(int n) {
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      keys.push_back(Format("10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255));
    }
    return keys;
  }

  static std::string Format(const char* f, int a, int b, int c) {
    char buf[32];
    std::snprintf(buf, sizeof buf, f, a, b, c);
    return buf;
  }

  // Each key's backend label, as `policy` maps them.
  static std::vector<std::string> Map(BalancingPolicy& policy,
                                      const std::vector<std::string>& keys) {
    std::vector<std::string> labels;
    for (const std::string& k : keys) labels.push_back(policy.Pick(At(kT0, k))->label());
    return labels;
  }

  void AddBackends(int n) {
    for (int i = 0; i < n; ++i) pool_.Add("b" + std::to_string(i));
  }

  Pool pool_;
};

TEST_F(IpHashTest, SendsTheSameKeyToTheSameBackend) {
  AddBackends(5);
  auto hash = pool_.Make("ip_hash");
  upstream::Backend* first = hash->Pick(At(kT0, "203.0.113.9"));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(hash->Pick(At(kT0 + i, "203.0.113.9")), first);
}

TEST_F(IpHashTest, MapsKeysIdenticallyInIndependentlyBuiltInstances) {
  AddBackends(7);
  auto worker1 = pool_.Make("ip_hash");
  auto worker2 = pool_.Make("ip_hash");
  const auto keys = Clients(10'000);
  EXPECT_EQ(Map(*worker1, keys), Map(*worker2, keys));
}

TEST_F(IpHashTest, DoesNotDependOnTheOrderOfMembers) {
  AddBackends(7);
  auto forward = pool_.Make("ip_hash");
  std::vector<Member> reversed(pool_.members().rbegin(), pool_.members().rend());
  auto backward = FindPolicy("ip_hash")(reversed, {});
  const auto keys = Clients(10'000);
  EXPECT_EQ(Map(*forward, keys), Map(*backward, keys));
}

// Adding a backend must move ~1/(N+1) of the keys: those the new backend takes over. The
// issue's "keeps ≥ 99% of 10,000 keys on their backend when an unrelated backend is added"
// is read as: of the keys that do not move to the new backend, ≥ 99% stay where they were,
// i.e. disruption beyond the unavoidable is ≤ 1%.
TEST_F(IpHashTest, KeepsKeysInPlaceWhenAnUnrelatedBackendIsAdded) {
  AddBackends(10);
  const auto keys = Clients(10'000);
  const auto before = Map(*pool_.Make("ip_hash"), keys);
  pool_.Add("new");
  const auto after = Map(*pool_.Make("ip_hash"), keys);
  int to_new = 0, stayed = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (after[i] == "new") {
      ++to_new;
    } else {
      stayed += after[i] == before[i];
    }
  }
  const int others = static_cast<int>(keys.size()) - to_new;
  std::printf(
      "[measure] ip_hash add 1 to 10: %d/10000 keys to the new backend (1/11 = 909); "
      "%d/%d others stayed (%.2f%%)\n",
      to_new, stayed, others, 100.0 * stayed / others);
  EXPECT_NEAR(to_new, 10'000 / 11, 150);
  EXPECT_GE(stayed, 0.99 * others);
}

TEST_F(IpHashTest, MovesLittleMoreThanTheRemovedBackendsShareWhenOneOfNIsRemoved) {
  constexpr int kN = 10;
  AddBackends(kN);
  const auto keys = Clients(10'000);
  const auto before = Map(*pool_.Make("ip_hash"), keys);
  pool_.Remove("b3");
  const auto after = Map(*pool_.Make("ip_hash"), keys);
  int moved = 0;
  for (size_t i = 0; i < keys.size(); ++i) moved += after[i] != before[i];
  std::printf("[measure] ip_hash remove 1 of 10: %d/10000 keys moved (bound 1/N + 2%% = 1200)\n",
              moved);
  EXPECT_LE(moved, keys.size() * (1.0 / kN + 0.02));
}

TEST_F(IpHashTest, SpreadsKeysWithinTenPercentOfTheirWeights) {
  pool_.Add("a", 5);
  pool_.Add("b", 3);
  pool_.Add("c", 1);
  pool_.Add("d", 1);
  auto hash = pool_.Make("ip_hash");
  std::map<std::string, int> counts;
  for (const std::string& k : Clients(100'000)) ++counts[hash->Pick(At(kT0, k))->label()];
  // 10% of the smallest share (10%) is 1 pp.
  EXPECT_LE(MaxShareErrorPoints(pool_, counts, "ip_hash {5,3,1,1} over 100000 keys"), 1.0);
}

TEST_F(IpHashTest, SpreadsKeysEvenlyOverManyBackends) {
  AddBackends(100);
  auto hash = pool_.Make("ip_hash");
  std::map<std::string, int> counts;
  for (const std::string& k : Clients(100'000)) ++counts[hash->Pick(At(kT0, k))->label()];
  const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end(),
                                            [](auto& x, auto& y) { return x.second < y.second; });
  std::printf("[measure] ip_hash 100 backends, 100000 keys: min %d max %d (mean 1000)\n",
              lo->second, hi->second);
  EXPECT_GT(lo->second, 850);
  EXPECT_LT(hi->second, 1150);
}

TEST_F(IpHashTest, MovesOnlyADownBackendsKeysAndMovesThemConsistently) {
  AddBackends(5);
  auto worker1 = pool_.Make("ip_hash");
  auto worker2 = pool_.Make("ip_hash");
  const auto keys = Clients(10'000);
  const auto before = Map(*worker1, keys);
  pool_["b2"].SetUnavailable(upstream::Backend::kDead, true);
  const auto after = Map(*worker1, keys);
  std::map<std::string, int> refuge;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (before[i] == "b2") {
      ++refuge[after[i]];
    } else {
      ASSERT_EQ(after[i], before[i]) << keys[i];
    }
  }
  EXPECT_EQ(after, Map(*worker2, keys));
  EXPECT_EQ(refuge.count("b2"), 0u);
  EXPECT_EQ(refuge.size(), 4u);  // spread, not dumped on one neighbour
  pool_["b2"].SetUnavailable(upstream::Backend::kDead, false);
  EXPECT_EQ(Map(*worker1, keys), before);
}

// Slow start is deliberately not applied (ip_hash.cc): affinity wins over the ramp.
TEST_F(IpHashTest, KeepsAffinityDuringSlowStart) {
  AddBackends(5);
  const auto keys = Clients(1'000);
  const auto steady = Map(*pool_.Make("ip_hash"), keys);
  pool_["b1"].set_available_since_ns(kT0);
  PolicyOptions options;
  options.slow_start = std::chrono::seconds(30);
  EXPECT_EQ(Map(*pool_.Make("ip_hash", options), keys), steady);
}

// issue 20.9: with one weight far above the rest, visiting every member every round took
// ~M × n / 2 turns (5 × 10^9 for this pool: 5.5 s per worker and reload). Only turns that
// claim a slot are taken now.
TEST_F(IpHashTest, BuildsAVeryUnevenPoolInTurnsBoundedByTableSizePlusMembers) {
  constexpr int kMembers = 10000;
  for (int i = 0; i < kMembers; ++i) pool_.Add("b" + std::to_string(i), i == 0 ? 10000 : 1);
  const uint64_t table_size = 1'000'003;  // smallest prime >= 100 × members
  const uint64_t turns = IpHashPopulationTurns(pool_.members());
  EXPECT_LE(turns, table_size + kMembers);
  EXPECT_GE(turns, table_size / 2) << "each turn claims at most weight / max_weight + 1 slots";

  // Slot shares still follow the weights: b0 holds about half of the keys.
  auto policy = pool_.Make("ip_hash");
  int to_b0 = 0;
  const std::vector<std::string> keys = Clients(20000);
  for (const std::string& k : keys) to_b0 += policy->Pick(At(kT0, k))->label() == "b0";
  EXPECT_NEAR(to_b0, 10000, 600);
}

// issue 20.9: the table is built once per snapshot (on the control thread) and shared
// read-only, not rebuilt by every worker.
TEST_F(IpHashTest, InstancesShareOnePreparedTableAndMapAsTheirOwnWould) {
  AddBackends(5);
  const PolicyPreparer prepare = FindPreparer("ip_hash");
  ASSERT_NE(prepare, nullptr);
  EXPECT_EQ(FindPreparer("round_robin"), nullptr);
  PolicyOptions options;
  options.prepared = prepare(pool_.members());
  auto a = pool_.Make("ip_hash", options);
  auto b = pool_.Make("ip_hash", options);
  EXPECT_EQ(options.prepared.use_count(), 3) << "both instances hold the one table";
  auto own = pool_.Make("ip_hash");
  const std::vector<std::string> keys = Clients(1000);
  EXPECT_EQ(Map(*a, keys), Map(*own, keys));
  EXPECT_EQ(Map(*b, keys), Map(*own, keys));
}

}  // namespace
}  // namespace outrigger::balance
