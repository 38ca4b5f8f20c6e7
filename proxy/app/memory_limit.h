// The memory this process may use: its cgroup limit (v2 memory.max, or v1
// memory.limit_in_bytes, the smallest of its own group's and its ancestors': cgroup.h), or
// the host's MemTotal when no limit is set. The CPU counterpart
// is cpu_quota.h. Read at each call, so a resized container is seen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace outrigger::app {

// "max" → nullopt (no limit); "536870912" → 536870912. v1 reports "no limit" as a huge
// number (PAGE_COUNTER_MAX pages), so anything at or above 2^60 is no limit too.
std::optional<double> ParseCgroupMemoryLimit(std::string_view text);
// "MemTotal:  16314300 kB" of /proc/meminfo, in bytes.
std::optional<double> ParseMemTotal(std::string_view meminfo);

// The cgroup memory limit in bytes, if any is set. `prefix`: where /proc and the cgroup
// mounts are ("" but in tests).
std::optional<double> CgroupMemoryLimit(const std::string& prefix = "");
// CgroupMemoryLimit(), else the host's memory (0 if neither can be read).
double MemoryLimitBytes();
// The cgroup CPU quota, else the CPUs of the affinity mask: fractional, unlike UsableCpus.
double CpuLimitCores();

}  // namespace outrigger::app
