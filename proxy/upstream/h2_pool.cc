// H2Pool: a worker's multiplexed HTTP/2 backend connections (h2_pool.h).
#include "proxy/upstream/h2_pool.h"

#include <algorithm>
#include <utility>

namespace outrigger::upstream {

H2Connection* H2Pool::Find(const Backend* backend) const {
  auto it = conns_.find(backend);
  if (it == conns_.end()) return nullptr;
  H2Connection* best = nullptr;
  for (const auto& c : it->second) {
    if (c->CanOpenStream() && (best == nullptr || c->streams() < best->streams())) {
      best = c.get();
    }
  }
  return best;
}

H2Connection* H2Pool::Add(std::unique_ptr<net::Stream> stream, std::shared_ptr<Backend> backend,
                          const http2::CodecLimits& limits, std::string scheme,
                          std::chrono::milliseconds idle_timeout) {
  const Backend* key = backend.get();
  auto conn = std::make_unique<H2Connection>(base_, std::move(stream), std::move(backend), limits,
                                             std::move(scheme), idle_timeout,
                                             [this](H2Connection* c) { Remove(c); });
  H2Connection* raw = conn.get();
  conns_[key].push_back(std::move(conn));
  return raw;
}

void H2Pool::Shutdown() {
  for (auto& [backend, list] : conns_) {
    for (auto& c : list) c->Shutdown();
  }
}

size_t H2Pool::count(const Backend* backend) const {
  auto it = conns_.find(backend);
  return it == conns_.end() ? 0 : it->second.size();
}

void H2Pool::Remove(H2Connection* conn) {
  auto it = conns_.find(conn->backend());
  if (it == conns_.end()) return;
  auto& list = it->second;
  auto pos = std::find_if(list.begin(), list.end(), [&](const auto& c) { return c.get() == conn; });
  if (pos == list.end()) return;
  std::unique_ptr<H2Connection> doomed = std::move(*pos);
  list.erase(pos);
  if (list.empty()) conns_.erase(it);
  // `doomed` is destroyed here, as the connection's last act (H2Connection::Die).
}

}  // namespace outrigger::upstream
