// Where this process's cgroup files are: each controller's directory for this process and
// its ancestors, on cgroup v1 (one hierarchy per controller), v2 (one unified hierarchy) or
// both (hybrid hosts). Limits are read from every one of these directories and the
// smallest wins: a `max` in the process's own group does not hide a parent's limit, and on
// v1 the hierarchy's root says nothing about the group the process is in.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace outrigger::app {

struct CgroupMount {
  std::string root;         // the mounted hierarchy's directory, as /proc/self/cgroup names it
  std::string mount_point;  // where it is mounted
  bool v2 = false;
  std::vector<std::string> controllers;  // v1 only: "cpu", "memory", "name=systemd", ...
};

// The cgroup and cgroup2 mounts of a /proc/self/mountinfo text.
std::vector<CgroupMount> ParseCgroupMounts(std::string_view mountinfo);

// The directories holding `controller`'s files for this process, its own group first, then
// each ancestor up to the mount point: from the v1 hierarchy that has the controller and
// from the v2 one (the caller reads whichever files exist). `proc_cgroup` and `mountinfo`
// are the texts of /proc/self/cgroup and /proc/self/mountinfo; every path returned starts
// with `prefix` (tests root a fake tree in a temporary directory).
std::vector<std::string> CgroupDirs(std::string_view proc_cgroup, std::string_view mountinfo,
                                    std::string_view controller, const std::string& prefix = "");

// CgroupDirs() for this process, from the files under `prefix` + "/proc/self/".
std::vector<std::string> CgroupDirsOf(std::string_view controller, const std::string& prefix = "");

}  // namespace outrigger::app
