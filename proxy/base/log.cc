#include "proxy/base/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <string>

namespace outrigger {

void InitLogging(std::string_view level) {
  // stderr, not spdlog's default stdout: stdout may be a pipe that a supervisor reads for
  // other purposes, and container runtimes collect stderr as the log stream.
  spdlog::set_default_logger(spdlog::stderr_color_mt("outrigger"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace outrigger
