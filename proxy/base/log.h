// Logging goes through spdlog (a well-kept library: formatting, levels, thread-safe sinks).
// The process logs to stderr, one line per event; containers collect stderr.
#pragma once

#include <spdlog/spdlog.h>

namespace outrigger {

// Sets the process-wide log format and level ("debug", "info", "warn", "error").
void InitLogging(std::string_view level);

}  // namespace outrigger
