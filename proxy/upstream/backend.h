// A backend: one address of a pool, and the state every thread shares about it.
//
// Thread contract: identity (pool, address) is constant after construction; the label is
// changed by the control thread only (a reload renames the backend). Everything else is atomic and
// written with relaxed ordering: each field is an independent fact (a count, a timestamp, a
// state bit) and no reader needs one field to be consistent with another. Workers read and
// update load; the control thread writes eligibility. A Backend outlives every snapshot that
// names it (shared_ptr), so a backend with the same pool and address keeps its state and
// counters across reloads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "proxy/net/address.h"

namespace outrigger::upstream {

class CircuitBreaker;

class Backend : public std::enable_shared_from_this<Backend> {
 public:
  // Reasons a backend may not take a new request; several may hold at once.
  enum Unavailable : uint32_t {
    kDead = 1u << 0,         // failed its live probe
    kUnready = 1u << 1,      // failed its ready probe
    kDraining = 1u << 2,     // removed (DNS, reload): in-flight work finishes, nothing new
    kCircuitOpen = 1u << 3,  // circuit breaker open
    // Set by an operator through the admin API (upstream/operator_overrides.h): `drain`,
    // `maint` or weight 0; in-flight work finishes, nothing new.
    kOperatorOut = 1u << 4,
    kMaint = 1u << 5,  // `maint`: also its idle connections close and its probes stop
  };

  Backend(std::string pool, net::SocketAddress address, std::string label)
      : pool_(std::move(pool)), address_(address) {
    set_label(std::move(label));
  }
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  const std::string& pool() const { return pool_; }
  const net::SocketAddress& address() const { return address_; }
  // The `backend` label of its metrics: the configured name, or "ip:port".
  // Any thread; the reference stays valid for the Backend's life.
  const std::string& label() const { return *label_.load(std::memory_order_acquire); }
  // Control thread only (a reload that renames the backend).
  void set_label(std::string label) {
    labels_.push_back(std::make_unique<const std::string>(std::move(label)));
    label_.store(labels_.back().get(), std::memory_order_release);
  }

  // May take a new request now (before per-backend caps, which the caller checks).
  bool Available() const { return unavailable_.load(std::memory_order_relaxed) == 0; }
  uint32_t unavailable() const { return unavailable_.load(std::memory_order_relaxed); }
  void SetUnavailable(uint32_t reason, bool on) {
    if (on) {
      unavailable_.fetch_or(reason, std::memory_order_relaxed);
    } else {
      unavailable_.fetch_and(~reason, std::memory_order_relaxed);
    }
  }
  // SetUnavailable and a read of one reason, seq_cst (SyncCircuitFlag); the exchange returns
  // whether `reason` was set before.
  bool HasUnavailable(uint32_t reason) const {
    return (unavailable_.load(std::memory_order_seq_cst) & reason) != 0;
  }
  bool ExchangeUnavailable(uint32_t reason, bool on) {
    const uint32_t old = on ? unavailable_.fetch_or(reason, std::memory_order_seq_cst)
                            : unavailable_.fetch_and(~reason, std::memory_order_seq_cst);
    return (old & reason) != 0;
  }

  // Requests in flight on this backend from every worker, plus open tunnels: the load that
  // least_conn and p2c_ewma weigh.
  int64_t active_requests() const { return active_requests_.load(std::memory_order_relaxed); }
  void AddActive(int64_t delta) { active_requests_.fetch_add(delta, std::memory_order_relaxed); }

  // Upstream connections to this backend from every worker that are in use: opening, or
  // carrying a request or a tunnel. max_connections caps this count (upstream/caps.h); one
  // idle in a worker's keep-alive pool is not in use, as it loads the backend with nothing.
  // Kept by UpstreamConnection as it is opened, pooled, taken back and closed.
  std::atomic<int64_t>& connections_in_use() { return connections_in_use_; }
  int64_t connections_in_use() const { return connections_in_use_.load(std::memory_order_relaxed); }
  void AddConnectionsInUse(int64_t delta) {
    connections_in_use_.fetch_add(delta, std::memory_order_relaxed);
  }
  // Every upstream connection to this backend from every worker: in use or idle.
  int64_t connections() const { return connections_in_use() + idle_connections(); }
  // The ones idle in a worker's keep-alive pool (outrigger_backend_connections).
  int64_t idle_connections() const { return idle_connections_.load(std::memory_order_relaxed); }
  void AddIdleConnections(int64_t delta) {
    idle_connections_.fetch_add(delta, std::memory_order_relaxed);
  }
  std::atomic<int64_t>& pending() { return pending_; }
  int64_t pending() const { return pending_.load(std::memory_order_relaxed); }

  // Monotonic ns at which the backend last became available (0: since start-up, no ramp).
  // Slow start ramps the effective weight from this instant.
  int64_t available_since_ns() const { return available_since_ns_.load(std::memory_order_relaxed); }
  void set_available_since_ns(int64_t t) {
    available_since_ns_.store(t, std::memory_order_relaxed);
  }

  // Passive failure detection (upstream/circuit_breaker.h); null when not set up. Held by
  // shared_ptr so this header needs only a declaration (balance/ stays free of upstream/).
  // REQUIRES: set once, before the Backend is published to workers.
  CircuitBreaker* breaker() const { return breaker_.get(); }
  void set_breaker(std::shared_ptr<CircuitBreaker> b) { breaker_ = std::move(b); }

  // Peak-EWMA latency state (balance/peak_ewma.h owns the maths).
  std::atomic<int64_t>& ewma_ns() { return ewma_ns_; }
  std::atomic<int64_t>& ewma_stamp_ns() { return ewma_stamp_ns_; }
  const std::atomic<int64_t>& ewma_ns() const { return ewma_ns_; }
  const std::atomic<int64_t>& ewma_stamp_ns() const { return ewma_stamp_ns_; }

 private:
  // Constant after construction.
  const std::string pool_;
  const net::SocketAddress address_;
  std::shared_ptr<CircuitBreaker> breaker_;
  // Every label the backend has had, the current one last (control thread only): a worker may
  // still be formatting a log line with an earlier one, so none is freed before the Backend.
  // Renames are operator actions, so the list stays short.
  std::vector<std::unique_ptr<const std::string>> labels_;
  std::atomic<const std::string*> label_{nullptr};

  // Shared, relaxed.
  std::atomic<uint32_t> unavailable_{0};
  std::atomic<int64_t> active_requests_{0};
  std::atomic<int64_t> connections_in_use_{0};
  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> idle_connections_{0};
  std::atomic<int64_t> available_since_ns_{0};
  std::atomic<int64_t> ewma_ns_{0};
  std::atomic<int64_t> ewma_stamp_ns_{0};
};

}  // namespace outrigger::upstream
