// ConnectionPool: a worker's idle keep-alive connections, per backend (nginx's upstream
// keepalive, HAProxy's idle server connections). Loop affinity: one worker loop; no locks.
//
// An idle connection is watched: if the backend closes it, sends unsolicited bytes, or it
// stays idle past the pool's idle timeout, it is closed and forgotten. Acquire returns the
// most recently used connection (warmest, least likely to have hit the backend's timeout).
//
// A backend's entry owns a reference to it, so the pool never reads a freed Backend (a reload
// or DNS change may drop the last other one); entries that hold no connection are erased on
// the next Upkeep, so the map holds only backends used in the last second.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <list>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "proxy/upstream/keepalive_sizer.h"
#include "proxy/upstream/upstream_connection.h"

namespace outrigger::upstream {

class ConnectionPool {
 public:
  // Release's max_idle for `keepalive: auto`: keep what recent traffic needed
  // (keepalive_sizer.h), no fixed cap.
  static constexpr uint32_t kAdaptive = std::numeric_limits<uint32_t>::max();

  ConnectionPool() = default;
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection to `backend`, or null. It has no callbacks and is still being read
  // (its read event stays registered: handing it over costs no syscall), with the pool's idle
  // timeout as its read timeout until the new owner sets its own. It counts as in use again.
  std::unique_ptr<UpstreamConnection> Acquire(const Backend* backend);
  // As Acquire, but only a connection the backend still holds open (PeerOpen), closing the
  // dead ones it meets: for a request that cannot be resent if the connection turns out
  // stale. One recv per connection looked at.
  std::unique_ptr<UpstreamConnection> AcquireOpen(const Backend* backend);

  // Pools `conn` for reuse unless `max_idle` connections to its backend are already idle,
  // in which case it is closed (max_idle 0: always). kAdaptive: pools it, and Upkeep closes
  // what recent traffic did not need. REQUIRES: the connection carries no unread or unsent
  // bytes.
  void Release(std::unique_ptr<UpstreamConnection> conn, uint32_t max_idle,
               std::chrono::milliseconds idle_timeout);

  // Closes every idle connection to `backend` (it died or left the pool).
  void CloseAll(const Backend* backend);
  // Once a second. Closes the idle connections to backends with any of `reasons`
  // (Backend::Unavailable: a dead or departing backend should not keep sockets of ours open)
  // and part of an adaptive pool's surplus, and forgets the backends it holds none to.
  void Upkeep(uint32_t reasons);
  // Closes every idle connection (drain).
  void Clear() { entries_.clear(); }

  size_t idle_count(const Backend* backend) const;
  // Backends the pool has an entry for (bounded: see above).
  size_t backend_count() const { return entries_.size(); }

 private:
  using List = std::list<std::unique_ptr<UpstreamConnection>>;
  struct Entry {
    std::shared_ptr<Backend> backend;  // the key's Backend, alive as long as the entry
    List idle;                         // least recently used first
    KeepaliveSizer sizer;
    bool adaptive = false;  // the last Release had kAdaptive
  };
  static void OnIdleRead(void* conn);
  static void OnIdleEvent(short what, void* conn);
  void Forget(UpstreamConnection* conn);

  absl::flat_hash_map<const Backend*, Entry> entries_;
};

}  // namespace outrigger::upstream
