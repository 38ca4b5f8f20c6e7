// How many CPUs this process may really use: the smaller of its affinity mask and its
// cgroup CPU quota (v2 cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us, the smallest
// of its own group's and its ancestors': cgroup.h), rounded up. A container limited to
// 1.5 CPUs on a 64-core host gets 2 workers, not 64.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace outrigger::app {

// "max 100000" → nullopt (no limit); "150000 100000" → 1.5. Malformed → nullopt.
std::optional<double> ParseCgroupV2CpuMax(std::string_view cpu_max);
// quota -1 (or <= 0) → nullopt; else quota / period.
std::optional<double> CgroupV1Quota(long quota_us, long period_us);

// The cgroup quota in CPUs for this process, if any limit is set. `prefix`: where /proc
// and the cgroup mounts are ("" but in tests).
std::optional<double> CgroupCpuLimit(const std::string& prefix = "");

// CPUs in the affinity mask (at least 1).
unsigned AffinityCpus();

// max(1, min(affinity CPUs, ceil(cgroup quota))).
unsigned UsableCpus();

}  // namespace outrigger::app
