// Process metrics in the standard client names (process_resident_memory_bytes,
// process_cpu_seconds_total, process_open_fds, process_max_fds, process_start_time_seconds),
// the container's limits (outrigger_memory_limit_bytes, outrigger_cpu_limit_cores) and
// outrigger_build_info, read from /proc at each scrape.
//
// Thread contract: the parsers are pure; ReadProcessStats reads /proc (any thread);
// ProcessCollector::Collect may run on any thread and calls `limits` there.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace outrigger::metrics {

struct ProcessStats {
  double resident_bytes = 0;
  double cpu_seconds = 0;         // user + system
  double start_time_seconds = 0;  // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;  // the soft RLIMIT_NOFILE
};

// The fields of /proc/self/stat we use: utime, stime (ticks), starttime (ticks since boot),
// rss (pages). `boot_time` is /proc/stat's btime. Malformed → nullopt.
std::optional<ProcessStats> ParseProcStat(std::string_view stat, double ticks_per_second,
                                          double page_size, double boot_time);
// "btime N" of /proc/stat.
std::optional<double> ParseBootTime(std::string_view proc_stat);

// This process now; nullopt where /proc is unreadable.
std::optional<ProcessStats> ReadProcessStats();

// What the container may use: the cgroup limits, or the host's when none is set.
struct ResourceLimits {
  double memory_bytes = 0;
  double cpu_cores = 0;
};

class ProcessCollector final : public prometheus::Collectable {
 public:
  ProcessCollector(std::string version, std::function<ResourceLimits()> limits);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::string version_;
  const std::function<ResourceLimits()> limits_;
};

}  // namespace outrigger::metrics
