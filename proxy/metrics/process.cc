#include "proxy/metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>
#include <utility>

namespace outrigger::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

std::optional<std::string> ReadFile(const char* path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<double> ParseNumber(std::string_view s) {
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

MetricFamily Gauge(std::string name, std::string help, double value,
                   std::vector<ClientMetric::Label> labels = {}) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = MetricType::Gauge;
  ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  metric.gauge.value = value;
  return family;
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double count = 0;
  while (const dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;  // the directory stream's own descriptor
}

}  // namespace

std::optional<ProcessStats> ParseProcStat(std::string_view stat, double ticks_per_second,
                                          double page_size, double boot_time) {
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields are counted
  // from the last ')'. Field 3 (state) is the first after it.
  const size_t close = stat.rfind(')');
  if (close == std::string_view::npos || ticks_per_second <= 0) return std::nullopt;
  std::vector<std::string_view> fields;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  // fields[0] is field 3 of proc(5): field N is fields[N - 3].
  if (fields.size() < 22) return std::nullopt;
  auto utime = ParseNumber(fields[14 - 3]);
  auto stime = ParseNumber(fields[15 - 3]);
  auto start = ParseNumber(fields[22 - 3]);
  auto rss = ParseNumber(fields[24 - 3]);
  if (!utime || !stime || !start || !rss) return std::nullopt;
  ProcessStats stats;
  stats.cpu_seconds = (*utime + *stime) / ticks_per_second;
  stats.start_time_seconds = boot_time + *start / ticks_per_second;
  stats.resident_bytes = *rss * page_size;
  return stats;
}

std::optional<double> ParseBootTime(std::string_view proc_stat) {
  constexpr std::string_view kKey = "\nbtime ";
  const size_t at = proc_stat.find(kKey);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view value = proc_stat.substr(at + kKey.size());
  return ParseNumber(value.substr(0, value.find('\n')));
}

std::optional<ProcessStats> ReadProcessStats() {
  std::optional<std::string> stat = ReadFile("/proc/self/stat");
  std::optional<std::string> system = ReadFile("/proc/stat");
  if (!stat || !system) return std::nullopt;
  std::optional<double> boot = ParseBootTime(*system);
  std::optional<ProcessStats> stats =
      ParseProcStat(*stat, static_cast<double>(sysconf(_SC_CLK_TCK)),
                    static_cast<double>(sysconf(_SC_PAGESIZE)), boot.value_or(0));
  if (!stats) return std::nullopt;
  stats->open_fds = OpenFds();
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    stats->max_fds = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<double>(limit.rlim_cur);
  }
  return stats;
}

ProcessCollector::ProcessCollector(std::string version, std::function<ResourceLimits()> limits)
    : version_(std::move(version)), limits_(std::move(limits)) {}

std::vector<MetricFamily> ProcessCollector::Collect() const {
  std::vector<MetricFamily> families;
  if (std::optional<ProcessStats> stats = ReadProcessStats()) {
    families.push_back(Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                             stats->resident_bytes));
    MetricFamily cpu =
        Gauge("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", 0);
    cpu.type = MetricType::Counter;
    cpu.metric[0].counter.value = stats->cpu_seconds;
    families.push_back(std::move(cpu));
    families.push_back(
        Gauge("process_open_fds", "Number of open file descriptors.", stats->open_fds));
    families.push_back(
        Gauge("process_max_fds", "Maximum number of open file descriptors.", stats->max_fds));
    families.push_back(Gauge("process_start_time_seconds",
                             "Start time of the process since unix epoch in seconds.",
                             stats->start_time_seconds));
  }
  const ResourceLimits limits = limits_ ? limits_() : ResourceLimits{};
  families.push_back(Gauge("outrigger_memory_limit_bytes",
                           "Memory this process may use: its cgroup limit, else the host's.",
                           limits.memory_bytes));
  families.push_back(Gauge("outrigger_cpu_limit_cores",
                           "CPUs this process may use: its cgroup quota, else its affinity mask.",
                           limits.cpu_cores));
  families.push_back(Gauge("outrigger_build_info", "Always 1; the version is a label.", 1,
                           {{"version", version_}}));
  return families;
}

}  // namespace outrigger::metrics
