// Snapshot: one validated config compiled for the request path — routers per listener,
// backends per pool — immutable once built and shared by every worker through shared_ptr.
//
// A request takes the worker's current snapshot at its start and keeps it to the end, so a
// reload never changes a request midway (Envoy's RDS contract). Backends are shared_ptrs:
// a new snapshot reuses the Backend of the same pool and address from the previous one, so
// health, circuit state and counters survive reloads.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "plugins/chain.h"
#include "proxy/balance/policy.h"
#include "proxy/config/config.h"
#include "proxy/log/log_sink.h"
#include "proxy/metrics/shard.h"
#include "proxy/route/router.h"
#include "proxy/tls/client_context.h"
#include "proxy/tls/server_context.h"
#include "proxy/tls/ticket_keys.h"
#include "proxy/upstream/backend.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/dns_discovery.h"
#include "proxy/upstream/operator_overrides.h"

namespace outrigger::forward {

// What every thread shares about a pool beyond its backends; kept across reloads by pool name
// like Backends are. Written by the control thread, read by workers, relaxed.
struct PoolShared {
  // Balancing panic (upstream/panic.h): too few backends pass their probes, so picks spread
  // over all of them, probe verdicts disregarded (open circuits and draining ones still
  // excluded).
  std::atomic<bool> balancing_panic{false};
};

struct PoolRuntime {
  const config::PoolConfig* config;  // points into Snapshot::config
  std::vector<std::shared_ptr<upstream::Backend>> backends;
  std::vector<balance::Member> members;  // same order as backends
  balance::PolicyFactory policy;
  upstream::BackendCaps caps;  // from config->circuit_breaker
  std::shared_ptr<PoolShared> shared;
  // The policy's state shared by every worker (balance::PolicyPreparer), built here on the
  // control thread; null for policies without one.
  std::shared_ptr<const void> prepared;
  // `tls:`: the context every worker's connections to these backends come from (null: plain
  // HTTP), and the name each backend's certificate must carry (same order as backends; "":
  // only the chain is checked).
  std::shared_ptr<const tls::ClientContext> tls;
  std::vector<std::string> tls_names;

  // The name a backend's certificate is checked against (see tls_names).
  std::string_view TlsName(const upstream::Backend* backend) const;
};

struct ListenerRuntime {
  const config::ListenerConfig* config;  // points into Snapshot::config
  route::Router router;
  // route index → index into Snapshot::pools; kNoPool for a route whose plugins always answer
  std::vector<size_t> route_pool;
  static constexpr size_t kNoPool = static_cast<size_t>(-1);
  // route index → its plugins (null: none)
  std::vector<std::shared_ptr<const plugins::Chain>> route_chains;
  // Where its access log goes (null: `access_log` off); shared with the snapshots before and
  // after this one while the path stays the same.
  std::shared_ptr<log::LogSink> access_log;
  // A TLS listener's certificates and settings (null: plain HTTP). Reused from the previous
  // snapshot while the listener's TLS config is unchanged (a DNS rebuild, another listener's
  // reload), so sessions and contexts are not rebuilt for nothing.
  std::shared_ptr<const tls::ServerContext> tls;
};

struct Snapshot {
  config::Config config;
  std::vector<PoolRuntime> pools;          // same order as config.pools
  std::vector<ListenerRuntime> listeners;  // same order as config.listeners
  // Session-ticket keys: made at start-up and handed from snapshot to snapshot, so tickets
  // survive reloads (tls/ticket_keys.h).
  std::shared_ptr<const tls::TicketKeys> ticket_keys;

  // The metric series of this snapshot: PoolId = index into pools, ListenerId = index into
  // listeners, BackendId as MetricId() gives it.
  std::shared_ptr<const metrics::MetricLayout> metric_layout;
  // REQUIRES: `backend` is one of pools[].backends. One hash lookup per attempt: the policy
  // returns a Backend*, and a Backend outlives the layouts that number it.
  metrics::BackendId MetricId(const upstream::Backend* backend) const {
    return metric_ids.find(backend)->second;
  }
  absl::flat_hash_map<const upstream::Backend*, metrics::BackendId> metric_ids;
};

// Compiles `config`. A `dns` entry contributes one backend per address `resolved` (may be
// null) holds for it, with the entry's weight, skipping an address the pool already has.
// Backends whose pool name and address match one in `previous` (may be null) are reused;
// new ones ramp up under slow_start unless there is no `previous` (start-up). Fails only on
// what validation cannot see (an unknown policy name). `overrides` (may be null): an
// operator's weight replaces the configured one (0 builds as 1: OperatorOverrides::ApplyTo
// takes such a backend out).
absl::StatusOr<std::shared_ptr<const Snapshot>> BuildSnapshot(
    config::Config config, const Snapshot* previous,
    const upstream::ResolvedAddresses* resolved = nullptr,
    const upstream::OperatorOverrides* overrides = nullptr);

// Marks every backend of `previous` that `next` no longer has as draining: requests still in
// flight on it (on `previous`) finish, and nothing that still holds `previous` picks it.
void MarkRemovedBackends(const Snapshot& previous, const Snapshot& next);

}  // namespace outrigger::forward
