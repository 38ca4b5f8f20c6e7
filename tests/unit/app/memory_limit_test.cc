#include "proxy/app/memory_limit.h"

#include <gtest/gtest.h>

#include "fake_cgroup.h"

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

TEST(MemoryLimitTest, V1ReadsTheProcessGroupNotTheHierarchyRoot) {
  FakeCgroupTree tree;
  tree.Write("/proc/self/cgroup", "4:memory:/jobs/api\n1:cpu:/\n0::/\n");
  tree.Write("/proc/self/mountinfo", kHybridMountinfo);
  tree.Write("/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
  tree.Write("/sys/fs/cgroup/memory/jobs/memory.limit_in_bytes", "9223372036854771712\n");
  tree.Write("/sys/fs/cgroup/memory/jobs/api/memory.limit_in_bytes", "268435456\n");
  EXPECT_EQ(CgroupMemoryLimit(tree.prefix()), 268435456.0);
}

TEST(MemoryLimitTest, AParentLimitUnderALeafMaxCounts) {
  FakeCgroupTree tree;
  tree.Write("/proc/self/cgroup", "0::/slice/leaf\n");
  tree.Write("/proc/self/mountinfo", kV2Mountinfo);
  tree.Write("/sys/fs/cgroup/slice/leaf/memory.max", "max\n");
  tree.Write("/sys/fs/cgroup/slice/memory.max", "536870912\n");
  EXPECT_EQ(CgroupMemoryLimit(tree.prefix()), 536870912.0);
  tree.Write("/sys/fs/cgroup/slice/leaf/memory.max", "1048576\n");
  EXPECT_EQ(CgroupMemoryLimit(tree.prefix()), 1048576.0);
}

TEST(MemoryLimitTest, NoCgroupFilesNoLimit) {
  FakeCgroupTree tree;
  EXPECT_EQ(CgroupMemoryLimit(tree.prefix()), std::nullopt);
}

}  // namespace
}  // namespace outrigger::app
