#include "proxy/metrics/collector.h"

#include <limits>
#include <string>
#include <utility>

#include "proxy/metrics/histogram_buckets.h"

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

ClientMetric::Label Label(const char* name, std::string_view value) {
  return {name, std::string(value)};
}

}  // namespace

Collector::Collector(std::function<int64_t()> clock) : clock_(std::move(clock)) {}

void Collector::Publish(std::shared_ptr<const MetricLayout> layout,
                        std::vector<std::shared_ptr<const Shard>> shards) {
  std::lock_guard lock(mu_);
  layout_ = std::move(layout);
  shards_ = std::move(shards);
}

Totals Collector::Read() const {
  std::shared_ptr<const MetricLayout> layout;
  std::vector<std::shared_ptr<const Shard>> shards;
  {
    std::lock_guard lock(mu_);
    layout = layout_;
    shards = shards_;
  }
  if (layout == nullptr) return Totals{};
  return MergeShards(layout, shards, clock_());
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
  MetricFamily pool_busy = Family(
      "outrigger_pool_busy_seconds_total",
      "Integral of in-flight plus pending requests over time; rate() is the mean concurrency.",
      MetricType::Counter);

  if (totals.layout != nullptr) {
    const MetricLayout& layout = *totals.layout;
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
    }
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
      AddCounter(pool_busy, {Label("pool", pool)}, static_cast<double>(t.busy_ns) / kNsPerSecond);
    }
  }

  std::vector<MetricFamily> families;
  families.reserve(9);
  for (MetricFamily* family :
       {&backend_requests, &backend_duration, &backend_failures, &backend_retries, &backend_busy,
        &pool_requests, &pool_duration, &pool_shed, &pool_busy}) {
    families.push_back(std::move(*family));
  }
  return families;
}

}  // namespace outrigger::metrics
