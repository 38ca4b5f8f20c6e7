#include "proxy/app/cpu_quota.h"

#include <gtest/gtest.h>

#include "fake_cgroup.h"

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

TEST(CpuQuotaTest, V1ReadsTheProcessGroupNotTheHierarchyRoot) {
  FakeCgroupTree tree;
  tree.Write("/proc/self/cgroup", "4:memory:/\n1:cpu:/jobs/api\n0::/\n");
  tree.Write("/proc/self/mountinfo", kHybridMountinfo);
  tree.Write("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "-1\n");
  tree.Write("/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
  tree.Write("/sys/fs/cgroup/cpu/jobs/api/cpu.cfs_quota_us", "50000\n");
  tree.Write("/sys/fs/cgroup/cpu/jobs/api/cpu.cfs_period_us", "100000\n");
  EXPECT_EQ(CgroupCpuLimit(tree.prefix()), 0.5);
}

TEST(CpuQuotaTest, TheSmallestLimitOnTheWayUpWins) {
  FakeCgroupTree tree;
  tree.Write("/proc/self/cgroup", "0::/parent/leaf\n");
  tree.Write("/proc/self/mountinfo", kV2Mountinfo);
  tree.Write("/sys/fs/cgroup/parent/leaf/cpu.max", "max 100000\n");  // hides nothing
  tree.Write("/sys/fs/cgroup/parent/cpu.max", "150000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(tree.prefix()), 1.5);
  tree.Write("/sys/fs/cgroup/parent/leaf/cpu.max", "300000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(tree.prefix()), 1.5);
  tree.Write("/sys/fs/cgroup/parent/leaf/cpu.max", "25000 100000\n");
  EXPECT_EQ(CgroupCpuLimit(tree.prefix()), 0.25);
}

TEST(CpuQuotaTest, NoLimitAnywhere) {
  FakeCgroupTree tree;
  tree.Write("/proc/self/cgroup", "0::/a\n");
  tree.Write("/proc/self/mountinfo", kV2Mountinfo);
  tree.Write("/sys/fs/cgroup/a/cpu.max", "max 100000\n");
  EXPECT_EQ(CgroupCpuLimit(tree.prefix()), std::nullopt);
}

}  // namespace
}  // namespace outrigger::app
