// Worker: one thread, one event loop, and everything the request path touches on it —
// listener sockets (SO_REUSEPORT), client connections, the idle upstream connections and
// this worker's instances of the balancing policies. Nothing here is shared with another
// worker; the control thread talks to it only through its mailbox.
#pragma once

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "plugins/store/stores.h"
#include "proxy/balance/policy.h"
#include "proxy/base/spares.h"
#include "proxy/forward/client_session.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/limit_counters.h"
#include "proxy/forward/snapshot.h"
#include "proxy/log/access_log.h"
#include "proxy/log/log_sink.h"
#include "proxy/log/request_id.h"
#include "proxy/metrics/collector.h"
#include "proxy/metrics/shard.h"
#include "proxy/net/event.h"
#include "proxy/net/listener.h"
#include "proxy/net/mailbox.h"
#include "proxy/net/stream.h"
#include "proxy/tls/client_context.h"
#include "proxy/upstream/connection_pool.h"
#include "proxy/upstream/h2_pool.h"
#include "proxy/upstream/retry_budget.h"

namespace outrigger::forward {

class Http1Session;

// A snapshot as one worker sees it: the shared immutable snapshot plus this worker's policy
// instances (their pick state is per worker) and its metric shard for the snapshot's layout.
// Requests hold it by shared_ptr for their life, and record only into its shard: once the
// worker has moved on and the last request on it ended, the shard is final (the collector
// folds it).
struct WorkerView {
  std::shared_ptr<const Snapshot> snapshot;
  std::vector<std::unique_ptr<balance::BalancingPolicy>> policies;  // one per pool
  std::shared_ptr<metrics::Shard> shard;                            // written by this worker only
  std::vector<upstream::RetryBudget> retry_budgets;                 // one per pool
  // One per listener: this worker's pending access log lines (disabled when `off`). Whatever
  // is pending goes to the sink when the view is destroyed.
  std::vector<log::LogBuffer> access_logs;

  const upstream::RetryBudget* FindRetryBudget(std::string_view pool) const {
    for (size_t i = 0; i < retry_budgets.size(); ++i) {
      if (snapshot->pools[i].config->name == pool) return &retry_budgets[i];
    }
    return nullptr;
  }
};

class Worker {
 public:
  // `collector` (thread-safe, outlives the worker) is told of every shard the worker makes.
  // `worker_count`: how many workers share each listener's max_connections budget.
  Worker(int id, std::shared_ptr<const Snapshot> snapshot, metrics::Collector* collector,
         unsigned worker_count = 1);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Binds this worker's listener sockets (on the calling thread, before Start, so a bind
  // error is reported before the process claims to be ready).
  absl::Status BindListeners();

  // Starts the thread running the loop. It returns once drained.
  void Start();
  void Join();

  // Thread-safe: the new snapshot serves requests that start after the worker adopts it.
  // At the swap the worker starts serving `new_listeners` (the sockets, bound by the caller,
  // of the listeners `snapshot` adds) and closes the sockets of the listeners it removes;
  // connections accepted on a removed listener finish their request and close.
  // `adopted` is held until the worker has adopted `snapshot`, then dropped.
  void PostSnapshot(std::shared_ptr<const Snapshot> snapshot,
                    std::vector<net::ListenSocket> new_listeners = {},
                    std::shared_ptr<const void> adopted = nullptr);
  // Thread-safe: stop accepting, close idle connections, finish in-flight requests with
  // "Connection: close", then leave the loop when no connection is left.
  void PostDrain();
  // Thread-safe: end the loop now, whatever is in flight (the drain timeout expired).
  void PostStop();

  size_t connection_count() const { return connection_count_.load(std::memory_order_relaxed); }
  // Thread-safe: how often each listener's abuse limits fired on this worker, by listener
  // name (for /metrics: outrigger_downstream_limit_hits_total{listener, limit}).
  const LimitCounterSet& limit_counters() const { return limit_counters_; }
  // Thread-safe: how often the HTTP/2 codec's limits fired on this worker's connections to
  // backends, by pool name (their HTTP/2 counts only; for /metrics:
  // outrigger_backend_limit_hits_total{pool, limit}).
  const LimitCounterSet& backend_limit_counters() const { return backend_limit_counters_; }
  // Thread-safe: the loop has returned (drained or stopped).
  bool stopped() const { return stopped_.load(std::memory_order_acquire); }

  // Request-path interface (worker loop only).
  event_base* base() const { return base_.get(); }
  const std::shared_ptr<WorkerView>& view() const { return view_; }
  upstream::ConnectionPool& connection_pool() { return connection_pool_; }
  upstream::H2Pool& h2_pool() { return h2_pool_; }
  net::BufferSpares& buffer_spares() { return buffer_spares_; }
  plugins::Stores& stores() { return stores_; }
  // TLS sessions to resume with, per backend (pools with `tls:`).
  tls::ClientSessionCache& tls_sessions() { return tls_sessions_; }
  bool draining() const { return draining_; }
  uint64_t NextSeed() { return ++seed_; }
  // Hands the connection over for destruction after the current callback has returned.
  void Retire(Http1Session* conn);
  // An Exchange for a session that starts a request, and back when it is done (null is
  // ignored; REQUIRES: idle()). At most kSpareExchanges wait for reuse; more are freed.
  std::unique_ptr<Exchange> TakeExchange();
  void ReturnExchange(std::unique_ptr<Exchange> exchange);
  // This worker's request id generator (also the sampling dice) and log line clock.
  log::RequestIdGenerator& request_ids() { return request_ids_; }
  log::TimeCache& log_clock() { return log_clock_; }
  // Counts a limit a client ran into, against the listener it was accepted on.
  void CountLimit(const ClientFacts& client, Limit limit);
  // Adds `n` hits of the HTTP/2 limit kHttp2LimitLabels[index] against the client's listener.
  void CountHttp2Limit(const ClientFacts& client, size_t index, uint64_t n);
  // The counters of the client's listener (stable for the worker's life), or null once the
  // listener is gone.
  LimitCounters* LimitsFor(const ClientFacts& client);
  // The backend-side counters of `pool` (stable for the worker's life). Takes a mutex: per
  // new backend connection, never per request.
  LimitCounters* BackendLimitsFor(const std::string& pool) {
    return backend_limit_counters_.For(pool);
  }

 private:
  void Accept(size_t listener_index, evutil_socket_t fd, const net::SocketAddress& peer);
  // One traffic listener socket; heap-held so its accept callback's pointer stays valid
  // while the vector of them is rebuilt at a snapshot swap.
  struct ListenerSlot {
    net::SocketAddress address;
    size_t index;  // into the current snapshot's listeners
    std::unique_ptr<net::Listener> listener;
    LimitCounters* limits = nullptr;  // in limit_counters_
    size_t connections = 0;           // open client connections accepted on it
  };
  absl::Status AddListener(size_t index, const std::string& name, net::ListenSocket socket);
  ListenerSlot* SlotFor(size_t listener_index);
  // Pauses or resumes the slot's accepting as its connection budget is spent or freed.
  void UpdateAccepting(ListenerSlot& slot);
  void AdoptSnapshot(std::shared_ptr<const Snapshot> snapshot,
                     std::vector<net::ListenSocket> new_listeners = {});
  // Keeps the sockets of `next`'s listeners that were already open, opens the new ones and
  // closes the removed ones (a listening, non-draining worker only).
  void SwapListeners(const Snapshot& next, std::vector<net::ListenSocket> new_listeners);
  // Before view_ moves from `previous` to `next` (both writable here), at every snapshot
  // swap, draining or not: renumbers each connection's listener for `next`, or marks it gone.
  // Connections on a listener `next` renames or removes leave its connection gauge in
  // `previous`'s shard (and a renamed one's join the new name's in `next`'s), since the
  // gauge is a series per name.
  void MoveConnections(const WorkerView& previous, const WorkerView& next);
  void Drain();
  void MaybeExit();
  static void OnSweep(evutil_socket_t, short, void* self);
  // Once a second: closes idle upstream connections to dead or draining backends, lets idle
  // client connections give back their per-request buffers, and after a storm of connections
  // has closed returns the heap's free pages to the system.
  static void OnUpkeep(evutil_socket_t, short, void* self);

  const int id_;
  metrics::Collector* const collector_;
  const unsigned worker_count_;
  net::EventBasePtr base_;
  net::Mailbox mailbox_;
  net::EventPtr sweep_;
  net::EventPtr upkeep_;
  std::thread thread_;

  std::shared_ptr<WorkerView> view_;
  std::vector<std::unique_ptr<ListenerSlot>> listeners_;  // in the current snapshot's order
  bool listening_ = false;                                // BindListeners succeeded
  upstream::ConnectionPool connection_pool_;
  // Before connections_: it outlives every exchange that holds a stream on it.
  upstream::H2Pool h2_pool_{base_.get()};
  // Before connections_: it outlives every request that may wait on a store.
  plugins::Stores stores_{base_.get()};
  // Unordered: a retired connection's slot takes the last one (Http1Session::slot).
  std::vector<std::unique_ptr<Http1Session>> connections_;
  std::vector<std::unique_ptr<Http1Session>> retired_;
  static constexpr size_t kSpareExchanges = 128;
  static constexpr size_t kSpareBuffers = 256;
  base::Spares<std::unique_ptr<Exchange>> spare_exchanges_{kSpareExchanges};
  net::BufferSpares buffer_spares_{kSpareBuffers};  // the client streams' (Stream::UseSpares)
  tls::ClientSessionCache tls_sessions_;
  std::atomic<size_t> connection_count_{0};
  // The most connections open at once since the heap was last trimmed (OnUpkeep): when as
  // many as kTrimAfterClosed of them have gone, what they used is given back to the system.
  size_t peak_connections_ = 0;
  static constexpr size_t kTrimAfterClosed = 1024;
  LimitCounterSet limit_counters_;
  LimitCounterSet backend_limit_counters_;
  log::RequestIdGenerator request_ids_;  // seeded once, from the OS
  log::TimeCache log_clock_;
  std::atomic<bool> stopped_{false};
  bool draining_ = false;
  uint64_t seed_;
};

}  // namespace outrigger::forward
