#include "proxy/admin/status.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

#include "proxy/config/tls_reader.h"
#include "proxy/metrics/family.h"
#include "proxy/upstream/circuit_breaker.h"

namespace outrigger::admin {
namespace {

using prometheus::MetricFamily;

using metrics::AddSample;
using metrics::GaugeFamily;

// NaN (no observation in the window) is null in JSON.
// Names are UTF-8 (the loader refuses anything else); should a byte slip through anyway, it
// becomes U+FFFD rather than an exception on the control thread.
std::string Dump(const nlohmann::json& j) {
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json Number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nullptr; }

double Rate(uint64_t now, uint64_t then, double seconds) {
  return seconds > 0 && now >= then ? static_cast<double>(now - then) / seconds : 0;
}

template <typename Array>
uint64_t Sum(const Array& a) {
  uint64_t n = 0;
  for (uint64_t v : a) n += v;
  return n;
}

nlohmann::json Quantiles(const metrics::HistogramTotals& h) {
  return {{"p50", Number(metrics::HistogramQuantile(0.50, h))},
          {"p95", Number(metrics::HistogramQuantile(0.95, h))},
          {"p99", Number(metrics::HistogramQuantile(0.99, h))}};
}

nlohmann::json UnixSeconds(const std::optional<std::chrono::system_clock::time_point>& t) {
  if (!t) return nullptr;
  return std::chrono::duration<double>(t->time_since_epoch()).count();
}

}  // namespace

std::string_view BackendState(const upstream::Backend& backend) {
  const uint32_t flags = backend.unavailable();
  if (flags & upstream::Backend::kDead) return "dead";
  if (flags & (upstream::Backend::kDraining | upstream::Backend::kOperatorOut)) return "draining";
  if (flags != 0) return "unready";
  return "ready";
}

std::string_view CircuitState(const upstream::Backend& backend, int64_t now_ns) {
  if (backend.breaker() == nullptr) return "closed";
  switch (backend.breaker()->state(now_ns)) {
    case upstream::CircuitBreaker::State::kClosed:
      return "closed";
    case upstream::CircuitBreaker::State::kOpen:
      return "open";
    case upstream::CircuitBreaker::State::kHalfOpen:
      return "half_open";
  }
  return "closed";
}

std::vector<int> ReadyBackends(const forward::Snapshot& snapshot) {
  std::vector<int> ready;
  for (const forward::PoolRuntime& pool : snapshot.pools) {
    int n = 0;
    for (const auto& b : pool.backends) n += BackendState(*b) == "ready" ? 1 : 0;
    ready.push_back(n);
  }
  return ready;
}

std::vector<MetricFamily> StateFamilies(const forward::Snapshot& snapshot, int64_t now_ns) {
  MetricFamily up = GaugeFamily("outrigger_backend_up",
                                "1 while the backend passes its probe (live or ready), else 0.");
  MetricFamily circuit = GaugeFamily("outrigger_backend_circuit_state",
                                     "1 for the backend's circuit state, 0 for the others.");
  MetricFamily backends = GaugeFamily("outrigger_pool_backends",
                                      "Backends of the pool by state (each in exactly one).");
  MetricFamily connections = GaugeFamily(
      "outrigger_backend_connections",
      "Upstream connections to the backend from every worker: active (carrying or opening for "
      "a request) or idle (in a keep-alive pool).");
  for (const forward::PoolRuntime& pool : snapshot.pools) {
    const std::string& name = pool.config->name;
    int counts[4] = {0, 0, 0, 0};
    for (const auto& b : pool.backends) {
      const uint32_t flags = b->unavailable();
      AddSample(up, {{"pool", name}, {"backend", b->label()}, {"probe", "live"}},
                (flags & upstream::Backend::kDead) ? 0 : 1);
      AddSample(up, {{"pool", name}, {"backend", b->label()}, {"probe", "ready"}},
                (flags & upstream::Backend::kUnready) ? 0 : 1);
      const std::string_view state = CircuitState(*b, now_ns);
      for (const char* s : {"closed", "open", "half_open"}) {
        AddSample(circuit, {{"pool", name}, {"backend", b->label()}, {"state", s}},
                  state == s ? 1 : 0);
      }
      const int64_t idle = b->idle_connections();
      AddSample(connections, {{"pool", name}, {"backend", b->label()}, {"state", "active"}},
                static_cast<double>(std::max<int64_t>(b->connections() - idle, 0)));
      AddSample(connections, {{"pool", name}, {"backend", b->label()}, {"state", "idle"}},
                static_cast<double>(std::max<int64_t>(idle, 0)));
      const std::string_view bs = BackendState(*b);
      counts[bs == "ready" ? 0 : bs == "unready" ? 1 : bs == "dead" ? 2 : 3]++;
    }
    const char* states[4] = {"ready", "unready", "dead", "draining"};
    for (int i = 0; i < 4; ++i)
      AddSample(backends, {{"pool", name}, {"state", states[i]}}, counts[i]);
  }
  std::vector<MetricFamily> families;
  families.push_back(std::move(up));
  families.push_back(std::move(circuit));
  families.push_back(std::move(backends));
  families.push_back(std::move(connections));
  return families;
}

namespace {

// Each listener's address and, for TLS, the certificates it serves (what an operator checks
// before a renewal is due).
nlohmann::json ListenersJson(const forward::Snapshot& snapshot,
                             std::span<const forward::LimitCounterSet* const> limits) {
  // Open HTTP/2 connections and streams by listener name, summed over the workers.
  std::map<std::string, std::pair<int64_t, int64_t>> h2;
  for (const forward::LimitCounterSet* set : limits) {
    set->ForEach([&](const std::string& listener, const forward::LimitCounters& counters) {
      auto& [connections, streams] = h2[listener];
      connections += counters.Http2Connections();
      streams += counters.Http2Streams();
    });
  }
  nlohmann::json out = nlohmann::json::object();
  for (const forward::ListenerRuntime& l : snapshot.listeners) {
    nlohmann::json entry = {{"listen", l.config->listen_text}, {"tls", l.config->tls.has_value()}};
    const auto [connections, streams] = h2[l.config->name];
    entry["http2"] = {{"connections", connections}, {"streams", streams}};
    if (l.config->tls) {
      nlohmann::json certs = nlohmann::json::array();
      for (const std::shared_ptr<const tls::CertifiedKey>& c : config::Loaded(*l.config->tls)) {
        certs.push_back({{"subject", c->subject_cn},
                         {"names", c->names},
                         {"serial", c->serial},
                         {"key", c->ecdsa ? "ecdsa" : "rsa"},
                         {"not_after", c->not_after}});
      }
      entry["certificates"] = std::move(certs);
    }
    out[l.config->name] = std::move(entry);
  }
  return out;
}

}  // namespace

std::string StatusJson(const forward::Snapshot& snapshot, const metrics::Totals& totals,
                       const metrics::Recent& recent, const metrics::ScalingBoard& board,
                       std::span<const upstream::DnsEntryStatus> dns, int64_t now_ns,
                       const upstream::OperatorOverrides* overrides,
                       std::span<const forward::LimitCounterSet* const> limits) {
  const metrics::Recent::Window rates = recent.RateWindow();
  const metrics::Recent::Window latency = recent.QuantileWindow();
  auto same_layout = [&](const metrics::Recent::Window& w) {
    return w.now != nullptr && w.now->layout == totals.layout && w.seconds > 0;
  };
  const bool have_rates = same_layout(rates);
  const bool have_latency = same_layout(latency);

  nlohmann::json pools = nlohmann::json::object();
  for (size_t p = 0; p < snapshot.pools.size(); ++p) {
    const forward::PoolRuntime& pool = snapshot.pools[p];
    nlohmann::json backends = nlohmann::json::array();
    int64_t pool_inflight = 0;
    for (size_t i = 0; i < pool.backends.size(); ++i) {
      const upstream::Backend& b = *pool.backends[i];
      const metrics::BackendId id = snapshot.MetricId(&b);
      const metrics::BackendTotals& t = totals.backends[id];
      pool_inflight += t.inflight;
      nlohmann::json backend = {
          {"backend", b.label()},
          {"address", b.address().ToString()},
          {"state", BackendState(b)},
          {"live", (b.unavailable() & upstream::Backend::kDead) == 0},
          {"ready", (b.unavailable() & upstream::Backend::kUnready) == 0},
          {"circuit", CircuitState(b, now_ns)},
          {"weight", pool.members[i].weight},
          {"inflight", t.inflight},
          {"tunnels", t.tunnels},
          {"requests", Sum(t.requests)},
          {"rps", have_rates ? Rate(Sum(rates.now->backends[id].requests),
                                    Sum(rates.then->backends[id].requests), rates.seconds)
                             : 0.0},
      };
      const upstream::OperatorOverride* op =
          overrides != nullptr ? overrides->Find(b.pool(), b.address()) : nullptr;
      nlohmann::json op_json = nullptr;
      std::string_view admin_state = "ready";
      if (op != nullptr) {
        op_json = nlohmann::json::object();
        if (op->state) op_json["state"] = OperatorStateName(*op->state);
        if (op->weight) {
          op_json["weight"] = *op->weight;
          backend["weight"] = *op->weight;  // 0 builds the policies with 1, out of rotation
        }
        if (op->state || op->weight == 0u) {
          const bool idle = t.inflight == 0 && t.tunnels == 0 && b.active_requests() == 0;
          admin_state = op->state == upstream::OperatorState::kMaint ? "maint"
                        : idle                                       ? "drained"
                                                                     : "draining";
        }
      }
      backend["operator"] = std::move(op_json);
      backend["admin_state"] = admin_state;
      backend["latency_seconds"] =
          have_latency ? Quantiles(metrics::Minus(latency.now->backends[id].latency,
                                                  latency.then->backends[id].latency))
                       : Quantiles({});
      backends.push_back(std::move(backend));
    }
    const metrics::PoolTotals& t = totals.pools[p];
    nlohmann::json entry = {
        {"balance", pool.config->balance},
        // Issue 4's balancing panic (spread over every backend, health disregarded), not the
        // scaling panic of outrigger_pool_panic.
        {"balancing_panic",
         pool.shared != nullptr && pool.shared->balancing_panic.load(std::memory_order_relaxed)},
        {"inflight", pool_inflight},
        {"pending", std::max<int64_t>(0, t.concurrency - pool_inflight)},
        {"requests", t.RequestCount()},
        {"rps", have_rates ? Rate(rates.now->pools[p].RequestCount(),
                                  rates.then->pools[p].RequestCount(), rates.seconds)
                           : 0.0},
        {"backends", std::move(backends)},
    };
    metrics::HistogramTotals all;
    if (have_latency) {
      for (size_t o = 0; o < metrics::kPoolOutcomeCount; ++o) {
        all +=
            metrics::Minus(latency.now->pools[p].duration[o], latency.then->pools[p].duration[o]);
      }
    }
    entry["latency_seconds"] = Quantiles(all);
    for (const metrics::PoolScaling& s : board.latest()) {
      if (s.pool != pool.config->name) continue;
      entry["scaling"] = {{"desired_backends", s.signals.desired},
                          {"recommended_backends", s.signals.recommended},
                          {"utilization", s.signals.utilization},
                          {"panic", s.signals.panic},
                          {"min_backends", pool.config->scaling.min_backends},
                          {"max_backends", pool.config->scaling.max_backends}};
    }
    nlohmann::json names = nlohmann::json::array();
    for (const upstream::DnsEntryStatus& d : dns) {
      if (d.key.pool != pool.config->name) continue;
      names.push_back({{"dns", d.key.dns},
                       {"addresses", d.addresses},
                       {"last_success", UnixSeconds(d.last_success)},
                       {"last_attempt", UnixSeconds(d.last_attempt)},
                       {"last_error", d.last_error}});
    }
    if (!names.empty()) entry["dns"] = std::move(names);
    pools[pool.config->name] = std::move(entry);
  }
  return Dump(nlohmann::json(
             {{"pools", std::move(pools)}, {"listeners", ListenersJson(snapshot, limits)}})) +
         "\n";
}

prometheus::MetricFamily LimitHitsFamily(std::span<const forward::LimitCounterSet* const> sets,
                                         std::span<const config::ListenerConfig> listeners) {
  std::map<std::string, std::array<uint64_t, forward::kLimitCount>> sums;
  for (const forward::LimitCounterSet* set : sets) {
    set->ForEach([&](const std::string& listener, const forward::LimitCounters& counters) {
      // A listener a reload removed or renamed: its series goes (a Prometheus counter may
      // disappear, not fall), and comes back with its count if the name returns.
      if (std::none_of(listeners.begin(), listeners.end(),
                       [&](const config::ListenerConfig& l) { return l.name == listener; })) {
        return;
      }
      auto& sum = sums.try_emplace(listener).first->second;
      for (size_t i = 0; i < forward::kLimitCount; ++i) {
        sum[i] += counters.Read(static_cast<forward::Limit>(i));
      }
    });
  }
  MetricFamily family = metrics::CounterFamily(
      "outrigger_downstream_limit_hits_total",
      "Client requests or connections an abuse limit stopped, by listener and limit "
      "(header_timeout, idle_timeout, header_size, bad_request, max_body, max_connections, "
      "accept_backoff).");
  for (const auto& [listener, sum] : sums) {
    for (size_t i = 0; i < forward::kLimitCount; ++i) {
      AddSample(family, {{"listener", listener}, {"limit", std::string(forward::kLimitLabels[i])}},
                static_cast<double>(sum[i]));
    }
  }
  return family;
}

namespace {

// The HTTP/2 codec's limit hits summed over the workers' sets by key (a listener, or an h2
// pool), for the keys `known` still names: one a reload removed loses its series at once, as
// in LimitHitsFamily. Keys already in `sums` get series even at zero.
using Http2LimitSums = std::map<std::string, std::array<uint64_t, forward::kHttp2LimitCount>>;

template <typename Known>
void SumHttp2Limits(std::span<const forward::LimitCounterSet* const> sets, Known known,
                    Http2LimitSums* sums) {
  for (const forward::LimitCounterSet* set : sets) {
    set->ForEach([&](const std::string& key, const forward::LimitCounters& counters) {
      if (!known(key)) return;
      auto& sum = sums->try_emplace(key).first->second;
      for (size_t i = 0; i < forward::kHttp2LimitCount; ++i) sum[i] += counters.ReadHttp2(i);
    });
  }
}

// A sample per key and limit, labelled {key_label: key, limit}; `server_limits` false leaves
// out the limits only a server has (malformed_requests).
void AddHttp2LimitSamples(MetricFamily& family, const char* key_label, const Http2LimitSums& sums,
                          bool server_limits) {
  for (const auto& [key, sum] : sums) {
    for (size_t i = 0; i < forward::kHttp2LimitCount; ++i) {
      if (!server_limits && forward::kHttp2LimitLabels[i] == "malformed_requests") continue;
      AddSample(family, {{key_label, key}, {"limit", std::string(forward::kHttp2LimitLabels[i])}},
                static_cast<double>(sum[i]));
    }
  }
}

}  // namespace

prometheus::MetricFamily Http2LimitHitsFamily(std::span<const forward::LimitCounterSet* const> sets,
                                              std::span<const config::ListenerConfig> listeners) {
  Http2LimitSums sums;
  SumHttp2Limits(
      sets,
      [&](const std::string& listener) {
        return std::any_of(listeners.begin(), listeners.end(),
                           [&](const config::ListenerConfig& l) { return l.name == listener; });
      },
      &sums);
  MetricFamily family = metrics::CounterFamily(
      "outrigger_http2_limit_hits_total",
      "HTTP/2 client connections or streams a limit of the codec stopped, by listener and "
      "limit (proxy/http2/server_codec.h).");
  AddHttp2LimitSamples(family, "listener", sums, /*server_limits=*/true);
  return family;
}

prometheus::MetricFamily BackendLimitHitsFamily(
    std::span<const forward::LimitCounterSet* const> sets,
    std::span<const config::PoolConfig> pools) {
  Http2LimitSums sums;
  for (const config::PoolConfig& p : pools) {
    if (p.protocol == config::PoolProtocol::kH2) sums.try_emplace(p.name);
  }
  SumHttp2Limits(
      sets,
      [&](const std::string& pool) {
        return std::any_of(pools.begin(), pools.end(),
                           [&](const config::PoolConfig& p) { return p.name == pool; });
      },
      &sums);
  MetricFamily family = metrics::CounterFamily(
      "outrigger_backend_limit_hits_total",
      "HTTP/2 backend connections or streams a limit of the proxy's codec stopped, by pool and "
      "limit (proxy/http2/client_codec.h).");
  AddHttp2LimitSamples(family, "pool", sums, /*server_limits=*/false);
  return family;
}

prometheus::MetricFamily ReloadFamily(uint64_t success, uint64_t failure) {
  MetricFamily family = metrics::CounterFamily(
      "outrigger_config_reloads_total",
      "Configuration reloads (SIGHUP) by result; a failed one leaves the old config.");
  for (auto [result, n] : {std::pair{"success", success}, std::pair{"failure", failure}}) {
    AddSample(family, {{"result", result}}, static_cast<double>(n));
  }
  return family;
}

std::string ScalingJson(const metrics::ScalingBoard& board) {
  nlohmann::json pools = nlohmann::json::object();
  for (const metrics::PoolScaling& s : board.latest()) {
    const bool rps = s.settings.kind == metrics::TargetKind::kRps;
    pools[s.pool] = {
        {"rps", s.signals.requests_per_second},
        {"inflight", s.signals.concurrency},
        {"inflight_now", s.inflight + s.pending},
        {"utilization", s.signals.utilization},
        {"ready_backends", s.settings.ready_backends},
        {"desired_backends", s.signals.desired},
        {"recommended_backends", s.signals.recommended},
        {"min", s.settings.min_backends},
        {"max", s.settings.max_backends},
        {"panic", s.signals.panic},
        {"target", s.settings.target},
        {"target_kind", rps ? "rps" : "inflight"},
    };
  }
  return Dump(nlohmann::json({{"pools", std::move(pools)}})) + "\n";
}

}  // namespace outrigger::admin
