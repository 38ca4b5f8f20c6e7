#include "proxy/app/memory_limit.h"

#include <gtest/gtest.h>

namespace outrigger::app {
namespace {

TEST(MemoryLimitTest, ParsesCgroupLimits) {
  EXPECT_EQ(ParseCgroupMemoryLimit("max\n"), std::nullopt);
  EXPECT_EQ(ParseCgroupMemoryLimit("536870912\n"), 536870912.0);
  EXPECT_EQ(ParseCgroupMemoryLimit("9223372036854771712\n"), std::nullopt);  // v1 "unlimited"
  EXPECT_EQ(ParseCgroupMemoryLimit("12ab"), std::nullopt);
  EXPECT_EQ(ParseCgroupMemoryLimit(""), std::nullopt);
}

TEST(MemoryLimitTest, ParsesMemTotal) {
  EXPECT_EQ(ParseMemTotal("MemTotal:       16314300 kB\nMemFree: 1 kB\n"), 16314300.0 * 1024);
  EXPECT_EQ(ParseMemTotal("MemFree: 1 kB\n"), std::nullopt);
}

TEST(MemoryLimitTest, TheLiveLimitsArePositive) {
  EXPECT_GT(MemoryLimitBytes(), 0);
  EXPECT_GT(CpuLimitCores(), 0);
}

}  // namespace
}  // namespace outrigger::app
