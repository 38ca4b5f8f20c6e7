#include "proxy/forward/snapshot.h"

#include <fmt/format.h>

#include "proxy/balance/registry.h"
#include "proxy/base/clock.h"
#include "proxy/upstream/circuit_breaker.h"

namespace outrigger::forward {
namespace {

std::shared_ptr<upstream::Backend> FindBackend(const Snapshot* previous, const std::string& pool,
                                               const net::SocketAddress& address) {
  if (previous == nullptr) return nullptr;
  for (const PoolRuntime& p : previous->pools) {
    if (p.config->name != pool) continue;
    for (const auto& b : p.backends) {
      if (b->address() == address) return b;
    }
  }
  return nullptr;
}

std::shared_ptr<PoolShared> FindPoolShared(const Snapshot* previous, const std::string& pool) {
  if (previous != nullptr) {
    for (const PoolRuntime& p : previous->pools) {
      if (p.config->name == pool) return p.shared;
    }
  }
  return std::make_shared<PoolShared>();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Snapshot>> BuildSnapshot(config::Config config,
                                                              const Snapshot* previous) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = std::move(config);
  const config::Config& cfg = snap->config;

  snap->pools.reserve(cfg.pools.size());
  for (const config::PoolConfig& pc : cfg.pools) {
    const config::CircuitBreakerConfig& cb = pc.circuit_breaker;
    PoolRuntime pool{&pc,
                     {},
                     {},
                     balance::FindPolicy(pc.balance),
                     {cb.max_connections, cb.max_pending, cb.max_requests},
                     FindPoolShared(previous, pc.name)};
    if (pool.policy == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("pools.{}.balance: unknown policy \"{}\"", pc.name, pc.balance));
    }
    for (const config::BackendConfig& bc : pc.backends) {
      std::shared_ptr<upstream::Backend> b = FindBackend(previous, pc.name, bc.address);
      if (b == nullptr) {
        b = std::make_shared<upstream::Backend>(pc.name, bc.address,
                                                bc.name.empty() ? bc.address.ToString() : bc.name);
        upstream::CircuitBreaker::Options options;
        options.consecutive_failures = pc.circuit_breaker.consecutive_failures;
        options.open_for = pc.circuit_breaker.open_for;
        options.trial_timeout = pc.timeouts.connect + pc.timeouts.read;
        b->set_breaker(std::make_shared<upstream::CircuitBreaker>(options));
        // A backend a reload adds ramps up under slow_start; those present at start-up do
        // not (nothing is warmer than anything else then).
        if (previous != nullptr) b->set_available_since_ns(MonoNanos());
      }
      pool.members.push_back({b.get(), bc.weight});
      pool.backends.push_back(std::move(b));
    }
    snap->pools.push_back(std::move(pool));
  }

  snap->listeners.reserve(cfg.listeners.size());
  for (const config::ListenerConfig& lc : cfg.listeners) {
    ListenerRuntime l{&lc, route::Router(lc.routes), {}};
    for (const config::RouteConfig& rc : lc.routes) {
      size_t index = 0;
      while (index < cfg.pools.size() && cfg.pools[index].name != rc.pool) ++index;
      if (index == cfg.pools.size()) {
        return absl::InvalidArgumentError(
            fmt::format("listeners.{}: route names unknown pool \"{}\"", lc.name, rc.pool));
      }
      l.route_pool.push_back(index);
    }
    snap->listeners.push_back(std::move(l));
  }
  return std::shared_ptr<const Snapshot>(std::move(snap));
}

}  // namespace outrigger::forward
