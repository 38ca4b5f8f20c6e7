#include "proxy/metrics/process.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace outrigger::metrics {
namespace {

// proc(5): the command may hold spaces and parentheses.
constexpr std::string_view kStat =
    "4242 (out rig) ger) S 1 4242 4242 0 -1 4194560 500 0 0 0 250 150 0 0 20 0 3 0 12000 "
    "123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessTest, ParsesCpuStartAndRss) {
  std::optional<ProcessStats> stats = ParseProcStat(kStat, 100, 4096, 1'700'000'000);
  ASSERT_TRUE(stats);
  EXPECT_DOUBLE_EQ(stats->cpu_seconds, 4.0);  // (250 + 150) ticks
  EXPECT_DOUBLE_EQ(stats->start_time_seconds, 1'700'000'120.0);
  EXPECT_DOUBLE_EQ(stats->resident_bytes, 2048.0 * 4096);
  EXPECT_FALSE(ParseProcStat("4242 (x) S 1 2 3", 100, 4096, 0));
}

TEST(ProcessTest, ParsesBootTime) {
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n"), 1'700'000'000.0);
  EXPECT_EQ(ParseBootTime("cpu  1 2 3\n"), std::nullopt);
}

TEST(ProcessTest, ReadsThisProcess) {
  std::optional<ProcessStats> stats = ReadProcessStats();
  ASSERT_TRUE(stats);
  EXPECT_GT(stats->resident_bytes, 0);
  EXPECT_GE(stats->open_fds, 3);  // stdin, stdout, stderr
  EXPECT_GT(stats->max_fds, stats->open_fds);
  EXPECT_GT(stats->start_time_seconds, 1'500'000'000);
}

TEST(ProcessTest, CollectorExposesTheStandardNamesAndLimits) {
  ProcessCollector collector("1.2.3", [] { return ResourceLimits{1024, 1.5}; });
  std::vector<std::string> names;
  for (const auto& family : collector.Collect()) names.push_back(family.name);
  for (const char* name :
       {"process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
        "process_max_fds", "process_start_time_seconds", "outrigger_memory_limit_bytes",
        "outrigger_cpu_limit_cores", "outrigger_build_info"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

}  // namespace
}  // namespace outrigger::metrics
