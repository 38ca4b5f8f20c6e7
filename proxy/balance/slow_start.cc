#include "proxy/balance/slow_start.h"

#include <algorithm>

namespace outrigger::balance {

SlowStart::SlowStart(std::chrono::milliseconds window)
    : window_ns_(std::chrono::duration_cast<std::chrono::nanoseconds>(window).count()) {}

uint64_t SlowStart::Points(const Member& member, int64_t now_ns) const {
  const uint64_t full = FullPoints(member);
  if (window_ns_ <= 0) return full;
  const int64_t since = member.backend->available_since_ns();
  if (since <= 0) return full;
  const int64_t elapsed = std::max<int64_t>(0, now_ns - since);
  if (elapsed >= window_ns_) return full;
  // elapsed < window_ns_ and full < 2^42, so the product fits 128 bits with room to spare.
  const auto ramped =
      static_cast<uint64_t>(static_cast<unsigned __int128>(full) * static_cast<uint64_t>(elapsed) /
                            static_cast<uint64_t>(window_ns_));
  return std::max<uint64_t>(1, ramped);
}

}  // namespace outrigger::balance
