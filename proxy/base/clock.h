#pragma once

#include <chrono>
#include <cstdint>

namespace outrigger {

// Monotonic nanoseconds: the one time base for latencies, EWMAs, slow start and windows.
inline int64_t MonoNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace outrigger
