#include "proxy/metrics/collector.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <string>
#include <utility>

#include "proxy/metrics/histogram_buckets.h"
#include "proxy/metrics/tls_families.h"

namespace outrigger::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr double kNsPerSecond = 1e9;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

void AddCounter(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  metric.counter.value = value;
}

// Buckets cumulative and ending in +Inf, so +Inf == _count by construction; _sum in seconds.
void AddHistogram(MetricFamily& family, std::vector<ClientMetric::Label> labels,
                  const HistogramTotals& totals) {
  ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    cumulative += totals.buckets[i];
    metric.histogram.bucket.push_back({cumulative, i < kLatencyBoundsSeconds.size()
                                                       ? kLatencyBoundsSeconds[i]
                                                       : std::numeric_limits<double>::infinity()});
  }
  metric.histogram.sample_count = cumulative;
  metric.histogram.sample_sum = static_cast<double>(totals.sum_ns) / kNsPerSecond;
}

void AddGauge(MetricFamily& family, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  metric.gauge.value = value;
}

ClientMetric::Label Label(const char* name, std::string_view value) {
  return {name, std::string(value)};
}

}  // namespace

std::vector<int64_t> PoolInflight(const Totals& totals) {
  std::vector<int64_t> inflight(totals.pools.size(), 0);
  if (totals.layout == nullptr) return inflight;
  for (size_t b = 0; b < totals.backends.size(); ++b) {
    inflight[totals.layout->backends[b].pool] += totals.backends[b].inflight;
  }
  return inflight;
}

Collector::Collector(std::function<int64_t()> clock) : clock_(std::move(clock)) {}

void Collector::SetLayout(std::shared_ptr<const MetricLayout> layout) {
  std::lock_guard lock(mu_);
  Totals carried = EmptyTotals(layout);
  if (layout_ != nullptr) AddByIdentity(carried, retired_);
  retired_ = std::move(carried);
  layout_ = std::move(layout);
}

void Collector::AddShard(std::shared_ptr<const Shard> shard, std::weak_ptr<const void> writers) {
  std::lock_guard lock(mu_);
  shards_.push_back({std::move(shard), std::move(writers)});
}

size_t Collector::live_shards() const {
  std::lock_guard lock(mu_);
  return shards_.size();
}

Totals Collector::Read() const {
  std::lock_guard lock(mu_);
  if (layout_ == nullptr) return Totals{};
  const int64_t now = clock_();
  Totals merged = EmptyTotals(layout_);
  for (auto it = shards_.begin(); it != shards_.end();) {
    if (it->writers.expired()) {
      // The last writer's release of the token happens-before this fold: its final writes
      // are visible (acquire fence after observing the expired count).
      std::atomic_thread_fence(std::memory_order_acquire);
      AddByIdentity(retired_, it->shard->Read(now));
      it = shards_.erase(it);
    } else {
      AddByIdentity(merged, it->shard->Read(now));
      ++it;
    }
  }
  AddByIdentity(merged, retired_);
  return merged;
}

std::vector<MetricFamily> Collector::Collect() const { return BuildFamilies(Read()); }

std::vector<MetricFamily> BuildFamilies(const Totals& totals) {
  MetricFamily backend_requests =
      Family("outrigger_backend_requests_total", "Responses from the backend, by status class.",
             MetricType::Counter);
  MetricFamily backend_duration =
      Family("outrigger_backend_request_duration_seconds",
             "Backend latency: first request byte written to last response byte read.",
             MetricType::Histogram);
  MetricFamily backend_failures =
      Family("outrigger_backend_failures_total",
             "Attempts that ended without a response, by reason.", MetricType::Counter);
  MetricFamily backend_retries =
      Family("outrigger_backend_retries_total", "Retried attempts sent to the backend.",
             MetricType::Counter);
  MetricFamily backend_busy = Family(
      "outrigger_backend_busy_seconds_total",
      "Integral of in-flight requests over time; rate() is the time-weighted mean in-flight.",
      MetricType::Counter);
  MetricFamily backend_inflight =
      Family("outrigger_backend_inflight_requests",
             "Attempts in flight on the backend now (tunnels not included).", MetricType::Gauge);
  MetricFamily backend_tunnels =
      Family("outrigger_backend_tunnels", "Upgraded (WebSocket) tunnels open to the backend now.",
             MetricType::Gauge);
  MetricFamily backend_grpc =
      Family("outrigger_backend_grpc_calls_total",
             "Backend answers to gRPC calls that carried a grpc-status, by its class (ok, client, "
             "server, invalid).",
             MetricType::Counter);
  MetricFamily pool_grpc =
      Family("outrigger_pool_grpc_calls_total",
             "gRPC calls, once each by the class of the grpc-status the client got (ok, client, "
             "server, invalid; none: ended without one).",
             MetricType::Counter);
  MetricFamily pool_requests =
      Family("outrigger_pool_requests_total",
             "Client requests, once each by the status the client got; retries never counted.",
             MetricType::Counter);
  MetricFamily pool_duration =
      Family("outrigger_pool_request_duration_seconds",
             "Request duration as the client sees it, all tries and waiting included.",
             MetricType::Histogram);
  MetricFamily pool_shed =
      Family("outrigger_pool_shed_requests_total",
             "Requests answered without trying a backend, by reason.", MetricType::Counter);
  MetricFamily pool_pending =
      Family("outrigger_pool_pending_requests",
             "Client requests in the pool not in flight on a backend now (waiting for a slot).",
             MetricType::Gauge);
  MetricFamily pool_inflight =
      Family("outrigger_pool_inflight_requests",
             "Client requests of the pool in flight on a backend now.", MetricType::Gauge);
  MetricFamily downstream_requests = Family(
      "outrigger_downstream_requests_total",
      "Responses sent to clients, by status class and protocol (http1, h2).", MetricType::Counter);
  MetricFamily downstream_duration =
      Family("outrigger_downstream_request_duration_seconds",
             "Request head received to response queued to the client.", MetricType::Histogram);
  MetricFamily downstream_connections =
      Family("outrigger_downstream_connections", "Client connections open now.", MetricType::Gauge);
  MetricFamily pool_busy = Family(
      "outrigger_pool_busy_seconds_total",
      "Integral of in-flight plus pending requests over time; rate() is the mean concurrency.",
      MetricType::Counter);

  MetricFamily plugin_actions =
      Family("outrigger_plugin_actions_total",
             "What routes' plugins did: limited, denied, redirected, answered, rewritten...",
             MetricType::Counter);

  if (totals.layout != nullptr) {
    const MetricLayout& layout = *totals.layout;
    for (size_t a = 0; a < totals.plugin_actions.size(); ++a) {
      const MetricLayout::PluginAction& pa = layout.plugin_actions[a];
      AddCounter(plugin_actions,
                 {Label("pool", pa.pool), Label("plugin", pa.plugin), Label("action", pa.action)},
                 static_cast<double>(totals.plugin_actions[a]));
    }
    for (size_t b = 0; b < totals.backends.size(); ++b) {
      const BackendTotals& t = totals.backends[b];
      const std::string& pool = layout.pools[layout.backends[b].pool];
      const std::string& backend = layout.backends[b].label;
      for (size_t c = 0; c < kCodeClassCount; ++c) {
        AddCounter(
            backend_requests,
            {Label("pool", pool), Label("backend", backend), Label("code", kCodeClassLabels[c])},
            static_cast<double>(t.requests[c]));
      }
      AddHistogram(backend_duration, {Label("pool", pool), Label("backend", backend)}, t.latency);
      for (size_t r = 0; r < kFailureReasonCount; ++r) {
        AddCounter(backend_failures,
                   {Label("pool", pool), Label("backend", backend),
                    Label("reason", kFailureReasonLabels[r])},
                   static_cast<double>(t.failures[r]));
      }
      AddCounter(backend_retries, {Label("pool", pool), Label("backend", backend)},
                 static_cast<double>(t.retries));
      AddCounter(backend_busy, {Label("pool", pool), Label("backend", backend)},
                 static_cast<double>(t.busy_ns) / kNsPerSecond);
      AddGauge(backend_inflight, {Label("pool", pool), Label("backend", backend)},
               static_cast<double>(t.inflight));
      AddGauge(backend_tunnels, {Label("pool", pool), Label("backend", backend)},
               static_cast<double>(t.tunnels));
      for (size_t g = 0; g < kGrpcOutcomeCount; ++g) {
        if (static_cast<GrpcOutcome>(g) == GrpcOutcome::kNone) continue;  // an answer has one
        AddCounter(backend_grpc,
                   {Label("pool", pool), Label("backend", backend),
                    Label("grpc_status", kGrpcOutcomeLabels[g])},
                   static_cast<double>(t.grpc_calls[g]));
      }
    }
    const std::vector<int64_t> pool_inflight_now = PoolInflight(totals);
    for (size_t p = 0; p < totals.pools.size(); ++p) {
      const PoolTotals& t = totals.pools[p];
      const std::string& pool = layout.pools[p];
      for (size_t c = 0; c < kCodeClassCount; ++c) {
        AddCounter(pool_requests, {Label("pool", pool), Label("code", kCodeClassLabels[c])},
                   static_cast<double>(t.requests[c]));
      }
      for (size_t o = 0; o < kPoolOutcomeCount; ++o) {
        AddHistogram(pool_duration, {Label("pool", pool), Label("outcome", kPoolOutcomeLabels[o])},
                     t.duration[o]);
      }
      for (size_t r = 0; r < kShedReasonCount; ++r) {
        AddCounter(pool_shed, {Label("pool", pool), Label("reason", kShedReasonLabels[r])},
                   static_cast<double>(t.shed[r]));
      }
      for (size_t g = 0; g < kGrpcOutcomeCount; ++g) {
        AddCounter(pool_grpc, {Label("pool", pool), Label("grpc_status", kGrpcOutcomeLabels[g])},
                   static_cast<double>(t.grpc_calls[g]));
      }
      AddCounter(pool_busy, {Label("pool", pool)}, static_cast<double>(t.busy_ns) / kNsPerSecond);
      AddGauge(pool_inflight, {Label("pool", pool)}, static_cast<double>(pool_inflight_now[p]));
      AddGauge(pool_pending, {Label("pool", pool)},
               static_cast<double>(std::max<int64_t>(0, t.concurrency - pool_inflight_now[p])));
    }
    for (size_t l = 0; l < totals.listeners.size(); ++l) {
      const ListenerTotals& t = totals.listeners[l];
      const std::string& listener = layout.listeners[l];
      for (size_t c = 0; c < kCodeClassCount; ++c) {
        const uint64_t h2 = t.h2_requests[c];
        AddCounter(downstream_requests,
                   {Label("listener", listener), Label("code", kCodeClassLabels[c]),
                    Label("protocol", "http1")},
                   static_cast<double>(t.requests[c] - std::min(h2, t.requests[c])));
        AddCounter(downstream_requests,
                   {Label("listener", listener), Label("code", kCodeClassLabels[c]),
                    Label("protocol", "h2")},
                   static_cast<double>(h2));
      }
      AddHistogram(downstream_duration, {Label("listener", listener)}, t.duration);
      AddGauge(downstream_connections, {Label("listener", listener)},
               static_cast<double>(std::max<int64_t>(0, t.connections)));
    }
  }

  std::vector<MetricFamily> families;
  for (MetricFamily* family :
       {&backend_requests, &backend_duration, &backend_failures, &backend_retries, &backend_busy,
        &backend_inflight, &backend_tunnels, &backend_grpc, &pool_requests, &pool_duration,
        &pool_shed, &pool_grpc, &pool_busy, &pool_inflight, &pool_pending, &downstream_requests,
        &downstream_duration, &downstream_connections, &plugin_actions}) {
    families.push_back(std::move(*family));
  }
  AppendTlsFamilies(totals, &families);
  return families;
}

}  // namespace outrigger::metrics
