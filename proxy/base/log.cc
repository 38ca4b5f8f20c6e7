#include "proxy/base/log.h"

#include <string>

namespace outrigger {

void InitLogging(std::string_view level) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ [%t] %v");
  spdlog::set_level(spdlog::level::from_str(std::string(level)));
}

}  // namespace outrigger
