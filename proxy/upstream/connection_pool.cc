#include "proxy/upstream/connection_pool.h"

namespace outrigger::upstream {

std::unique_ptr<UpstreamConnection> ConnectionPool::Acquire(const Backend* backend) {
  auto it = idle_.find(backend);
  if (it == idle_.end() || it->second.empty()) return nullptr;
  std::unique_ptr<UpstreamConnection> conn = std::move(it->second.back());
  it->second.pop_back();
  conn->SetPool(nullptr);
  bufferevent_setcb(conn->bev(), nullptr, nullptr, nullptr, nullptr);
  bufferevent_disable(conn->bev(), EV_READ);
  bufferevent_set_timeouts(conn->bev(), nullptr, nullptr);
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
  bufferevent_setcb(c->bev(), &ConnectionPool::OnIdleRead, nullptr, &ConnectionPool::OnIdleEvent,
                    c);
  timeval tv{static_cast<time_t>(idle_timeout.count() / 1000),
             static_cast<suseconds_t>((idle_timeout.count() % 1000) * 1000)};
  bufferevent_set_timeouts(c->bev(), &tv, nullptr);
  bufferevent_enable(c->bev(), EV_READ);
}

void ConnectionPool::OnIdleRead(bufferevent*, void* conn) {
  // A backend must not send anything on an idle connection: it is out of sync; drop it.
  auto* c = static_cast<UpstreamConnection*>(conn);
  c->pool_->Forget(c);
}

void ConnectionPool::OnIdleEvent(bufferevent*, short, void* conn) {
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
