// Request ids: format, uniqueness across generators (one per worker), and validation.
#include "proxy/log/request_id.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>

namespace outrigger::log {
namespace {

TEST(RequestIdTest, ThirtyTwoHexDigits) {
  RequestIdGenerator g;
  std::string id(RequestIdGenerator::kLength, '\0');
  g.Next(id.data());
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
}

TEST(RequestIdTest, UniqueOverManyIdsFromSeveralGenerators) {
  // Four "workers", each seeded from the OS as Worker does, 25,000 ids each.
  std::unordered_set<std::string> seen;
  constexpr int kWorkers = 4;
  constexpr int kEach = 25'000;
  RequestIdGenerator gens[kWorkers];
  for (int i = 0; i < kEach; ++i) {
    for (auto& g : gens) {
      std::string id(RequestIdGenerator::kLength, '\0');
      g.Next(id.data());
      seen.insert(std::move(id));
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kWorkers * kEach));
}

TEST(RequestIdTest, SeededGeneratorsDiffer) {
  RequestIdGenerator a(1), b(2), a2(1);
  EXPECT_NE(a.Next64(), b.Next64());
  RequestIdGenerator a3(1);
  EXPECT_EQ(a2.Next64(), a3.Next64());
}

TEST(RequestIdTest, Validation) {
  EXPECT_TRUE(IsValidRequestId("abc"));
  EXPECT_TRUE(IsValidRequestId("req 42/x:y"));
  EXPECT_TRUE(IsValidRequestId(std::string(128, 'a')));
  EXPECT_FALSE(IsValidRequestId(std::string(129, 'a')));
  EXPECT_FALSE(IsValidRequestId(""));
  EXPECT_FALSE(IsValidRequestId("a\tb"));
  EXPECT_FALSE(IsValidRequestId("a\x7f"));
  EXPECT_FALSE(IsValidRequestId("\xc3\xa9"));
}

}  // namespace
}  // namespace outrigger::log
