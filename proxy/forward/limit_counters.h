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

// The HTTP/2 codec's limits (proxy/http2/server_codec.h, CodecStats), exported as
// outrigger_http2_limit_hits_total{listener, limit}; the labels are CodecStats' field names.
inline constexpr size_t kHttp2LimitCount = 11;
inline constexpr std::array<std::string_view, kHttp2LimitCount> kHttp2LimitLabels = {
    "streams_refused", "headers_too_large",  "malformed_requests", "continuation_floods",
    "rapid_resets",    "local_reset_floods", "control_floods",     "empty_frame_floods",
    "settings_floods", "hpack_errors",       "protocol_errors"};

class LimitCounters {
 public:
  void Count(Limit limit) {
    std::atomic<uint64_t>& c = counts_[static_cast<size_t>(limit)];
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  uint64_t Read(Limit limit) const {
    return counts_[static_cast<size_t>(limit)].load(std::memory_order_relaxed);
  }
  // `index` into kHttp2LimitLabels.
  void AddHttp2(size_t index, uint64_t n) {
    std::atomic<uint64_t>& c = http2_counts_[index];
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t ReadHttp2(size_t index) const {
    return http2_counts_[index].load(std::memory_order_relaxed);
  }
  // Open HTTP/2 connections and streams, for /status: each session adds what it opens and
  // takes back, against the counters it started on, all it added when it ends.
  void AddHttp2Open(int64_t connections, int64_t streams) {
    h2_connections_.store(h2_connections_.load(std::memory_order_relaxed) + connections,
                          std::memory_order_relaxed);
    h2_streams_.store(h2_streams_.load(std::memory_order_relaxed) + streams,
                      std::memory_order_relaxed);
  }
  int64_t Http2Connections() const { return h2_connections_.load(std::memory_order_relaxed); }
  int64_t Http2Streams() const { return h2_streams_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kLimitCount> counts_{};
  std::array<std::atomic<uint64_t>, kHttp2LimitCount> http2_counts_{};
  std::atomic<int64_t> h2_connections_{0};
  std::atomic<int64_t> h2_streams_{0};
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
