#include "proxy/forward/worker.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <optional>

#include "proxy/base/log.h"
#include "proxy/forward/http1_session.h"

namespace outrigger::forward {

Worker::Worker(int id, std::shared_ptr<const Snapshot> snapshot, metrics::Collector* collector,
               unsigned worker_count)
    : id_(id),
      collector_(collector),
      worker_count_(std::max(worker_count, 1u)),
      base_(net::NewEventBase(net::BaseThreads::kOwnerOnly)),
      mailbox_(base_.get()),
      sweep_(event_new(base_.get(), -1, 0, &Worker::OnSweep, this)),
      upkeep_(event_new(base_.get(), -1, EV_PERSIST, &Worker::OnUpkeep, this)),
      seed_(static_cast<uint64_t>(id) << 32) {
  AdoptSnapshot(std::move(snapshot));
}

Worker::~Worker() {
  Join();
  // Connections reference the loop and the pool: end them first.
  connections_.clear();
  retired_.clear();
  connection_pool_.Clear();
  listeners_.clear();
}

absl::Status Worker::BindListeners() {
  const Snapshot& snap = *view_->snapshot;
  for (size_t i = 0; i < snap.listeners.size(); ++i) {
    absl::StatusOr<net::ListenSocket> socket =
        net::ListenSocket::Bind(snap.listeners[i].config->listen);
    if (!socket.ok()) return socket.status();
    if (absl::Status s = AddListener(i, snap.listeners[i].config->name, *std::move(socket));
        !s.ok()) {
      return s;
    }
  }
  listening_ = true;
  return absl::OkStatus();
}

absl::Status Worker::AddListener(size_t index, const std::string& name, net::ListenSocket socket) {
  auto slot = std::make_unique<ListenerSlot>(ListenerSlot{socket.address(), index, nullptr});
  ListenerSlot* raw = slot.get();
  raw->limits = limit_counters_.For(name);
  auto listener = net::Listener::Adopt(
      base_.get(), std::move(socket),
      [this, raw](evutil_socket_t fd, const net::SocketAddress& peer) {
        Accept(raw->index, fd, peer);
      },
      [raw] { raw->limits->Count(Limit::kAcceptBackoff); });
  if (!listener.ok()) return listener.status();
  slot->listener = *std::move(listener);
  listeners_.push_back(std::move(slot));
  return absl::OkStatus();
}

Worker::ListenerSlot* Worker::SlotFor(size_t listener_index) {
  for (auto& slot : listeners_) {
    if (slot->index == listener_index) return slot.get();
  }
  return nullptr;  // its socket could not be served (logged at the swap)
}

void Worker::UpdateAccepting(ListenerSlot& slot) {
  if (draining_) return;
  // Each worker gets an equal share of max_connections, as nginx's worker_connections: no
  // counter is shared between workers, and SO_REUSEPORT spreads connections evenly enough
  // that the shares fill together.
  const config::ListenerConfig& config = *view_->snapshot->listeners[slot.index].config;
  size_t budget = std::max<size_t>(1, (config.max_connections + worker_count_ - 1) / worker_count_);
  bool full = slot.connections >= budget;
  if (full && !slot.listener->paused()) {
    slot.listener->Pause();
    slot.limits->Count(Limit::kMaxConnections);
    spdlog::debug("worker {}: listener {} reached max_connections; not accepting", id_,
                  config.name);
  } else if (!full && slot.listener->paused()) {
    slot.listener->Resume();
  }
}

void Worker::CountLimit(const ClientFacts& client, Limit limit) {
  if (client.listener_gone) return;  // its listener was removed, and its counters with it
  if (ListenerSlot* slot = SlotFor(client.listener_index)) slot->limits->Count(limit);
}

LimitCounters* Worker::LimitsFor(const ClientFacts& client) {
  if (client.listener_gone) return nullptr;
  ListenerSlot* slot = SlotFor(client.listener_index);
  return slot != nullptr ? slot->limits : nullptr;
}

void Worker::CountHttp2Limit(const ClientFacts& client, size_t index, uint64_t n) {
  if (client.listener_gone) return;
  if (ListenerSlot* slot = SlotFor(client.listener_index)) slot->limits->AddHttp2(index, n);
}

void Worker::Start() {
  constexpr timeval kUpkeepEvery{1, 0};
  event_add(upkeep_.get(), &kUpkeepEvery);
  thread_ = std::thread([this] {
    event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
    stopped_.store(true, std::memory_order_release);
  });
}

void Worker::Join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::PostSnapshot(std::shared_ptr<const Snapshot> snapshot,
                          std::vector<net::ListenSocket> new_listeners,
                          std::shared_ptr<const void> adopted) {
  // The mailbox takes copyable tasks; the sockets travel behind a shared_ptr.
  auto sockets = std::make_shared<std::vector<net::ListenSocket>>(std::move(new_listeners));
  mailbox_.Post([this, s = std::move(snapshot), sockets, adopted = std::move(adopted)]() mutable {
    AdoptSnapshot(std::move(s), std::move(*sockets));
    adopted.reset();
  });
}

void Worker::PostDrain() {
  mailbox_.Post([this] { Drain(); });
}

void Worker::PostStop() {
  mailbox_.Post([this] { event_base_loopbreak(base_.get()); });
}

void Worker::AdoptSnapshot(std::shared_ptr<const Snapshot> snapshot,
                           std::vector<net::ListenSocket> new_listeners) {
  auto view = std::make_shared<WorkerView>();
  view->policies.reserve(snapshot->pools.size());
  for (const PoolRuntime& pool : snapshot->pools) {
    balance::PolicyOptions options;
    options.slow_start = pool.config->slow_start;
    options.seed = NextSeed();
    options.prepared = pool.prepared;
    view->policies.push_back(pool.policy(pool.members, options));
    // A pool's retry budget carries over a reload: its window is the pool's recent traffic,
    // which a new snapshot does not change.
    const upstream::RetryBudget* old = view_ ? view_->FindRetryBudget(pool.config->name) : nullptr;
    uint32_t percent = pool.config->retries.budget_percent;
    view->retry_budgets.push_back(
        old != nullptr && old->budget_percent() == percent ? *old : upstream::RetryBudget(percent));
  }
  view->shard = std::make_shared<metrics::Shard>(snapshot->metric_layout);
  view->access_logs.reserve(snapshot->listeners.size());
  for (const ListenerRuntime& l : snapshot->listeners) view->access_logs.emplace_back(l.access_log);
  view->snapshot = std::move(snapshot);
  if (listening_ && !draining_) SwapListeners(*view->snapshot, std::move(new_listeners));
  // Whether or not sockets changed (a draining worker keeps none), every connection's
  // listener index must be renumbered for the new snapshot: Retire and CountLimit index the
  // current view's shard with it.
  if (view_) MoveConnections(*view_, *view);
  collector_->AddShard(view->shard, view);
  view_ = std::move(view);
  // A reload may have moved max_connections either way.
  for (auto& slot : listeners_) UpdateAccepting(*slot);
}

void Worker::SwapListeners(const Snapshot& next, std::vector<net::ListenSocket> new_listeners) {
  std::vector<std::unique_ptr<ListenerSlot>> kept;
  kept.swap(listeners_);
  for (size_t i = 0; i < next.listeners.size(); ++i) {
    const net::SocketAddress& address = next.listeners[i].config->listen;
    auto old = std::find_if(kept.begin(), kept.end(),
                            [&](const auto& slot) { return slot && slot->address == address; });
    if (old != kept.end()) {
      (*old)->index = i;
      (*old)->limits = limit_counters_.For(next.listeners[i].config->name);  // maybe renamed
      listeners_.push_back(std::move(*old));
      continue;
    }
    auto socket = std::find_if(new_listeners.begin(), new_listeners.end(),
                               [&](const auto& s) { return s.address() == address; });
    absl::Status s = socket == new_listeners.end()
                         ? absl::InternalError("no socket was bound for it")
                         : AddListener(i, next.listeners[i].config->name, std::move(*socket));
    if (!s.ok()) {
      spdlog::error("worker {}: cannot serve listener on {}: {}", id_, address.ToString(),
                    std::string(s.message()));
    }
  }
  // What is left in `kept` are removed listeners: their sockets close with them. Their
  // connections finish the request in flight, then close (MoveConnections).
}

void Worker::MoveConnections(const WorkerView& previous_view, const WorkerView& next_view) {
  const Snapshot& previous = *previous_view.snapshot;
  const Snapshot& next = *next_view.snapshot;
  // Backwards: MoveListener may retire the connection, whose slot then takes the last one,
  // which this loop has already seen.
  for (size_t i = connections_.size(); i-- > 0;) {
    Http1Session* conn = connections_[i].get();
    if (conn->listener_gone()) continue;
    const size_t was = conn->listener_index();
    const config::ListenerConfig& config = *previous.listeners[was].config;
    std::optional<size_t> index;
    for (size_t i = 0; i < next.listeners.size() && !index; ++i) {
      if (next.listeners[i].config->listen == config.listen) index = i;
    }
    if (!index || next.listeners[*index].config->name != config.name) {
      previous_view.shard->OnDownstreamConnection(static_cast<metrics::ListenerId>(was), -1);
      if (index)
        next_view.shard->OnDownstreamConnection(static_cast<metrics::ListenerId>(*index), 1);
    }
    conn->MoveListener(index);
  }
}

void Worker::Accept(size_t listener_index, evutil_socket_t fd, const net::SocketAddress& peer) {
  if (draining_) {
    evutil_closesocket(fd);
    return;
  }
  view_->shard->OnDownstreamConnection(static_cast<metrics::ListenerId>(listener_index), 1);
  connections_.push_back(std::make_unique<Http1Session>(*this, listener_index, fd, peer));
  connections_.back()->slot = static_cast<uint32_t>(connections_.size() - 1);
  connection_count_.fetch_add(1, std::memory_order_relaxed);
  peak_connections_ = std::max(peak_connections_, connections_.size());
  if (ListenerSlot* slot = SlotFor(listener_index)) {
    ++slot->connections;
    UpdateAccepting(*slot);
  }
}

void Worker::Retire(Http1Session* conn) {
  // A connection whose listener was removed counts against no slot, and left the gauge at
  // the swap (SwapListeners): its index means nothing in the current snapshot.
  if (!conn->listener_gone()) {
    view_->shard->OnDownstreamConnection(static_cast<metrics::ListenerId>(conn->listener_index()),
                                         -1);
    if (ListenerSlot* slot = SlotFor(conn->listener_index())) {
      --slot->connections;
      UpdateAccepting(*slot);
    }
  }
  const uint32_t at = conn->slot;
  retired_.push_back(std::move(connections_[at]));
  if (at + 1 != connections_.size()) {
    connections_[at] = std::move(connections_.back());
    connections_[at]->slot = at;
  }
  connections_.pop_back();
  connection_count_.fetch_sub(1, std::memory_order_relaxed);
  event_active(sweep_.get(), 0, 0);
}

std::unique_ptr<Exchange> Worker::TakeExchange() {
  if (std::unique_ptr<Exchange> spare = spare_exchanges_.Take()) return spare;
  return std::make_unique<Exchange>(this);
}

void Worker::ReturnExchange(std::unique_ptr<Exchange> exchange) {
  if (exchange == nullptr) return;
  exchange->ResetState();
  exchange->plugins.EndBody();  // a response cut short: its encoder goes back to the pool
  spare_exchanges_.Give(std::move(exchange));
}

void Worker::OnUpkeep(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  self->connection_pool_.Upkeep(upstream::Backend::kDead | upstream::Backend::kDraining |
                                upstream::Backend::kMaint);
  for (auto& conn : self->connections_) conn->TrimIdle();
  for (log::LogBuffer& b : self->view_->access_logs) b.Flush();  // lines of a quiet second
  if (self->peak_connections_ >= self->connections_.size() + kTrimAfterClosed) {
    // glibc keeps what thousands of connections freed (their pages hold a few live blocks
    // each) until asked; a trim walks every arena, which is why it waits for such a fall.
    self->peak_connections_ = self->connections_.size();
#ifdef __GLIBC__
    malloc_trim(0);
#endif
  }
}

void Worker::OnSweep(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  self->retired_.clear();
  self->MaybeExit();
}

void Worker::Drain() {
  if (draining_) return;
  draining_ = true;
  for (auto& l : listeners_) l->listener->Close();
  connection_pool_.Clear();
  h2_pool_.Shutdown();
  // Backwards: OnDrain may retire the connection, whose slot then takes the last one, which
  // this loop has already seen.
  for (size_t i = connections_.size(); i-- > 0;) connections_[i]->OnDrain();
  MaybeExit();
}

void Worker::MaybeExit() {
  if (draining_ && connections_.empty()) {
    spdlog::debug("worker {} drained", id_);
    event_base_loopexit(base_.get(), nullptr);
  }
}

}  // namespace outrigger::forward
