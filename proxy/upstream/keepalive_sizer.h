// KeepaliveSizer: how many idle connections to one backend a worker keeps under
// `keepalive: auto` (README pools.NAME.keepalive): as many as its recent traffic needed.
//
// An idle connection that no request took during the whole window (kWindowTicks upkeep ticks,
// ~10 s) is surplus: the traffic of that window never needed it. Each tick closes a quarter of
// the surplus (at least one), so a burst's connections are given back over a few seconds, and
// a steady load at any concurrency keeps every connection it reuses: unlike a fixed cap below
// its concurrency, nothing is closed and reopened request after request (HAProxy keeps idle
// connections and purges the surplus gradually in the same way).
//
// The window's surplus is the fewest connections that were idle at any moment of it: takes
// lower the count, returns raise it, and the lowest point bounds what the peak in use left
// unused. A fresh sizer knows no surplus for a whole window, so a new pool keeps what it gets
// for at least that long.
//
// Loop affinity: the owning worker's; plain counters, nothing shared.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace outrigger::upstream {

class KeepaliveSizer {
 public:
  static constexpr size_t kWindowTicks = 10;

  // A connection was taken from the idle list; `idle` are left.
  void OnTake(size_t idle) { low_ = std::min(low_, idle); }

  // Once per upkeep tick, with the number idle now. Returns how many of them to close (the
  // caller closes the least recently used), at most `idle`.
  size_t Tick(size_t idle) {
    lows_[next_] = static_cast<uint32_t>(std::min({low_, idle, size_t{UINT32_MAX}}));
    next_ = (next_ + 1) % kWindowTicks;
    const size_t surplus = *std::min_element(lows_.begin(), lows_.end());
    const size_t close = (surplus + 3) / 4;  // a quarter, rounded up: 0 only with no surplus
    // The closed connections were idle in every tick of the window: each tick's low drops.
    for (uint32_t& low : lows_) low -= static_cast<uint32_t>(std::min<size_t>(low, close));
    low_ = idle - close;
    return close;
  }

 private:
  size_t low_ = 0;                             // fewest idle since the last tick
  std::array<uint32_t, kWindowTicks> lows_{};  // the last ticks' lows; 0 until seen
  size_t next_ = 0;                            // slot of lows_ the next tick writes
};

}  // namespace outrigger::upstream
