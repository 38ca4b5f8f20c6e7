// ResetBudget: a token bucket of stream resets per connection, nghttp2's shape (a burst, then
// a steady rate per second) for the two kinds a server must bound:
//   - Rapid Reset (CVE-2023-44487): the client opens streams and cancels them at once, so
//     the backend work each one starts costs the client nothing and the stream limit
//     never binds;
//   - MadeYouReset (CVE-2025-8671): the client sends frames that make the server reset the
//     stream itself (a window overflow, a malformed head), to the same effect.
// The default 1,000 burst and 33 per second are nghttp2's (and nghttpx's): far more than a
// browser cancelling navigations needs, far fewer than an attack sends.
//
// The clock is the caller's, in whole seconds, so the refill is exact in tests.
#pragma once

#include <algorithm>
#include <cstdint>

namespace outrigger::http2 {

class ResetBudget {
 public:
  ResetBudget(uint64_t burst, uint64_t per_second) : burst_(burst), rate_(per_second) {}

  // Takes one reset at `now_sec`; false when the budget is spent. REQUIRES: `now_sec` never
  // goes backwards (a steady clock).
  bool Take(int64_t now_sec) {
    if (last_sec_ < 0) {
      tokens_ = burst_;
    } else if (now_sec > last_sec_) {
      tokens_ = std::min(burst_, tokens_ + rate_ * uint64_t(now_sec - last_sec_));
    }
    last_sec_ = std::max(last_sec_, now_sec);
    if (tokens_ == 0) return false;
    --tokens_;
    return true;
  }

 private:
  uint64_t burst_, rate_, tokens_ = 0;
  int64_t last_sec_ = -1;  // -1: never taken, the bucket starts full
};

}  // namespace outrigger::http2
