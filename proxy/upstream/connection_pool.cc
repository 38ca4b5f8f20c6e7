#include "proxy/upstream/connection_pool.h"

namespace outrigger::upstream {

std::unique_ptr<UpstreamConnection> ConnectionPool::Acquire(const Backend* backend) {
  auto it = idle_.find(backend);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<UpstreamConnection> conn = std::move(it->second.back());
  it->second.pop_back();
  conn->SetPool(nullptr);
  conn->stream().SetCallbacks(nullptr, nullptr, nullptr, nullptr);
  return conn;
}

void ConnectionPool::Release(std::unique_ptr<UpstreamConnection> conn, uint32_t max_idle,
                             std::chrono::milliseconds idle_timeout) {
  List& list = idle_[conn->backend()];
  if (list.size() >= max_idle) return;  // `conn` closes as it goes out of scope
  UpstreamConnection* c = conn.get();
  list.push_back(std::move(conn));
  c->SetPool(this);
  c->idle_pos_ = std::prev(list.end());
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
  auto it = idle_.find(conn->backend());
  it->second.erase(conn->idle_pos_);  // destroys `conn`, closing its socket
}

void ConnectionPool::CloseAll(const Backend* backend) { idle_.erase(backend); }

void ConnectionPool::CloseUnavailable(uint32_t reasons) {
  absl::erase_if(
      idle_, [reasons](const auto& entry) { return (entry.first->unavailable() & reasons) != 0; });
}

size_t ConnectionPool::idle_count(const Backend* backend) const {
  auto it = idle_.find(backend);
  return it == idle_.end() ? 0 : it->second.size();
}

}  // namespace outrigger::upstream
