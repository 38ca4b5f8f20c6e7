#include "proxy/upstream/connection_pool.h"

namespace outrigger::upstream {

std::unique_ptr<UpstreamConnection> ConnectionPool::Acquire(const Backend* backend) {
  auto it = entries_.find(backend);
  if (it == entries_.end() || it->second.idle.empty()) return nullptr;
  Entry& entry = it->second;
  std::unique_ptr<UpstreamConnection> conn = std::move(entry.idle.back());
  entry.idle.pop_back();
  entry.sizer.OnTake(entry.idle.size());
  conn->SetPool(nullptr);
  conn->stream().SetCallbacks(nullptr, nullptr, nullptr, nullptr);
  return conn;
}

std::unique_ptr<UpstreamConnection> ConnectionPool::AcquireOpen(const Backend* backend) {
  while (std::unique_ptr<UpstreamConnection> conn = Acquire(backend)) {
    if (conn->PeerOpen()) return conn;
  }
  return nullptr;
}

void ConnectionPool::Release(std::unique_ptr<UpstreamConnection> conn, uint32_t max_idle,
                             std::chrono::milliseconds idle_timeout) {
  if (max_idle == 0) return;  // `conn` closes as it goes out of scope; no entry for it
  Entry& entry = entries_[conn->backend()];
  if (entry.backend == nullptr) entry.backend = conn->backend_;
  entry.adaptive = max_idle == kAdaptive;
  if (!entry.adaptive && entry.idle.size() >= max_idle) return;
  UpstreamConnection* c = conn.get();
  entry.idle.push_back(std::move(conn));
  c->SetPool(this);
  c->idle_pos_ = std::prev(entry.idle.end());
  net::Stream& stream = c->stream();
  stream.SetCallbacks(&ConnectionPool::OnIdleRead, nullptr, &ConnectionPool::OnIdleEvent, c);
  stream.SetReadTimeout(idle_timeout);
  stream.EnableRead();
}

void ConnectionPool::OnIdleRead(void* conn) {
  // A backend must not send anything on an idle connection: it is out of sync; drop it.
  auto* c = static_cast<UpstreamConnection*>(conn);
  c->pool_->Forget(c);
}

void ConnectionPool::OnIdleEvent(short, void* conn) {
  // EOF, error or idle timeout: the connection is no longer worth keeping.
  auto* c = static_cast<UpstreamConnection*>(conn);
  c->pool_->Forget(c);
}

void ConnectionPool::Forget(UpstreamConnection* conn) {
  auto it = entries_.find(conn->backend());
  it->second.idle.erase(conn->idle_pos_);  // destroys `conn`, closing its socket
}

void ConnectionPool::CloseAll(const Backend* backend) { entries_.erase(backend); }

void ConnectionPool::Upkeep(uint32_t reasons) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    Entry& entry = it->second;
    if (entry.idle.empty() || (entry.backend->unavailable() & reasons) != 0) {
      entries_.erase(it++);  // closes its connections, then drops the Backend reference
      continue;
    }
    if (entry.adaptive) {
      for (size_t n = entry.sizer.Tick(entry.idle.size()); n > 0; --n) entry.idle.pop_front();
    }
    ++it;
  }
}

size_t ConnectionPool::idle_count(const Backend* backend) const {
  auto it = entries_.find(backend);
  return it == entries_.end() ? 0 : it->second.idle.size();
}

}  // namespace outrigger::upstream
