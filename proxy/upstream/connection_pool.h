// ConnectionPool: a worker's idle keep-alive connections, per backend (nginx's upstream
// keepalive, HAProxy's idle server connections). Loop affinity: one worker loop; no locks.
//
// An idle connection is watched: if the backend closes it, sends unsolicited bytes, or it
// stays idle past the pool's idle timeout, it is closed and forgotten. Acquire returns the
// most recently used connection (warmest, least likely to have hit the backend's timeout).
#pragma once

#include <chrono>
#include <list>
#include <memory>

#include "absl/container/flat_hash_map.h"
#include "proxy/upstream/upstream_connection.h"

namespace outrigger::upstream {

class ConnectionPool {
 public:
  ConnectionPool() = default;
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // An idle connection to `backend`, or null. It has no callbacks and is still being read
  // (its read event stays registered: handing it over costs no syscall), with the pool's idle
  // timeout as its read timeout until the new owner sets its own.
  std::unique_ptr<UpstreamConnection> Acquire(const Backend* backend);

  // Pools `conn` for reuse unless `max_idle` connections to its backend are already idle,
  // in which case it is closed. REQUIRES: the connection carries no unread or unsent bytes.
  void Release(std::unique_ptr<UpstreamConnection> conn, uint32_t max_idle,
               std::chrono::milliseconds idle_timeout);

  // Closes every idle connection to `backend` (it died or left the pool).
  void CloseAll(const Backend* backend);
  // Closes the idle connections to backends with any of `reasons` (Backend::Unavailable): a
  // dead or departing backend should not keep sockets of ours open.
  void CloseUnavailable(uint32_t reasons);
  // Closes every idle connection (drain).
  void Clear() { idle_.clear(); }

  size_t idle_count(const Backend* backend) const;

 private:
  using List = std::list<std::unique_ptr<UpstreamConnection>>;
  static void OnIdleRead(void* conn);
  static void OnIdleEvent(short what, void* conn);
  void Forget(UpstreamConnection* conn);

  absl::flat_hash_map<const Backend*, List> idle_;
};

}  // namespace outrigger::upstream
