#include "proxy/app/memory_limit.h"

#include <charconv>
#include <string>

#include "proxy/app/cgroup.h"
#include "proxy/app/cpu_quota.h"
#include "proxy/app/proc_file.h"

namespace outrigger::app {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  return s;
}

}  // namespace

std::optional<double> ParseCgroupMemoryLimit(std::string_view text) {
  text = Trim(text);
  if (text == "max") return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v == 0) return std::nullopt;
  if (v >= (uint64_t{1} << 60)) return std::nullopt;
  return static_cast<double>(v);
}

std::optional<double> ParseMemTotal(std::string_view meminfo) {
  constexpr std::string_view kKey = "MemTotal:";
  const size_t at = meminfo.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = meminfo.substr(at + kKey.size());
  rest = Trim(rest.substr(0, rest.find('\n')));
  if (!rest.ends_with(" kB")) return std::nullopt;
  rest = Trim(rest.substr(0, rest.size() - 3));
  uint64_t kb = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), kb);
  if (ec != std::errc() || end != rest.data() + rest.size()) return std::nullopt;
  return static_cast<double>(kb) * 1024;
}

std::optional<double> CgroupMemoryLimit(const std::string& prefix) {
  std::optional<double> limit;
  for (const std::string& dir : CgroupDirsOf("memory", prefix)) {
    for (const char* file : {"/memory.max", "/memory.limit_in_bytes"}) {
      auto text = ReadProcFile(dir + file);
      std::optional<double> v = text ? ParseCgroupMemoryLimit(*text) : std::nullopt;
      if (v && (!limit || *v < *limit)) limit = v;
    }
  }
  return limit;
}

double MemoryLimitBytes() {
  if (std::optional<double> limit = CgroupMemoryLimit()) return *limit;
  if (auto meminfo = ReadProcFile("/proc/meminfo")) return ParseMemTotal(*meminfo).value_or(0);
  return 0;
}

double CpuLimitCores() {
  const double affinity = AffinityCpus();
  const std::optional<double> quota = CgroupCpuLimit();
  return quota && *quota < affinity ? *quota : affinity;
}

}  // namespace outrigger::app
