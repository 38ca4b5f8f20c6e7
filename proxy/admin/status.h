// What the admin listener answers beyond health: the state gauges read from the Backends at
// scrape time (outrigger_backend_up, _circuit_state, outrigger_pool_backends), and the JSON of
// /status and /scaling.
//
// Thread contract: pure functions of their arguments, which the control thread owns; the
// Backends' atomics are read relaxed, each field an independent fact.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/forward/limit_counters.h"
#include "proxy/forward/snapshot.h"
#include "proxy/metrics/recent.h"
#include "proxy/metrics/scaling_board.h"
#include "proxy/metrics/shard.h"
#include "proxy/upstream/backend.h"
#include "proxy/upstream/dns_discovery.h"
#include "proxy/upstream/operator_overrides.h"

namespace outrigger::admin {

// The one state of outrigger_pool_backends{state} a backend is counted in: "dead" (failed
// its live probe), else "draining" (removed, or an operator's drain, maint or weight 0), else
// "unready" (failed its ready probe, or its circuit is open: it takes no request), else "ready".
std::string_view BackendState(const upstream::Backend& backend);
// "closed", "open" or "half_open".
std::string_view CircuitState(const upstream::Backend& backend, int64_t now_ns);

// Ready backends per pool (the R of the scaling signals), indexed like snapshot.pools.
std::vector<int> ReadyBackends(const forward::Snapshot& snapshot);

// outrigger_backend_up, outrigger_backend_circuit_state, outrigger_pool_backends.
std::vector<prometheus::MetricFamily> StateFamilies(const forward::Snapshot& snapshot,
                                                    int64_t now_ns);

// GET /status: every pool and backend with state, weight, in-flight, rate and latency
// quantiles. `totals` is a reading in snapshot's layout.
// `dns` adds each pool's DNS entries (their address count, last success and last error: a
// failing resolution keeps the last good set, and this is where that shows).
// `overrides` (may be null) adds each backend's "operator" entry ({state, weight} an operator
// set through the admin API, or null), and its "admin_state": "ready", "draining",
// "drained" (an operator's drain or maint with nothing left in flight) or "maint".
// `limits` (every worker's) adds each listener's "http2": {connections, streams} open now.
std::string StatusJson(const forward::Snapshot& snapshot, const metrics::Totals& totals,
                       const metrics::Recent& recent, const metrics::ScalingBoard& board,
                       std::span<const upstream::DnsEntryStatus> dns, int64_t now_ns,
                       const upstream::OperatorOverrides* overrides = nullptr,
                       std::span<const forward::LimitCounterSet* const> limits = {});

// outrigger_downstream_limit_hits_total{listener, limit}: every worker's counts summed.
// Only the series of `listeners` (the running config's) are exposed.
// outrigger_http2_limit_hits_total{listener, limit}: the HTTP/2 codec's limits, likewise.
prometheus::MetricFamily Http2LimitHitsFamily(std::span<const forward::LimitCounterSet* const> sets,
                                              std::span<const config::ListenerConfig> listeners);
prometheus::MetricFamily LimitHitsFamily(std::span<const forward::LimitCounterSet* const> sets,
                                         std::span<const config::ListenerConfig> listeners);
// outrigger_backend_limit_hits_total{pool, limit}: the HTTP/2 codec's limits on connections
// to the backends of `pools` (the running config's), from the workers' backend-side sets;
// every `protocol: h2` pool has its series, zero until a limit fires.
prometheus::MetricFamily BackendLimitHitsFamily(
    std::span<const forward::LimitCounterSet* const> sets,
    std::span<const config::PoolConfig> pools);

// outrigger_config_reloads_total{result="success"|"failure"}.
prometheus::MetricFamily ReloadFamily(uint64_t success, uint64_t failure);

// GET /scaling: {"pools": {"NAME": {rps, inflight, utilization, ready_backends,
// desired_backends, recommended_backends, min, max, panic, ...}}} — the shape KEDA's
// metrics-api scaler reads with valueLocation "pools.NAME.desired_backends".
std::string ScalingJson(const metrics::ScalingBoard& board);

}  // namespace outrigger::admin
