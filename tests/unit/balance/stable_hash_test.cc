#include "proxy/balance/stable_hash.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace outrigger::balance {
namespace {

// Published XXH64 values: the hash is the specification's, not one of our own making, so it
// is the same in every worker, after a restart and after a rebuild.
TEST(StableHashTest, MatchesPublishedXxh64Vectors) {
  EXPECT_EQ(StableHash64(""), 0xEF46DB3751D8E999ull);
  EXPECT_EQ(StableHash64("a"), 0xD24EC4F1A98C6E5Bull);
  EXPECT_EQ(StableHash64("abc"), 0x44BC2CF5AD770999ull);
  // 39 bytes: the 32-byte stripe path and every tail path.
  EXPECT_EQ(StableHash64("Nobody inspects the spammish repetition"), 0xFBCEA83C8A378BF1ull);
}

TEST(StableHashTest, DependsOnTheSeed) {
  EXPECT_NE(StableHash64("10.0.0.1", 0), StableHash64("10.0.0.1", 1));
}

TEST(StableHashTest, GivesDistinctValuesForNeighbouringAddresses) {
  std::set<uint64_t> seen;
  for (int i = 0; i < 65536; ++i) {
    seen.insert(StableHash64("10.0." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
  }
  EXPECT_EQ(seen.size(), 65536u);
}

TEST(StableHashTest, MixIsABijectionOnSmallInputs) {
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < 100'000; ++i) seen.insert(MixHash64(i));
  EXPECT_EQ(seen.size(), 100'000u);
}

}  // namespace
}  // namespace outrigger::balance
