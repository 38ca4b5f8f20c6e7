#include "proxy/app/cpu_quota.h"

#include <gtest/gtest.h>

namespace outrigger::app {
namespace {

TEST(CpuQuotaTest, CgroupV2MaxMeansNoLimit) {
  EXPECT_EQ(ParseCgroupV2CpuMax("max 100000\n"), std::nullopt);
}

TEST(CpuQuotaTest, CgroupV2QuotaIsQuotaOverPeriod) {
  EXPECT_DOUBLE_EQ(ParseCgroupV2CpuMax("150000 100000\n").value(), 1.5);
  EXPECT_DOUBLE_EQ(ParseCgroupV2CpuMax("50000 100000").value(), 0.5);
}

TEST(CpuQuotaTest, MalformedCgroupV2ValueIsIgnored) {
  EXPECT_EQ(ParseCgroupV2CpuMax(""), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax("lots"), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax("-5 100000"), std::nullopt);
  EXPECT_EQ(ParseCgroupV2CpuMax("100000 0"), std::nullopt);
}

TEST(CpuQuotaTest, CgroupV1NegativeQuotaMeansNoLimit) {
  EXPECT_EQ(CgroupV1Quota(-1, 100000), std::nullopt);
  EXPECT_DOUBLE_EQ(CgroupV1Quota(200000, 100000).value(), 2.0);
}

TEST(CpuQuotaTest, UsableCpusIsAtLeastOneAndAtMostTheAffinityMask) {
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  unsigned cpus = UsableCpus();
  EXPECT_GE(cpus, 1u);
  EXPECT_LE(cpus, static_cast<unsigned>(CPU_COUNT(&set)));
}

}  // namespace
}  // namespace outrigger::app
