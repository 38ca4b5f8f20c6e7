// H2Pool: a worker's HTTP/2 connections to the backends of its `protocol: h2` pools, a few per
// backend, each carrying many requests at once (h2_connection.h). A request takes a stream on
// a connection that can open one (Find), or the caller opens a new connection within the
// backend's max_connections and keeps it here (Add). A connection that dies is removed and
// destroyed as its last act; its owners have heard of it already.
//
// Loop affinity: one worker loop; no locks.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proxy/http2/codec_common.h"
#include "proxy/net/stream.h"
#include "proxy/upstream/backend.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/h2_connection.h"

namespace outrigger::upstream {

class H2Pool final : public StreamRoom {
 public:
  explicit H2Pool(event_base* base) : base_(base) {}
  H2Pool(const H2Pool&) = delete;
  H2Pool& operator=(const H2Pool&) = delete;

  // A connection to `backend` that can open a stream now, the least loaded, or null.
  H2Connection* Find(const Backend* backend) const;
  // StreamRoom: Find() has one.
  bool CanOpenStream(const Backend* backend) const override { return Find(backend) != nullptr; }
  // Keeps a new connection over `stream` (connecting or connected to `backend`; with its TLS
  // filter when `scheme` is "https") and returns it.
  H2Connection* Add(std::unique_ptr<net::Stream> stream, std::shared_ptr<Backend> backend,
                    const http2::CodecLimits& limits, std::string scheme,
                    std::chrono::milliseconds idle_timeout);
  // No new stream on any connection; the open ones finish (drain).
  void Shutdown();
  // Connections to `backend`, dead ones not yet removed included.
  size_t count(const Backend* backend) const;

 private:
  void Remove(H2Connection* conn);

  event_base* base_;
  absl::flat_hash_map<const Backend*, std::vector<std::unique_ptr<H2Connection>>> conns_;
};

}  // namespace outrigger::upstream
