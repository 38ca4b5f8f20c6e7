// CopyBytes: memcpy for the short fields of heads and log lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace outrigger::base {

// Copies n bytes (the ranges must not overlap). Field names and most values are short: up
// to 32 bytes go by loads that may overlap, inline, rather than through a call to memcpy and
// its dispatch on the size.
inline void CopyBytes(char* to, const char* from, size_t n) {
  if (n >= 8 && n <= 32) {
    uint64_t a, b, c, d;
    std::memcpy(&a, from, 8);
    std::memcpy(&d, from + n - 8, 8);
    if (n > 16) {
      std::memcpy(&b, from + 8, 8);
      std::memcpy(&c, from + n - 16, 8);
      std::memcpy(to + 8, &b, 8);
      std::memcpy(to + n - 16, &c, 8);
    }
    std::memcpy(to, &a, 8);
    std::memcpy(to + n - 8, &d, 8);
  } else if (n >= 4 && n < 8) {
    uint32_t a, b;
    std::memcpy(&a, from, 4);
    std::memcpy(&b, from + n - 4, 4);
    std::memcpy(to, &a, 4);
    std::memcpy(to + n - 4, &b, 4);
  } else if (n > 0 && n < 4) {
    to[0] = from[0];
    to[n / 2] = from[n / 2];
    to[n - 1] = from[n - 1];
  } else if (n > 32) {
    std::memcpy(to, from, n);
  }
}

}  // namespace outrigger::base
