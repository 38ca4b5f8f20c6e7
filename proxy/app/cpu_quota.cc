#include "proxy/app/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <thread>

#include "proxy/app/cgroup.h"
#include "proxy/app/proc_file.h"

namespace outrigger::app {
namespace {

std::optional<long> ParseLong(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  long v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::optional<double> ParseCgroupV2CpuMax(std::string_view cpu_max) {
  size_t space = cpu_max.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view quota = cpu_max.substr(0, space);
  if (quota == "max") return std::nullopt;
  std::optional<long> q = ParseLong(quota);
  std::optional<long> p = ParseLong(cpu_max.substr(space + 1));
  if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;
  return static_cast<double>(*q) / static_cast<double>(*p);
}

std::optional<double> CgroupV1Quota(long quota_us, long period_us) {
  if (quota_us <= 0 || period_us <= 0) return std::nullopt;
  return static_cast<double>(quota_us) / static_cast<double>(period_us);
}

std::optional<double> CgroupCpuLimit(const std::string& prefix) {
  std::optional<double> limit;
  auto take = [&](std::optional<double> v) {
    if (v && (!limit || *v < *limit)) limit = v;
  };
  for (const std::string& dir : CgroupDirsOf("cpu", prefix)) {
    if (auto text = ReadProcFile(dir + "/cpu.max")) take(ParseCgroupV2CpuMax(*text));
    auto quota = ReadProcFile(dir + "/cpu.cfs_quota_us");
    auto period = ReadProcFile(dir + "/cpu.cfs_period_us");
    if (quota && period) {
      auto q = ParseLong(*quota);
      auto p = ParseLong(*period);
      if (q && p) take(CgroupV1Quota(*q, *p));
    }
  }
  return limit;
}

unsigned AffinityCpus() {
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) cpus = std::max(1, CPU_COUNT(&set));
  return cpus;
}

unsigned UsableCpus() {
  unsigned cpus = AffinityCpus();
  if (std::optional<double> limit = CgroupCpuLimit()) {
    cpus = std::min(cpus, static_cast<unsigned>(std::ceil(*limit)));
  }
  return std::max(1u, cpus);
}

}  // namespace outrigger::app
