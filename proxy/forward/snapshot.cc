#include "proxy/forward/snapshot.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>

#include "proxy/balance/registry.h"
#include "proxy/base/clock.h"
#include "proxy/config/tls_reader.h"
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

// The listener's TLS context: the previous snapshot's when that listener (by name) serves
// the very same loaded certificates with the same settings, else a new one.
absl::StatusOr<std::shared_ptr<const tls::ServerContext>> ServerContextFor(
    const config::ListenerConfig& lc, const Snapshot* previous,
    const std::shared_ptr<const tls::TicketKeys>& keys) {
  tls::ServerOptions options{config::Loaded(*lc.tls), lc.tls->min_version, lc.tls->alpn,
                             lc.tls->client_auth, lc.tls->client_cas};
  if (previous != nullptr) {
    for (const ListenerRuntime& old : previous->listeners) {
      if (old.config->name == lc.name && old.tls && old.config->tls &&
          old.tls->certificates() == options.certificates &&
          old.config->tls->min_version == options.min_version &&
          old.config->tls->alpn == options.alpn && old.tls->client_auth() == options.client_auth &&
          old.tls->client_cas() == options.client_cas) {
        return old.tls;
      }
    }
  }
  return tls::ServerContext::Build(options, keys);
}

// The chain the same route (listener name, host and path_prefix) had in `previous`, if any.
const plugins::Chain* PreviousChain(const Snapshot* previous, const config::ListenerConfig& lc,
                                    const config::RouteConfig& rc) {
  if (previous == nullptr) return nullptr;
  for (const ListenerRuntime& old : previous->listeners) {
    if (old.config->name != lc.name) continue;
    for (size_t r = 0; r < old.config->routes.size(); ++r) {
      const config::RouteConfig& o = old.config->routes[r];
      if (o.host == rc.host && o.path_prefix == rc.path_prefix) return old.route_chains[r].get();
    }
  }
  return nullptr;
}

// The DNS name in an `address` ("api.internal:8443"), or "" for an IP address.
std::string_view HostOf(std::string_view address_text) {
  std::string host;
  uint16_t port = 0;
  if (!net::SplitHostPort(address_text, &host, &port).ok()) return {};
  unsigned char bytes[sizeof(in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), bytes) == 1 ||
      inet_pton(AF_INET6, host.c_str(), bytes) == 1) {
    return {};
  }
  return address_text.substr(0, host.size());
}

// The pool's context from `previous` while its `tls:` is the same (a DNS rebuild, another
// pool's reload): its probes keep their schedule and its sessions their slots.
absl::StatusOr<std::shared_ptr<const tls::ClientContext>> ClientContextFor(
    const config::PoolConfig& pc, const Snapshot* previous) {
  auto loaded = [](const config::PoolTlsConfig& t) {
    return t.certificate ? t.certificate->loaded : nullptr;
  };
  if (previous != nullptr) {
    for (const PoolRuntime& old : previous->pools) {
      const config::PoolTlsConfig* o = old.config->tls ? &*old.config->tls : nullptr;
      if (old.config->name == pc.name && old.tls && o != nullptr && o->verify == pc.tls->verify &&
          old.tls->require_h2() == (pc.protocol == config::PoolProtocol::kH2) &&
          o->cas == pc.tls->cas && o->ca_path == pc.tls->ca_path && loaded(*o) == loaded(*pc.tls)) {
        return old.tls;
      }
    }
  }
  tls::ClientOptions options;
  options.verify = pc.tls->verify;
  options.cas = pc.tls->cas;
  if (pc.tls->certificate) options.certificate = pc.tls->certificate->loaded;
  options.label = "pools." + pc.name;
  options.require_h2 = pc.protocol == config::PoolProtocol::kH2;
  return tls::ClientContext::Build(options);
}

}  // namespace

std::string_view PoolRuntime::TlsName(const upstream::Backend* backend) const {
  for (size_t i = 0; i < backends.size() && i < tls_names.size(); ++i) {
    if (backends[i].get() == backend) return tls_names[i];
  }
  return {};
}

absl::StatusOr<std::shared_ptr<const Snapshot>> BuildSnapshot(
    config::Config config, const Snapshot* previous, const upstream::ResolvedAddresses* resolved,
    const upstream::OperatorOverrides* overrides) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = std::move(config);
  const config::Config& cfg = snap->config;

  // Settings of kept backends, applied only once the snapshot is known to build: a refused
  // reload must leave the running backends as they were.
  struct KeptUpdate {
    upstream::Backend* backend;
    std::string label;
    upstream::CircuitBreaker::Options options;
  };
  std::vector<KeptUpdate> kept;

  snap->pools.reserve(cfg.pools.size());
  for (const config::PoolConfig& pc : cfg.pools) {
    const config::CircuitBreakerConfig& cb = pc.circuit_breaker;
    PoolRuntime pool{&pc,
                     {},
                     {},
                     balance::FindPolicy(pc.balance),
                     {cb.max_connections, cb.max_pending, cb.max_requests},
                     FindPoolShared(previous, pc.name),
                     nullptr,
                     nullptr,
                     {}};
    if (pc.tls) {
      absl::StatusOr<std::shared_ptr<const tls::ClientContext>> tls =
          ClientContextFor(pc, previous);
      if (!tls.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("pools.{}.tls: {}", pc.name, std::string(tls.status().message())));
      }
      pool.tls = *std::move(tls);
    }
    if (pool.policy == nullptr) {
      return absl::InvalidArgumentError(
          fmt::format("pools.{}.balance: unknown policy \"{}\"", pc.name, pc.balance));
    }
    auto add = [&](const net::SocketAddress& address, uint32_t weight, std::string label,
                   std::string_view host) {
      for (const auto& b : pool.backends) {
        if (b->address() == address) return;  // a dns record repeating a listed address
      }
      if (pool.tls) {
        pool.tls_names.emplace_back(!pc.tls->server_name.empty() ? pc.tls->server_name
                                    : !host.empty()              ? std::string(host)
                                                                 : address.IpString());
      }
      upstream::CircuitBreaker::Options options;
      options.consecutive_failures = pc.circuit_breaker.consecutive_failures;
      options.open_for = pc.circuit_breaker.open_for;
      options.trial_timeout = pc.timeouts.connect + pc.timeouts.read;
      std::shared_ptr<upstream::Backend> b = FindBackend(previous, pc.name, address);
      if (b != nullptr) {
        // Kept: its state and counters go on under this config's name and breaker options.
        kept.push_back({b.get(), std::move(label), options});
      } else {
        b = std::make_shared<upstream::Backend>(pc.name, address, std::move(label));
        b->set_breaker(std::make_shared<upstream::CircuitBreaker>(options));
        // A backend a reload or a resolution adds ramps up under slow_start; those present at
        // start-up do not (nothing is warmer than anything else then).
        if (previous != nullptr) b->set_available_since_ns(MonoNanos());
      }
      if (const upstream::OperatorOverride* o =
              overrides != nullptr ? overrides->Find(pc.name, address) : nullptr;
          o != nullptr && o->weight) {
        weight = std::max<uint32_t>(*o->weight, 1);
      }
      pool.members.push_back({b.get(), weight});
      pool.backends.push_back(std::move(b));
    };
    for (const config::BackendConfig& bc : pc.backends) {
      if (!bc.is_dns()) {
        add(bc.address, bc.weight, bc.name.empty() ? bc.address.ToString() : bc.name,
            HostOf(bc.address_text));
        continue;
      }
      if (resolved == nullptr) continue;
      auto it = resolved->find(upstream::DnsKey{pc.name, bc.dns_text});
      if (it == resolved->end()) continue;
      for (const net::SocketAddress& address : it->second) {
        add(address, bc.weight,
            bc.name.empty() ? address.ToString()
                            : fmt::format("{}/{}", bc.name, address.ToString()),
            bc.dns_host);
      }
    }
    if (balance::PolicyPreparer prepare = balance::FindPreparer(pc.balance)) {
      pool.prepared = prepare(pool.members);
    }
    snap->pools.push_back(std::move(pool));
  }

  // Access log sinks: kept from `previous` for a listener of the same name and path (their
  // writer and queue carry on), opened otherwise; an unwritable path fails the build.
  std::vector<std::shared_ptr<log::LogSink>> sinks(cfg.listeners.size());
  for (size_t i = 0; i < cfg.listeners.size(); ++i) {
    const config::ListenerConfig& lc = cfg.listeners[i];
    if (lc.access_log.format == config::AccessLogConfig::Format::kOff) continue;
    if (previous != nullptr) {
      for (const ListenerRuntime& old : previous->listeners) {
        if (old.access_log && old.config->name == lc.name &&
            old.access_log->path() == lc.access_log.path) {
          sinks[i] = old.access_log;
        }
      }
    }
    if (sinks[i]) continue;
    absl::StatusOr<std::unique_ptr<log::LogSink>> sink =
        log::LogSink::Open(lc.access_log.path, lc.name);
    if (!sink.ok()) {
      return absl::InvalidArgumentError(fmt::format("listeners.{}.access_log.path: {}", lc.name,
                                                    std::string(sink.status().message())));
    }
    sinks[i] = *std::move(sink);
  }

  // Nothing below fails on a config that passed validation (routes name known pools).
  for (KeptUpdate& u : kept) {
    if (u.backend->label() != u.label) u.backend->set_label(std::move(u.label));
    u.backend->breaker()->Reconfigure(u.options);
  }
  // After the renames: a new label is a new series (metrics::Collector keys by label).
  auto layout = std::make_shared<metrics::MetricLayout>();
  for (size_t p = 0; p < snap->pools.size(); ++p) {
    layout->pools.push_back(cfg.pools[p].name);
    for (const auto& b : snap->pools[p].backends) {
      snap->metric_ids.emplace(b.get(), static_cast<metrics::BackendId>(layout->backends.size()));
      layout->backends.push_back({static_cast<metrics::PoolId>(p), b->label()});
    }
  }
  for (const config::ListenerConfig& lc : cfg.listeners) {
    layout->listeners.push_back(lc.name);
    std::vector<metrics::MetricLayout::Certificate>& certs =
        layout->listener_certificates.emplace_back();
    if (!lc.tls) continue;
    for (const std::shared_ptr<const tls::CertifiedKey>& c : config::Loaded(*lc.tls)) {
      certs.push_back(
          {c->subject_cn.empty() && !c->names.empty() ? c->names[0] : c->subject_cn, c->not_after});
    }
  }
  // Plugins register their action series in the layout as they are built.
  std::vector<std::vector<std::shared_ptr<const plugins::Chain>>> chains(cfg.listeners.size());
  for (size_t l = 0; l < cfg.listeners.size(); ++l) {
    for (const config::RouteConfig& rc : cfg.listeners[l].routes) {
      plugins::ActionIds ids(layout.get(), rc.pool);
      chains[l].push_back(rc.plugins.empty()
                              ? nullptr
                              : plugins::BuildChain(rc.plugins, ids,
                                                    PreviousChain(previous, cfg.listeners[l], rc)));
    }
  }
  snap->metric_layout = std::move(layout);

  snap->ticket_keys = previous != nullptr && previous->ticket_keys
                          ? previous->ticket_keys
                          : std::make_shared<const tls::TicketKeys>();
  snap->listeners.reserve(cfg.listeners.size());
  for (const config::ListenerConfig& lc : cfg.listeners) {
    ListenerRuntime l{&lc,
                      route::Router(lc.routes),
                      {},
                      std::move(chains[snap->listeners.size()]),
                      std::move(sinks[snap->listeners.size()]),
                      {}};
    if (lc.tls) {
      absl::StatusOr<std::shared_ptr<const tls::ServerContext>> tls =
          ServerContextFor(lc, previous, snap->ticket_keys);
      if (!tls.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("listeners.{}.tls: {}", lc.name, std::string(tls.status().message())));
      }
      l.tls = *std::move(tls);
    }
    for (const config::RouteConfig& rc : lc.routes) {
      if (rc.pool.empty()) {  // the loader allows it only where a plugin always answers
        l.route_pool.push_back(ListenerRuntime::kNoPool);
        continue;
      }
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

void MarkRemovedBackends(const Snapshot& previous, const Snapshot& next) {
  for (const PoolRuntime& old_pool : previous.pools) {
    const PoolRuntime* kept = nullptr;
    for (const PoolRuntime& p : next.pools) {
      if (p.config->name == old_pool.config->name) kept = &p;
    }
    for (const auto& b : old_pool.backends) {
      bool still = kept != nullptr && std::any_of(kept->backends.begin(), kept->backends.end(),
                                                  [&](const auto& n) { return n == b; });
      if (!still) b->SetUnavailable(upstream::Backend::kDraining, true);
    }
  }
}

}  // namespace outrigger::forward
