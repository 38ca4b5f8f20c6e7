// Reading the small text files of /proc and /sys/fs/cgroup that size the process.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

namespace outrigger::app {

// The whole file, or nullopt when it cannot be opened (no such cgroup controller, say).
inline std::optional<std::string> ReadProcFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace outrigger::app
