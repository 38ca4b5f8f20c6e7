// UpstreamConnection: one TCP connection from a worker to a backend. Owned by whoever is
// using it: an exchange while a request is on it, the worker's ConnectionPool while idle.
// Loop affinity: the worker loop that created it.
#pragma once

#include <cstdint>
#include <list>
#include <memory>

#include "proxy/net/stream.h"
#include "proxy/upstream/backend.h"

namespace outrigger::upstream {

class ConnectionPool;

// It counts itself on its Backend: in use (Backend::connections_in_use) from its opening, idle
// while pooled, in use again once taken back, until it closes.
class UpstreamConnection {
 public:
  UpstreamConnection(std::unique_ptr<net::Stream> stream, std::shared_ptr<Backend> backend)
      : stream_(std::move(stream)), backend_(std::move(backend)) {
    backend_->AddConnectionsInUse(1);
  }
  ~UpstreamConnection() {
    if (pool_ != nullptr) {
      backend_->AddIdleConnections(-1);
    } else {
      backend_->AddConnectionsInUse(-1);
    }
  }
  UpstreamConnection(const UpstreamConnection&) = delete;
  UpstreamConnection& operator=(const UpstreamConnection&) = delete;

  net::Stream& stream() const { return *stream_; }
  Backend* backend() const { return backend_.get(); }

  // Whether the backend still holds its end open, checked with one non-blocking
  // recv(MSG_PEEK): false on EOF, an error, or unsolicited bytes (the connection is out of
  // sync). For a pooled connection about to carry a request that must not be sent twice: it
  // narrows, without closing, the race with the backend's keep-alive timeout.
  bool PeerOpen() const;

  // Requests completed on this connection; > 0 means it was reused from the pool, so a
  // failure before any response byte may just be the backend's keep-alive timeout racing us.
  uint64_t requests = 0;

 private:
  friend class ConnectionPool;
  // Entering (pool != null) or leaving a pool; keeps the Backend's idle and in-use counts.
  void SetPool(ConnectionPool* pool) {
    if ((pool_ == nullptr) != (pool == nullptr)) {
      backend_->AddIdleConnections(pool ? 1 : -1);
      backend_->AddConnectionsInUse(pool ? -1 : 1);
    }
    pool_ = pool;
  }
  std::unique_ptr<net::Stream> stream_;
  std::shared_ptr<Backend> backend_;  // keeps the Backend alive past a reload that drops it
  // Valid while pooled: the pool that holds it and its place there, for O(1) removal.
  ConnectionPool* pool_ = nullptr;
  std::list<std::unique_ptr<UpstreamConnection>>::iterator idle_pos_;
};

}  // namespace outrigger::upstream
