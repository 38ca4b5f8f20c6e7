#include "proxy/upstream/health_checker.h"

#include <chrono>

#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/net/event.h"
#include "proxy/upstream/grpc_probe.h"
#include "proxy/upstream/health_state.h"
#include "proxy/upstream/http_probe.h"

namespace outrigger::upstream {
namespace {

using std::chrono::milliseconds;

// A new backend's first probe fires within this, not a whole interval later: a ready probe
// holds its traffic back until then.
constexpr milliseconds kFirstProbeSpread{50};

std::unique_ptr<Probe> MakeProbe(event_base* base, const net::SocketAddress& address,
                                 const config::ProbeConfig& config,
                                 std::shared_ptr<const tls::ClientContext> tls,
                                 const std::string& tls_name) {
  if (config.type == config::ProbeType::kGrpc) {
    return std::make_unique<GrpcProbe>(base, address, config, std::move(tls), tls_name);
  }
  return std::make_unique<HttpProbe>(base, address, config, std::move(tls), tls_name);
}

// What a log line says was probed: "/health/ready", or "grpc health check of service \"x\"".
std::string Describe(const config::ProbeConfig& config) {
  if (config.type == config::ProbeType::kHttp) return config.path;
  return config.service.empty() ? "grpc health check of the server"
                                : "grpc health check of service \"" + config.service + "\"";
}

}  // namespace

// One probe kind on one backend: its schedule, its Probe and its verdict.
class HealthChecker::Session {
 public:
  Session(event_base* base, std::shared_ptr<Backend> backend, Kind kind,
          const config::ProbeConfig& config, HealthState::Initial initial, base::Rng* rng,
          std::shared_ptr<const tls::ClientContext> tls, const std::string& tls_name)
      : backend_(std::move(backend)),
        kind_(kind),
        config_(config),
        tls_(tls),
        state_(config.fall, config.rise, initial),
        first_pending_(initial == HealthState::Initial::kUnhealthyUntilFirstSuccess),
        probe_(MakeProbe(base, backend_->address(), config, std::move(tls), tls_name)),
        timer_(evtimer_new(base, &Session::OnTimer, this)),
        rng_(rng) {
    Publish(state_.healthy());
    Schedule(milliseconds(rng_->Below(kFirstProbeSpread.count() + 1)));
  }

  const config::ProbeConfig& config() const { return config_; }
  const tls::ClientContext* tls() const { return tls_.get(); }
  bool healthy() const { return state_.healthy(); }

  // The probe kind is no longer configured: its verdict no longer holds the backend back.
  void Withdraw() { backend_->SetUnavailable(Bit(), false); }

 private:
  uint32_t Bit() const { return kind_ == Kind::kLive ? Backend::kDead : Backend::kUnready; }
  const char* Name() const { return kind_ == Kind::kLive ? "live" : "ready"; }

  void Publish(bool healthy) { backend_->SetUnavailable(Bit(), !healthy); }

  void Schedule(milliseconds after) {
    timeval tv = net::ToTimeval(after);
    evtimer_add(timer_.get(), &tv);
  }

  // interval ± 10%.
  milliseconds Jittered() {
    int64_t interval = config_.interval.count();
    int64_t spread = interval / 10;
    int64_t offset = static_cast<int64_t>(rng_->Below(static_cast<uint64_t>(2 * spread + 1)));
    return milliseconds(interval - spread + offset);
  }

  static void OnTimer(evutil_socket_t, short, void* arg) {
    auto* self = static_cast<Session*>(arg);
    self->probe_->Run([self](const ProbeResult& r) { self->OnResult(r); });
  }

  void OnResult(const ProbeResult& result) {
    HealthChange change = state_.Observe(result.ok);
    // A new backend held back until its first pass: its verdict does not change when that
    // probe fails, but the operator must still learn why it takes no requests.
    const bool first_failed = first_pending_ && !result.ok;
    first_pending_ = false;
    if (first_failed) {
      spdlog::warn("pool {} backend {}: {} probe {} failed ({}): not ready yet", backend_->pool(),
                   backend_->label(), Name(), Describe(config_), result.detail);
    }
    if (change == HealthChange::kBecameHealthy) {
      if (kind_ == Kind::kLive || (backend_->unavailable() & Backend::kDead) == 0) {
        backend_->set_available_since_ns(MonoNanos());  // slow_start ramps it back up
      }
      Publish(true);
      spdlog::info("pool {} backend {}: {} probe passes: {}", backend_->pool(), backend_->label(),
                   Name(), kind_ == Kind::kLive ? "alive again" : "ready, taking requests");
    } else if (change == HealthChange::kBecameUnhealthy) {
      Publish(false);
      spdlog::warn("pool {} backend {}: {} probe {} failed ({}): {}", backend_->pool(),
                   backend_->label(), Name(), Describe(config_), result.detail,
                   kind_ == Kind::kLive ? "dead, ejected" : "unready, no new requests");
    }
    Schedule(Jittered());
  }

  const std::shared_ptr<Backend> backend_;
  const Kind kind_;
  const config::ProbeConfig config_;
  const std::shared_ptr<const tls::ClientContext> tls_;
  HealthState state_;
  bool first_pending_;  // a fresh backend's first probe has not come back yet
  std::unique_ptr<Probe> probe_;
  net::EventPtr timer_;
  base::Rng* rng_;
};

HealthChecker::HealthChecker(event_base* base, uint64_t seed) : base_(base), rng_(seed) {}

HealthChecker::~HealthChecker() = default;

void HealthChecker::Track(std::span<const Target> targets) {
  absl::flat_hash_map<Backend*, Probes> next;
  for (const Target& t : targets) {
    Backend* b = t.backend.get();
    Probes probes;
    if (auto it = probes_.find(b); it != probes_.end()) probes = std::move(it->second);
    auto reconcile = [&](Kind kind, const std::optional<config::ProbeConfig>& config,
                         std::unique_ptr<Session>* slot) {
      if (!config) {
        if (*slot) (*slot)->Withdraw();
        slot->reset();
        return;
      }
      if (*slot && (*slot)->config() == *config && (*slot)->tls() == t.tls.get()) return;
      // New, or its probe changed: a changed probe keeps the current verdict; a new probe
      // starts live, and ready only on a backend that is not fresh (it has been serving).
      HealthState::Initial initial;
      if (*slot) {
        initial =
            (*slot)->healthy() ? HealthState::Initial::kHealthy : HealthState::Initial::kUnhealthy;
      } else if (kind == Kind::kLive || !t.fresh) {
        initial = HealthState::Initial::kHealthy;
      } else {
        initial = HealthState::Initial::kUnhealthyUntilFirstSuccess;
      }
      *slot = std::make_unique<Session>(base_, t.backend, kind, *config, initial, &rng_, t.tls,
                                        t.tls_name);
    };
    reconcile(Kind::kLive, t.health->live, &probes.live);
    reconcile(Kind::kReady, t.health->ready, &probes.ready);
    if (probes.live || probes.ready) next.emplace(b, std::move(probes));
  }
  probes_ = std::move(next);  // sessions of backends no longer listed end here
}

size_t HealthChecker::probe_count() const {
  size_t n = 0;
  for (const auto& [backend, probes] : probes_)
    n += (probes.live != nullptr) + (probes.ready != nullptr);
  return n;
}

}  // namespace outrigger::upstream
