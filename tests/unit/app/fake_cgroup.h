// A fake /proc/self and cgroup tree in a temporary directory, for the functions of
// proxy/app/cgroup.h, cpu_quota.h and memory_limit.h that take a path prefix.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace outrigger::app {

class FakeCgroupTree {
 public:
  FakeCgroupTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cgroup-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
  }
  ~FakeCgroupTree() { std::filesystem::remove_all(root_); }
  FakeCgroupTree(const FakeCgroupTree&) = delete;
  FakeCgroupTree& operator=(const FakeCgroupTree&) = delete;

  const std::string& prefix() const { return root_; }

  // Writes `text` to prefix + `path`, creating its directories.
  void Write(const std::string& path, const std::string& text) {
    std::filesystem::path full = root_ + path;
    std::filesystem::create_directories(full.parent_path());
    std::ofstream(full) << text;
  }

 private:
  std::string root_;
};

// What this test machine's kind of host has: cgroup v1 controllers each on their own
// hierarchy under /sys/fs/cgroup/NAME, and an empty v2 hierarchy at /sys/fs/cgroup/unified.
inline constexpr const char* kHybridMountinfo =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

inline constexpr const char* kV2Mountinfo =
    "25 22 0:22 / /proc rw,nosuid - proc proc rw\n"
    "30 22 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 "
    "rw,nsdelegate,memory_recursiveprot\n";

}  // namespace outrigger::app
