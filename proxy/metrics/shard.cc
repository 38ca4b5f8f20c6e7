#include "proxy/metrics/shard.h"

#include <map>
#include <string_view>
#include <tuple>
#include <utility>

namespace outrigger::metrics {
namespace {

// The code class slot of a status, or kCodeClassCount when it has none.
size_t CodeClass(int status) {
  return status >= 100 && status <= 599 ? static_cast<size_t>(status / 100 - 1) : kCodeClassCount;
}

uint64_t NonNegative(int64_t ns) { return ns > 0 ? static_cast<uint64_t>(ns) : 0; }

template <size_t N>
void AddArrays(std::array<uint64_t, N>& into, const std::array<uint64_t, N>& from) {
  for (size_t i = 0; i < N; ++i) into[i] += from[i];
}

template <size_t N>
std::array<uint64_t, N> LoadArray(const std::array<ShardCounter, N>& cells) {
  std::array<uint64_t, N> out{};
  for (size_t i = 0; i < N; ++i) out[i] = cells[i].Load();
  return out;
}

}  // namespace

uint64_t HistogramTotals::Count() const {
  uint64_t count = 0;
  for (const uint64_t n : buckets) count += n;
  return count;
}

HistogramTotals& HistogramTotals::operator+=(const HistogramTotals& other) {
  AddArrays(buckets, other.buckets);
  sum_ns += other.sum_ns;
  return *this;
}

BackendTotals& BackendTotals::operator+=(const BackendTotals& other) {
  AddArrays(requests, other.requests);
  latency += other.latency;
  AddArrays(failures, other.failures);
  retries += other.retries;
  busy_ns += other.busy_ns;
  inflight += other.inflight;
  tunnels += other.tunnels;
  AddArrays(grpc_calls, other.grpc_calls);
  return *this;
}

uint64_t PoolTotals::RequestCount() const {
  uint64_t count = 0;
  for (const uint64_t n : requests) count += n;
  return count;
}

PoolTotals& PoolTotals::operator+=(const PoolTotals& other) {
  AddArrays(requests, other.requests);
  for (size_t i = 0; i < kPoolOutcomeCount; ++i) duration[i] += other.duration[i];
  AddArrays(shed, other.shed);
  busy_ns += other.busy_ns;
  concurrency += other.concurrency;
  AddArrays(grpc_calls, other.grpc_calls);
  return *this;
}

ListenerTotals& ListenerTotals::operator+=(const ListenerTotals& other) {
  AddArrays(requests, other.requests);
  AddArrays(h2_requests, other.h2_requests);
  duration += other.duration;
  connections += other.connections;
  for (size_t r = 0; r < tls_handshakes.size(); ++r) {
    AddArrays(tls_handshakes[r], other.tls_handshakes[r]);
  }
  AddArrays(tls_failures, other.tls_failures);
  return *this;
}

void BusyIntegral::Add(int64_t now_ns, int64_t delta) {
  constexpr auto kRelaxed = std::memory_order_relaxed;
  constexpr auto kRelease = std::memory_order_release;
  const uint64_t sequence = sequence_.load(kRelaxed);
  sequence_.store(sequence + 1, kRelaxed);
  const int64_t last = last_change_ns_.load(kRelaxed);
  const int64_t concurrency = concurrency_.load(kRelaxed);
  if (now_ns > last) {
    busy_ns_.store(busy_ns_.load(kRelaxed) + NonNegative(concurrency) * NonNegative(now_ns - last),
                   kRelease);
    last_change_ns_.store(now_ns, kRelease);
  }
  concurrency_.store(concurrency + delta, kRelease);
  sequence_.store(sequence + 2, kRelease);
}

uint64_t BusyIntegral::Read(int64_t now_ns) const {
  constexpr auto kAcquire = std::memory_order_acquire;
  for (;;) {
    const uint64_t before = sequence_.load(kAcquire);
    const uint64_t busy = busy_ns_.load(kAcquire);
    const int64_t concurrency = concurrency_.load(kAcquire);
    const int64_t last = last_change_ns_.load(kAcquire);
    if ((before & 1) == 0 && sequence_.load(std::memory_order_relaxed) == before) {
      return busy + NonNegative(concurrency) * NonNegative(now_ns - last);
    }
  }
}

Shard::Shard(std::shared_ptr<const MetricLayout> layout)
    : layout_(std::move(layout)),
      backends_(std::make_unique<BackendCells[]>(layout_->backends.size())),
      pools_(std::make_unique<PoolCells[]>(layout_->pools.size())),
      listeners_(std::make_unique<ListenerCells[]>(layout_->listeners.size())),
      plugin_actions_(std::make_unique<ShardCounter[]>(layout_->plugin_actions.size())) {}

void Shard::OnDownstreamResponse(ListenerId listener, int status, int64_t duration_ns, bool http2) {
  if constexpr (!kRecording) return;
  ListenerCells& cells = listeners_[listener];
  if (const size_t code = CodeClass(status); code < kCodeClassCount) {
    cells.requests[code].Add(1);
    if (http2) cells.h2_requests[code].Add(1);
  }
  cells.duration_buckets[BucketIndex(duration_ns)].Add(1);
  cells.duration_sum_ns.Add(NonNegative(duration_ns));
}

void Shard::OnRequestEnd(BackendId backend, int64_t now_ns, int status, int64_t latency_ns) {
  if constexpr (!kRecording) return;
  BackendCells& cells = backends_[backend];
  cells.busy.Add(now_ns, -1);
  if (const size_t code = CodeClass(status); code < kCodeClassCount) cells.requests[code].Add(1);
  cells.latency_buckets[BucketIndex(latency_ns)].Add(1);
  cells.latency_sum_ns.Add(NonNegative(latency_ns));
}

void Shard::OnRequestFailed(BackendId backend, int64_t now_ns, FailureReason reason) {
  if constexpr (!kRecording) return;
  BackendCells& cells = backends_[backend];
  cells.busy.Add(now_ns, -1);
  cells.failures[static_cast<size_t>(reason)].Add(1);
}

void Shard::OnPoolRequestEnd(PoolId pool, int64_t now_ns, int status, int64_t duration_ns,
                             PoolOutcome outcome) {
  if constexpr (!kRecording) return;
  PoolCells& cells = pools_[pool];
  cells.busy.Add(now_ns, -1);
  if (const size_t code = CodeClass(status); code < kCodeClassCount) cells.requests[code].Add(1);
  const size_t o = static_cast<size_t>(outcome);
  cells.duration_buckets[o][BucketIndex(duration_ns)].Add(1);
  cells.duration_sum_ns[o].Add(NonNegative(duration_ns));
}

Totals Shard::Read(int64_t now_ns) const {
  Totals totals;
  totals.layout = layout_;
  totals.backends.resize(layout_->backends.size());
  totals.pools.resize(layout_->pools.size());
  totals.listeners.resize(layout_->listeners.size());
  for (size_t b = 0; b < totals.backends.size(); ++b) {
    const BackendCells& cells = backends_[b];
    BackendTotals& out = totals.backends[b];
    out.requests = LoadArray(cells.requests);
    out.latency.buckets = LoadArray(cells.latency_buckets);
    out.latency.sum_ns = cells.latency_sum_ns.Load();
    out.failures = LoadArray(cells.failures);
    out.retries = cells.retries.Load();
    out.busy_ns = cells.busy.Read(now_ns);
    out.inflight = cells.busy.Concurrency();
    out.tunnels = cells.tunnels.Load();
    out.grpc_calls = LoadArray(cells.grpc_calls);
  }
  for (size_t p = 0; p < totals.pools.size(); ++p) {
    const PoolCells& cells = pools_[p];
    PoolTotals& out = totals.pools[p];
    out.requests = LoadArray(cells.requests);
    for (size_t o = 0; o < kPoolOutcomeCount; ++o) {
      out.duration[o].buckets = LoadArray(cells.duration_buckets[o]);
      out.duration[o].sum_ns = cells.duration_sum_ns[o].Load();
    }
    out.shed = LoadArray(cells.shed);
    out.busy_ns = cells.busy.Read(now_ns);
    out.concurrency = cells.busy.Concurrency();
    out.grpc_calls = LoadArray(cells.grpc_calls);
  }
  for (size_t l = 0; l < totals.listeners.size(); ++l) {
    const ListenerCells& cells = listeners_[l];
    ListenerTotals& out = totals.listeners[l];
    out.requests = LoadArray(cells.requests);
    out.h2_requests = LoadArray(cells.h2_requests);
    out.duration.buckets = LoadArray(cells.duration_buckets);
    out.duration.sum_ns = cells.duration_sum_ns.Load();
    out.connections = cells.connections.Load();
    for (size_t r = 0; r < out.tls_handshakes.size(); ++r) {
      out.tls_handshakes[r] = LoadArray(cells.tls_handshakes[r]);
    }
    out.tls_failures = LoadArray(cells.tls_failures);
  }
  totals.plugin_actions.resize(layout_->plugin_actions.size());
  for (size_t a = 0; a < totals.plugin_actions.size(); ++a) {
    totals.plugin_actions[a] = plugin_actions_[a].Load();
  }
  return totals;
}

void AddByIdentity(Totals& into, const Totals& from) {
  if (from.layout == into.layout) {
    for (size_t b = 0; b < from.backends.size(); ++b) into.backends[b] += from.backends[b];
    for (size_t p = 0; p < from.pools.size(); ++p) into.pools[p] += from.pools[p];
    for (size_t l = 0; l < from.listeners.size(); ++l) into.listeners[l] += from.listeners[l];
    for (size_t a = 0; a < from.plugin_actions.size(); ++a) {
      into.plugin_actions[a] += from.plugin_actions[a];
    }
    return;
  }
  // Another layout (a previous snapshot): scrape-time work, never per request.
  const MetricLayout& to = *into.layout;
  std::map<std::string_view, PoolId, std::less<>> pool_ids;
  std::map<std::pair<std::string_view, std::string_view>, BackendId> backend_ids;
  std::map<std::string_view, ListenerId, std::less<>> listener_ids;
  for (PoolId p = 0; p < to.pools.size(); ++p) pool_ids.emplace(to.pools[p], p);
  for (BackendId b = 0; b < to.backends.size(); ++b) {
    backend_ids.emplace(std::pair<std::string_view, std::string_view>(to.pools[to.backends[b].pool],
                                                                      to.backends[b].label),
                        b);
  }
  for (ListenerId l = 0; l < to.listeners.size(); ++l) listener_ids.emplace(to.listeners[l], l);

  const MetricLayout& layout = *from.layout;
  for (size_t p = 0; p < from.pools.size(); ++p) {
    if (auto it = pool_ids.find(layout.pools[p]); it != pool_ids.end()) {
      into.pools[it->second] += from.pools[p];
    }
  }
  for (size_t b = 0; b < from.backends.size(); ++b) {
    const MetricLayout::Backend& backend = layout.backends[b];
    auto it = backend_ids.find(
        std::pair<std::string_view, std::string_view>(layout.pools[backend.pool], backend.label));
    if (it != backend_ids.end()) into.backends[it->second] += from.backends[b];
  }
  for (size_t l = 0; l < from.listeners.size(); ++l) {
    if (auto it = listener_ids.find(layout.listeners[l]); it != listener_ids.end()) {
      into.listeners[it->second] += from.listeners[l];
    }
  }
  using ActionKey = std::tuple<std::string_view, std::string_view, std::string_view>;
  std::map<ActionKey, size_t> action_ids;
  for (size_t a = 0; a < to.plugin_actions.size(); ++a) {
    const MetricLayout::PluginAction& pa = to.plugin_actions[a];
    action_ids.emplace(ActionKey(pa.pool, pa.plugin, pa.action), a);
  }
  for (size_t a = 0; a < from.plugin_actions.size(); ++a) {
    const MetricLayout::PluginAction& pa = layout.plugin_actions[a];
    if (auto it = action_ids.find(ActionKey(pa.pool, pa.plugin, pa.action));
        it != action_ids.end()) {
      into.plugin_actions[it->second] += from.plugin_actions[a];
    }
  }
}

Totals EmptyTotals(const std::shared_ptr<const MetricLayout>& layout) {
  Totals totals;
  totals.layout = layout;
  totals.backends.resize(layout->backends.size());
  totals.pools.resize(layout->pools.size());
  totals.listeners.resize(layout->listeners.size());
  totals.plugin_actions.resize(layout->plugin_actions.size());
  return totals;
}

Totals MergeShards(const std::shared_ptr<const MetricLayout>& into,
                   std::span<const std::shared_ptr<const Shard>> shards, int64_t now_ns) {
  Totals merged = EmptyTotals(into);
  for (const std::shared_ptr<const Shard>& shard : shards)
    AddByIdentity(merged, shard->Read(now_ns));
  return merged;
}

}  // namespace outrigger::metrics
