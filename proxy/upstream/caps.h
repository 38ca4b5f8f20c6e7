// Per-backend caps (design.md circuit_breaker.max_connections / max_pending / max_requests):
// the load a backend may carry from all workers together before it takes no more, so a slow
// backend cannot absorb every connection and request of the proxy.
//
// The caps bound three counters shared by every worker (atomics on Backend, relaxed):
//   connections: upstream connections to the backend in use, being opened or carrying a
//                request (Backend::connections_in_use); idle ones in a worker's pool load the
//                backend with nothing and do not count, and reusing one takes a slot;
//   pending:     requests waiting for a connection to it (every connection busy, cap hit);
//   requests:    requests in flight on it, tunnels included (Backend::active_requests()).
//
// CheckCaps() decides from a snapshot of those counters; between the check and the increment
// other workers may pass the same check, so a check-then-increment cap can be exceeded by up
// to one per worker. Where the cap must hold exactly, take the slot with TryAcquire(), which
// checks and increments in one step.
//
// Thread contract: pure functions, plus TryAcquire/Release on a caller's shared atomic; usable
// from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace outrigger::upstream {

class Backend;

// Whether a request to a backend can go as a stream on a connection the caller holds already
// (an h2 pool's multiplexed connection): such a request takes no connection slot, so
// max_connections and max_pending do not stop it; max_requests still does.
class StreamRoom {
 public:
  virtual bool CanOpenStream(const Backend* backend) const = 0;

 protected:
  ~StreamRoom() = default;
};

struct BackendCaps {
  uint32_t max_connections = 1024;
  uint32_t max_pending = 128;  // 0: never queue for this backend
  uint32_t max_requests = 1024;
};

// A reading of the backend's shared counters.
struct BackendLoad {
  int64_t connections = 0;
  int64_t pending = 0;
  int64_t requests = 0;
};

enum class CapVerdict : uint8_t {
  kSend,       // send now, on a connection within max_connections (idle or new)
  kWait,       // queue for a connection: the connection cap is hit but the queue is not full
  kOverLimit,  // take nothing: try another backend, or shed with reason over_limit
};

constexpr CapVerdict CheckCaps(const BackendLoad& load, const BackendCaps& caps) {
  if (load.requests >= caps.max_requests) return CapVerdict::kOverLimit;
  if (load.connections < caps.max_connections) return CapVerdict::kSend;
  if (load.pending < caps.max_pending) return CapVerdict::kWait;
  return CapVerdict::kOverLimit;
}

// Whether the backend can take no new request at all: the balancer should skip it.
constexpr bool OverCaps(const BackendLoad& load, const BackendCaps& caps) {
  return CheckCaps(load, caps) == CapVerdict::kOverLimit;
}

// Takes one unit of `counter` if that keeps it at most `cap`; exact however many threads race,
// and the counter never passes the cap even briefly. Relaxed: the counter is a count and
// publishes no other memory. Every true must be matched by one Release().
inline bool TryAcquire(std::atomic<int64_t>& counter, int64_t cap) {
  int64_t value = counter.load(std::memory_order_relaxed);
  do {
    if (value >= cap) return false;
  } while (!counter.compare_exchange_weak(value, value + 1, std::memory_order_relaxed));
  return true;
}

inline void Release(std::atomic<int64_t>& counter) {
  counter.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace outrigger::upstream
