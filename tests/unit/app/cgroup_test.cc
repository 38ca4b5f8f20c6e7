#include "proxy/app/cgroup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fake_cgroup.h"

namespace outrigger::app {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(CgroupTest, ParsesV1AndV2Mounts) {
  auto mounts = ParseCgroupMounts(kHybridMountinfo);
  ASSERT_EQ(mounts.size(), 5u);
  EXPECT_EQ(mounts[0].mount_point, "/sys/fs/cgroup/cpu");
  EXPECT_FALSE(mounts[0].v2);
  EXPECT_THAT(mounts[0].controllers, ElementsAre("cpu"));
  EXPECT_EQ(mounts[4].mount_point, "/sys/fs/cgroup/unified");
  EXPECT_TRUE(mounts[4].v2);
}

TEST(CgroupTest, ParsesCoMountedControllersAndEscapedPaths) {
  auto mounts = ParseCgroupMounts(
      "31 30 0:28 /a\\040b /sys/fs/cgroup/cpu,cpuacct rw shared:1 - cgroup cgroup "
      "rw,cpu,cpuacct\n");
  ASSERT_EQ(mounts.size(), 1u);
  EXPECT_EQ(mounts[0].root, "/a b");
  EXPECT_THAT(mounts[0].controllers, ElementsAre("cpu", "cpuacct"));
}

TEST(CgroupTest, V1GroupAndItsAncestorsNotTheHierarchyRootAlone) {
  const char* proc = "9:name=systemd:/\n4:memory:/jobs/api\n1:cpu:/jobs/api/worker\n0::/\n";
  EXPECT_THAT(
      CgroupDirs(proc, kHybridMountinfo, "cpu"),
      ElementsAre("/sys/fs/cgroup/cpu/jobs/api/worker", "/sys/fs/cgroup/cpu/jobs/api",
                  "/sys/fs/cgroup/cpu/jobs", "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/unified"));
  EXPECT_THAT(
      CgroupDirs(proc, kHybridMountinfo, "memory", "/tmp/x"),
      ElementsAre("/tmp/x/sys/fs/cgroup/memory/jobs/api", "/tmp/x/sys/fs/cgroup/memory/jobs",
                  "/tmp/x/sys/fs/cgroup/memory", "/tmp/x/sys/fs/cgroup/unified"));
}

TEST(CgroupTest, V2GroupAndItsAncestors) {
  EXPECT_THAT(CgroupDirs("0::/system.slice/api.service\n", kV2Mountinfo, "memory"),
              ElementsAre("/sys/fs/cgroup/system.slice/api.service", "/sys/fs/cgroup/system.slice",
                          "/sys/fs/cgroup"));
}

TEST(CgroupTest, AContainerSeesItsGroupAtTheMountPoint) {
  // Without a cgroup namespace: /proc/self/cgroup names the host path, the mount's root is
  // that same group.
  const char* mountinfo =
      "700 600 0:31 /docker/abc /sys/fs/cgroup/memory ro - cgroup cgroup rw,memory\n";
  EXPECT_THAT(CgroupDirs("4:memory:/docker/abc\n", mountinfo, "memory"),
              ElementsAre("/sys/fs/cgroup/memory"));
  // A path outside the mounted part: the mount point is all there is to read.
  EXPECT_THAT(CgroupDirs("4:memory:/elsewhere\n", mountinfo, "memory"),
              ElementsAre("/sys/fs/cgroup/memory"));
}

TEST(CgroupTest, NothingMountedOrMalformed) {
  EXPECT_THAT(CgroupDirs("4:memory:/a\n", "", "memory"), IsEmpty());
  EXPECT_THAT(CgroupDirs("garbage\n\n::\n", kHybridMountinfo, "cpu"), IsEmpty());
  EXPECT_THAT(CgroupDirs("", "x - cgroup\n1 2 3 - cgroup2 cgroup2 rw\n", "cpu"), IsEmpty());
}

TEST(CgroupTest, ReadsTheFilesUnderThePrefix) {
  FakeCgroupTree tree;
  tree.Write("/proc/self/cgroup", "0::/a/b\n");
  tree.Write("/proc/self/mountinfo", kV2Mountinfo);
  EXPECT_THAT(CgroupDirsOf("cpu", tree.prefix()),
              ElementsAre(tree.prefix() + "/sys/fs/cgroup/a/b", tree.prefix() + "/sys/fs/cgroup/a",
                          tree.prefix() + "/sys/fs/cgroup"));
  EXPECT_THAT(CgroupDirsOf("cpu", tree.prefix() + "/nowhere"), IsEmpty());
}

}  // namespace
}  // namespace outrigger::app
