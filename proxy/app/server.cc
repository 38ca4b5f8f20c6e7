#include "proxy/app/server.h"

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <csignal>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "proxy/admin/access_log_family.h"
#include "proxy/admin/status.h"
#include "proxy/app/cpu_quota.h"
#include "proxy/app/memory_limit.h"
#include "proxy/app/service_notify.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/config/loader.h"
#include "proxy/net/event.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/panic.h"
#include "version.h"

namespace outrigger::app {
namespace {

constexpr timeval kDrainTick{0, 50 * 1000};
// How often open circuits are checked for a due half-open trial: the trial starts at most
// this late, and the scan is a few loads per backend.
constexpr timeval kCircuitTick{0, 100 * 1000};
// The scaling signals' sample period (design.md §6: once a second).
constexpr timeval kScalingTick{1, 0};
// RSS over this share of the memory limit is logged once, and again only after it fell
// below kRssCalmRatio (so a process hovering at the mark does not flood the log).
constexpr double kRssWarnRatio = 0.8;
constexpr double kRssCalmRatio = 0.75;

metrics::ResourceLimits ReadLimits() { return {MemoryLimitBytes(), CpuLimitCores()}; }

// Marks the backends `next` no longer has as draining when the last worker drops its copy,
// once it has adopted `next`. Not before: a worker still on `previous` picks among them, and
// finding a pool's every backend draining it would shed its requests with 503s (a reload or a
// DNS change replacing all of a pool's backends). Runs on that worker's thread: the marks
// are atomic flags, and both snapshots are immutable.
class MarkRemovedWhenAdopted {
 public:
  MarkRemovedWhenAdopted(std::shared_ptr<const forward::Snapshot> previous,
                         std::shared_ptr<const forward::Snapshot> next)
      : previous_(std::move(previous)), next_(std::move(next)) {}
  MarkRemovedWhenAdopted(const MarkRemovedWhenAdopted&) = delete;  // one mark, by the last
  MarkRemovedWhenAdopted& operator=(const MarkRemovedWhenAdopted&) = delete;
  ~MarkRemovedWhenAdopted() { forward::MarkRemovedBackends(*previous_, *next_); }

 private:
  std::shared_ptr<const forward::Snapshot> previous_;
  std::shared_ptr<const forward::Snapshot> next_;
};

std::vector<metrics::PoolScalingSettings> ScalingSettings(const forward::Snapshot& snapshot) {
  std::vector<int> ready = admin::ReadyBackends(snapshot);
  std::vector<metrics::PoolScalingSettings> settings;
  for (size_t p = 0; p < snapshot.pools.size(); ++p) {
    const config::ScalingConfig& c = snapshot.pools[p].config->scaling;
    metrics::PoolScalingSettings& s = settings.emplace_back();
    s.kind = c.target_kind == config::ScalingConfig::Target::kRps ? metrics::TargetKind::kRps
                                                                  : metrics::TargetKind::kInflight;
    s.target = c.target;
    s.min_backends = static_cast<int>(c.min_backends);
    s.max_backends = static_cast<int>(c.max_backends);
    s.stable_window_ns = std::chrono::nanoseconds(c.stable_window).count();
    s.panic_window_ns = std::chrono::nanoseconds(c.panic_window).count();
    s.ready_backends = ready[p];
  }
  return settings;
}

constexpr int kSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};

sigset_t SignalSet() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : kSignals) sigaddset(&set, sig);
  return set;
}

}  // namespace

void Server::BlockSignals() {
  sigset_t handled = SignalSet();
  pthread_sigmask(SIG_BLOCK, &handled, nullptr);
}

Server::Server(std::string config_path)
    : config_path_(std::move(config_path)),
      process_(kVersion, ReadLimits),
      base_(net::NewEventBase()) {}

Server::~Server() {
  for (auto& w : workers_) w->PostStop();
  workers_.clear();
}

int Server::Run() {
  if (absl::Status s = Start(); !s.ok()) {
    spdlog::error("{}", std::string(s.message()));
    for (auto& w : workers_) w->PostStop();
    return 1;
  }
  event_base_loop(base_.get(), EVLOOP_NO_EXIT_ON_EMPTY);
  for (auto& w : workers_) w->Join();
  spdlog::info("stopped");
  return 0;
}

absl::Status Server::Start() {
  absl::StatusOr<config::Config> cfg = config::LoadConfigFile(config_path_);
  if (!cfg.ok()) return cfg.status();
  unsigned workers = cfg->workers != 0 ? cfg->workers : UsableCpus();
  if (absl::Status s = CheckConnectionLimits(*cfg, workers); !s.ok()) return s;
  net::SocketAddress admin_address = cfg->admin.listen;
  absl::StatusOr<std::shared_ptr<const forward::Snapshot>> snap =
      forward::BuildSnapshot(*std::move(cfg), nullptr);
  if (!snap.ok()) return snap.status();
  absl::StatusOr<std::optional<std::string>> token = ReadToken((*snap)->config);
  if (!token.ok()) return token.status();
  health_ = std::make_unique<upstream::HealthChecker>(base_.get(), MonoNanos());
  Publish(*std::move(snap));  // no worker yet: this marks new backends unready before they start
  // Names not resolved yet leave their pool without those backends (503) until they are:
  // in compose, the api may well start after the proxy.
  dns_ = std::make_unique<upstream::DnsDiscovery>(base_.get(), [this] { OnDnsChange(); });
  dns_->Configure(snapshot_->config);
  config_load_ = std::make_unique<AsyncConfigLoad>(
      base_.get(), config_path_,
      [this](absl::StatusOr<config::Config> loaded) { OnConfigLoaded(std::move(loaded)); });

  admin_ = std::make_unique<admin::AdminServer>(
      base_.get(),
      admin::AdminServer::Hooks{
          .ready = [this] { return Ready(); },
          .metrics = [this] { return MetricsText(); },
          .status =
              [this] {
                std::vector<const forward::LimitCounterSet*> limits;
                for (const auto& w : workers_) limits.push_back(&w->limit_counters());
                return admin::StatusJson(*snapshot_, collector_.Read(), recent_, scaling_,
                                         dns_status(), MonoNanos(), &overrides_, limits);
              },
          .scaling = [this] { return admin::ScalingJson(scaling_); },
          .patch = [this](std::string_view pool, std::string_view backend,
                          std::string_view body) { return PatchBackend(pool, backend, body); },
          .reload = [this](auto done) { AdminReload(std::move(done)); },
      });
  admin_->SetToken(*std::move(token));
  if (absl::Status s = admin_->Bind(admin_address); !s.ok()) return s;

  for (unsigned i = 0; i < workers; ++i) {
    workers_.push_back(
        std::make_unique<forward::Worker>(static_cast<int>(i), snapshot_, &collector_, workers));
    if (absl::Status s = workers_.back()->BindListeners(); !s.ok()) return s;
  }
  for (auto& w : workers_) w->Start();

  for (int sig : kSignals) {
    signals_.emplace_back(evsignal_new(base_.get(), sig, &Server::OnSignal, this));
    event_add(signals_.back().get(), nullptr);
  }
  sigset_t handled = SignalSet();
  pthread_sigmask(SIG_UNBLOCK, &handled, nullptr);  // what came meanwhile is handled now
  std::signal(SIGPIPE, SIG_IGN);
  circuit_tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &Server::OnCircuitTick, this));
  event_add(circuit_tick_.get(), &kCircuitTick);
  scaling_tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &Server::OnScalingTick, this));
  event_add(scaling_tick_.get(), &kScalingTick);
  ScalingTick();
  ready_ = true;
  for (const auto& l : snapshot_->config.listeners) {
    spdlog::info("listener {} on {}", l.name, l.listen.ToString());
  }
  spdlog::info("outrigger {} ready: {} worker(s), admin on {}", kVersion, workers,
               admin_address.ToString());
  NotifyReady(fmt::format("serving: {} worker(s), {} listener(s)", workers,
                          snapshot_->config.listeners.size()));
  return absl::OkStatus();
}

void Server::OnSignal(evutil_socket_t sig, short, void* arg) {
  auto* self = static_cast<Server*>(arg);
  if (sig == SIGHUP) {
    self->Reload();
  } else if (sig == SIGUSR1) {
    self->ReopenAccessLogs();
  } else {
    self->BeginDrain();
  }
}

void Server::BeginDrain() {
  if (draining_) {
    spdlog::warn("second stop signal: exiting without waiting for in-flight requests");
    for (auto& w : workers_) w->PostStop();
    event_base_loopexit(base_.get(), nullptr);
    return;
  }
  draining_ = true;  // /health/ready answers 503 from now on
  NotifyStopping("draining");
  auto delay = snapshot_->config.drain.delay;
  if (delay.count() == 0) {
    DrainWorkers();
    return;
  }
  spdlog::info("draining: not ready any more; still serving for {} ms (drain.delay)",
               delay.count());
  drain_delay_.reset(evtimer_new(base_.get(), &Server::OnDrainDelay, this));
  timeval tv = net::ToTimeval(delay);
  event_add(drain_delay_.get(), &tv);
}

void Server::OnDrainDelay(evutil_socket_t, short, void* arg) {
  static_cast<Server*>(arg)->DrainWorkers();
}

void Server::DrainWorkers() {
  auto timeout = snapshot_->config.drain.timeout;
  spdlog::info("draining: no new connections; in-flight requests have up to {} ms",
               timeout.count());
  drain_deadline_ns_ = MonoNanos() + std::chrono::nanoseconds(timeout).count();
  for (auto& w : workers_) w->PostDrain();
  drain_tick_.reset(event_new(base_.get(), -1, EV_PERSIST, &Server::OnDrainTick, this));
  event_add(drain_tick_.get(), &kDrainTick);
}

void Server::OnDrainTick(evutil_socket_t, short, void* arg) {
  static_cast<Server*>(arg)->CheckDrained();
}

void Server::CheckDrained() {
  bool all_stopped = true;
  for (auto& w : workers_) all_stopped = all_stopped && w->stopped();
  if (all_stopped) {
    spdlog::info("drained");
    event_base_loopexit(base_.get(), nullptr);
    return;
  }
  if (MonoNanos() >= drain_deadline_ns_) {
    size_t left = 0;
    for (auto& w : workers_) left += w->connection_count();
    spdlog::warn("drain timeout: closing {} connection(s) still open", left);
    for (auto& w : workers_) w->PostStop();
    event_base_loopexit(base_.get(), nullptr);
  }
}

void Server::OnCircuitTick(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Server*>(arg);
  self->OfferHalfOpenBackends();
  self->UpdateBalancingPanic();
}

absl::Status Server::CheckConnectionLimits(const config::Config& config, size_t workers) {
  // Each worker admits its share of max_connections, rounded up and at least one, with no
  // counter shared between workers (worker.cc): below the worker count the cap would be the
  // worker count, silently. Refused rather than enforced process-wide, which would put a
  // shared atomic on every accept and close of every worker for a setting that makes little
  // sense (nginx's worker_connections is per worker too).
  for (const config::ListenerConfig& l : config.listeners) {
    if (l.max_connections >= workers) continue;
    return absl::InvalidArgumentError(fmt::format(
        "{}: listeners.{}.max_connections: {} is below the {} workers, and each worker admits "
        "at least one connection; raise it to {} or lower `workers`",
        config.file, l.name, l.max_connections, workers, workers));
  }
  return absl::OkStatus();
}

bool Server::Ready() const {
  if (!ready_ || draining_) return false;
  // Every pool must have a backend that is up and ready; open circuits do not count against
  // it, as they close by themselves.
  constexpr uint32_t kNotReady =
      upstream::Backend::kDead | upstream::Backend::kUnready | upstream::Backend::kDraining;
  for (const forward::PoolRuntime& pool : snapshot_->pools) {
    bool any = false;
    for (const auto& b : pool.backends) any = any || (b->unavailable() & kNotReady) == 0;
    if (!any) return false;
  }
  return true;
}

void Server::UpdateBalancingPanic() {
  for (const forward::PoolRuntime& pool : snapshot_->pools) {
    // Health decides panic; open circuits do not (they stay out even in panic, and their
    // half-open trials bring them back).
    constexpr uint32_t kUnhealthy = upstream::Backend::kDead | upstream::Backend::kUnready;
    size_t usable = 0;
    size_t total = 0;
    for (const auto& b : pool.backends) {
      if ((b->unavailable() & upstream::Backend::kDraining) != 0) continue;
      ++total;
      usable += (b->unavailable() & kUnhealthy) == 0;
    }
    bool panic = upstream::InPanic(usable, total, pool.config->panic_threshold);
    if (pool.shared->balancing_panic.exchange(panic, std::memory_order_relaxed) == panic) continue;
    if (panic) {
      spdlog::warn(
          "pool {}: only {} of {} backends usable (below panic_threshold {}%): balancing over "
          "all of them",
          pool.config->name, usable, total, pool.config->panic_threshold);
    } else {
      spdlog::info("pool {}: {} of {} backends usable again: panic over", pool.config->name, usable,
                   total);
    }
  }
}

void Server::OfferHalfOpenBackends() {
  // An open circuit keeps its backend out of every pick, so no request would ever ask the
  // breaker for the half-open trial; once the open time is over, offer the backend again and
  // let AllowRequest admit the trial. Syncing every backend also repairs a bit that a racing
  // worker left out of step with its breaker, in either direction.
  int64_t now = MonoNanos();
  for (const forward::PoolRuntime& pool : snapshot_->pools) {
    for (const auto& b : pool.backends) {
      if (upstream::SyncCircuitFlag(*b, now) == upstream::FlagSync::kCleared &&
          b->breaker()->state(now) == upstream::CircuitBreaker::State::kHalfOpen) {
        spdlog::info("pool {} backend {}: circuit half-open, sending a trial request", b->pool(),
                     b->label());
      }
    }
  }
}

void Server::OnScalingTick(evutil_socket_t, short, void* arg) {
  static_cast<Server*>(arg)->ScalingTick();
}

void Server::ScalingTick() {
  const int64_t now = MonoNanos();
  metrics::Totals totals = collector_.Read();
  scaling_.Tick(now, totals, ScalingSettings(*snapshot_));
  recent_.Tick(now, totals);

  const std::optional<metrics::ProcessStats> stats = metrics::ReadProcessStats();
  const double limit = MemoryLimitBytes();
  if (stats && limit > 0) {
    const double ratio = stats->resident_bytes / limit;
    if (!rss_warned_ && ratio >= kRssWarnRatio) {
      rss_warned_ = true;
      spdlog::warn("resident memory {} MiB is {:.0f}% of the memory limit {} MiB",
                   static_cast<int64_t>(stats->resident_bytes / (1 << 20)), ratio * 100,
                   static_cast<int64_t>(limit / (1 << 20)));
    } else if (rss_warned_ && ratio < kRssCalmRatio) {
      rss_warned_ = false;
    }
  }
}

std::string Server::MetricsText() const {
  std::vector<prometheus::MetricFamily> families = collector_.Collect();
  auto append = [&families](std::vector<prometheus::MetricFamily> more) {
    for (auto& f : more) families.push_back(std::move(f));
  };
  append(admin::StateFamilies(*snapshot_, MonoNanos()));
  append(scaling_.Families());
  append(process_.Collect());
  families.push_back(admin::ReloadFamily(reloads_.success, reloads_.failure));
  std::vector<const forward::LimitCounterSet*> limits;
  for (const auto& w : workers_) limits.push_back(&w->limit_counters());
  families.push_back(admin::LimitHitsFamily(limits, snapshot_->config.listeners));
  families.push_back(admin::Http2LimitHitsFamily(limits, snapshot_->config.listeners));
  std::vector<const forward::LimitCounterSet*> backend_limits;
  for (const auto& w : workers_) backend_limits.push_back(&w->backend_limit_counters());
  families.push_back(admin::BackendLimitHitsFamily(backend_limits, snapshot_->config.pools));
  families.push_back(admin::AccessLogDroppedFamily(*snapshot_));
  return prometheus::TextSerializer().Serialize(families);
}

void Server::ReopenAccessLogs() {
  // logrotate's postrotate: the files were renamed; lines go on to new ones at the paths.
  // A sink a reload gave a new path was opened anew then (BuildSnapshot).
  for (const forward::ListenerRuntime& l : snapshot_->listeners) {
    if (l.access_log) l.access_log->Reopen();
  }
  spdlog::info("SIGUSR1: reopening the access logs");
}

void Server::Reload() {
  if (draining_) {
    spdlog::warn("reload ignored: draining (SIGHUP after a stop signal)");
    return;
  }
  NotifyReloading();
  config_load_->Start();
}

void Server::OnConfigLoaded(absl::StatusOr<config::Config> cfg) {
  const bool load_failed = !cfg.ok();  // its errors are lines of FILE:LINE:COL: ...
  absl::Status result = draining_ ? absl::UnavailableError("draining: the reload was dropped")
                                  : ApplyConfig(std::move(cfg));
  if (draining_) {
    for (auto& done : std::exchange(reload_waiters_, {})) done(ReloadAnswer(result));
    return;
  }
  if (result.ok()) {
    ++reloads_.success;
    spdlog::info("reloaded {}", config_path_);
    NotifyReady("serving: reloaded");
  } else {
    ++reloads_.failure;
    spdlog::error("reload refused, the running config stays:{}{}", load_failed ? "\n" : " ",
                  std::string(result.message()));
    NotifyReady("serving: the last reload was refused, the running config stays");
  }
  for (auto& done : std::exchange(reload_waiters_, {})) done(ReloadAnswer(result));
}

absl::Status Server::ApplyConfig(absl::StatusOr<config::Config> cfg) {
  if (!cfg.ok()) return cfg.status();
  if (absl::Status s = CheckConnectionLimits(*cfg, workers_.size()); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> token = ReadToken(*cfg);
  if (!token.ok()) return token.status();
  const config::Config& running = snapshot_->config;
  if (cfg->workers != running.workers || !(cfg->admin.listen == running.admin.listen)) {
    spdlog::warn("reload: `workers` and `admin.listen` change only at a restart; kept as they are");
  }
  absl::StatusOr<std::vector<std::vector<net::ListenSocket>>> sockets = BindNewListeners(*cfg);
  if (!sockets.ok()) return sockets.status();
  absl::StatusOr<std::shared_ptr<const forward::Snapshot>> snap =
      forward::BuildSnapshot(*std::move(cfg), snapshot_.get(), &dns_->addresses(), &overrides_);
  if (!snap.ok()) return snap.status();
  for (const auto& l : (*snap)->config.listeners) {
    bool had = std::any_of(running.listeners.begin(), running.listeners.end(),
                           [&](const auto& r) { return r.listen == l.listen; });
    if (!had) spdlog::info("reload: listener {} on {} opens", l.name, l.listen.ToString());
  }
  for (const auto& r : running.listeners) {
    bool kept = std::any_of((*snap)->config.listeners.begin(), (*snap)->config.listeners.end(),
                            [&](const auto& l) { return r.listen == l.listen; });
    if (!kept) spdlog::info("reload: listener {} on {} closes", r.name, r.listen.ToString());
  }
  Publish(*std::move(snap), *std::move(sockets));
  dns_->Configure(snapshot_->config);
  admin_->SetToken(*std::move(token));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::vector<net::ListenSocket>>> Server::BindNewListeners(
    const config::Config& next) {
  std::vector<std::vector<net::ListenSocket>> sockets(workers_.size());
  for (const config::ListenerConfig& l : next.listeners) {
    const auto& running = snapshot_->config.listeners;
    if (std::any_of(running.begin(), running.end(),
                    [&](const auto& r) { return r.listen == l.listen; })) {
      continue;
    }
    for (auto& per_worker : sockets) {
      absl::StatusOr<net::ListenSocket> socket = net::ListenSocket::Bind(l.listen);
      if (!socket.ok()) {
        return absl::Status(
            socket.status().code(),
            fmt::format("listeners.{}: {}", l.name, std::string(socket.status().message())));
      }
      per_worker.push_back(*std::move(socket));
    }
  }
  return sockets;
}

void Server::OnDnsChange() {
  absl::StatusOr<std::shared_ptr<const forward::Snapshot>> snap =
      forward::BuildSnapshot(snapshot_->config, snapshot_.get(), &dns_->addresses(), &overrides_);
  if (!snap.ok()) {  // the running config compiled before; only a bug gets here
    spdlog::error("dns: cannot rebuild the snapshot: {}", std::string(snap.status().message()));
    return;
  }
  Publish(*std::move(snap));
}

std::vector<upstream::DnsEntryStatus> Server::dns_status() const {
  return dns_ ? dns_->status() : std::vector<upstream::DnsEntryStatus>{};
}

void Server::Publish(std::shared_ptr<const forward::Snapshot> snapshot,
                     std::vector<std::vector<net::ListenSocket>> listener_sockets) {
  // Probes first: a new backend must be marked unready before a worker can pick it.
  absl::flat_hash_set<const upstream::Backend*> kept;
  if (snapshot_) {
    for (const forward::PoolRuntime& pool : snapshot_->pools) {
      for (const auto& b : pool.backends) kept.insert(b.get());
    }
  }
  std::vector<upstream::HealthChecker::Target> targets;
  absl::flat_hash_set<const upstream::Backend*> unprobed;
  for (const forward::PoolRuntime& pool : snapshot->pools) {
    for (const auto& b : pool.backends) {
      // An operator's state first: a backend in maint must not be picked, nor probed.
      overrides_.ApplyTo(*b);
      if (overrides_.InMaint(*b)) {
        unprobed.insert(b.get());
        continue;
      }
      targets.push_back({b, &pool.config->health,
                         !kept.contains(b.get()) || unprobed_.contains(b.get()), pool.tls,
                         std::string(pool.TlsName(b.get()))});
    }
  }
  health_->Track(targets);
  unprobed_ = std::move(unprobed);
  std::shared_ptr<const void> mark_removed;
  if (snapshot_) {
    mark_removed = std::make_shared<const MarkRemovedWhenAdopted>(std::move(snapshot_), snapshot);
  }
  snapshot_ = std::move(snapshot);
  // Before the workers adopt it: their new shards are in this layout, and the series of
  // backends it no longer has disappear from /metrics.
  collector_.SetLayout(snapshot_->metric_layout);
  listener_sockets.resize(workers_.size());
  for (size_t i = 0; i < workers_.size(); ++i) {
    workers_[i]->PostSnapshot(snapshot_, std::move(listener_sockets[i]), mark_removed);
  }
}

}  // namespace outrigger::app
