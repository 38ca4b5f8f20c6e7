// LimitCounters: how often one listener's abuse limits fired on one worker. They are what
// `/metrics` exposes as outrigger_downstream_limit_hits_total{listener, limit}.
//
// Thread contract: Count() only on the owning worker's loop (single writer, so a relaxed
// load + store is enough and nothing contends); Read() from any thread at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace outrigger::forward {

enum class Limit : uint8_t {
  kHeaderTimeout,   // a head not complete within timeouts.header: 408 (slowloris)
  kIdleTimeout,     // a keep-alive connection closed after timeouts.idle without a request
  kHeadSize,        // a request line or head over its limit: 414 or 431
  kBadRequest,      // a head or chunked body that breaks HTTP/1.1 framing: 400
  kMaxBody,         // a request body over the route's max_body: 413
  kMaxConnections,  // the listener's connection budget was spent: accepting paused
  kAcceptBackoff,   // accept() failed for want of descriptors or memory: accepting paused
};
inline constexpr size_t kLimitCount = 7;
// The `limit` label values, indexed by Limit.
inline constexpr std::array<std::string_view, kLimitCount> kLimitLabels = {
    "header_timeout", "idle_timeout",    "header_size",   "bad_request",
    "max_body",       "max_connections", "accept_backoff"};

class LimitCounters {
 public:
  void Count(Limit limit) {
    std::atomic<uint64_t>& c = counts_[static_cast<size_t>(limit)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t Read(Limit limit) const {
    return counts_[static_cast<size_t>(limit)].load(std::memory_order_relaxed);
  }

 private:
  std::array<std::atomic<uint64_t>, kLimitCount> counts_{};
};

// One worker's LimitCounters by listener name. Listeners come and go with reloads; their
// counters stay (a Prometheus counter must not fall), so a pointer from For() stays valid
// for the set's life.
//
// Thread contract: For() on the owning worker's loop, when it starts serving a listener (not
// per request); ForEach() from any thread. Both take the mutex, which the request path never
// does: it counts through the pointer For() returned.
class LimitCounterSet {
 public:
  LimitCounters* For(const std::string& listener) {
    std::lock_guard lock(mu_);
    return &counters_[listener];
  }
  void ForEach(
      const std::function<void(const std::string& listener, const LimitCounters&)>& fn) const {
    std::lock_guard lock(mu_);
    for (const auto& [name, counters] : counters_) fn(name, counters);
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, LimitCounters> counters_;  // guarded by mu_; nodes never move
};

}  // namespace outrigger::forward
