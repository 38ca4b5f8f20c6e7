// HealthChecker: the active health probes of every backend, run from the control thread
// (design §4 `health`). Each backend of a pool with a `live` and/or `ready` probe gets one
// Probe (HttpProbe or GrpcProbe, as its `type` says) per kind, fired every `interval` with ±10%
// jitter (so probes of many backends do not fall into step), their results turned into a verdict by
// HealthState (fall/rise), and the verdict published as Backend::kDead (live) or Backend::kUnready
// (ready). Workers only ever read those bits: the request path takes no lock and never waits on a
// probe.
//
// A change of verdict is logged once, with the failure that caused it; probes that agree with
// the current verdict log nothing, except the failed first probe of a backend held back until
// it passes (so that the log says why it takes no requests).
//
// Thread contract: control thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "proxy/base/prng.h"
#include "proxy/config/config.h"
#include "proxy/net/event.h"
#include "proxy/tls/client_context.h"
#include "proxy/upstream/backend.h"

namespace outrigger::upstream {

class HealthChecker {
 public:
  struct Target {
    std::shared_ptr<Backend> backend;
    const config::HealthConfig* health;  // read during Track() only
    // Created by the snapshot being published (or at start-up), so never taken a request: a
    // ready probe holds it back until it first passes. A kept backend that gains a ready probe
    // has been serving, and stays ready until the probe fails `fall` times.
    bool fresh = true;
    // A pool with `tls:`: probes speak TLS too, checking the same name as requests do.
    std::shared_ptr<const tls::ClientContext> tls;
    std::string tls_name;
  };

  // REQUIRES: `base` is the control thread's loop and outlives the checker.
  HealthChecker(event_base* base, uint64_t seed);
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // Makes `targets` the backends probed (call with every new backend set, before workers see
  // it). A fresh backend with a ready probe is marked unready here, so no request reaches it
  // before its first probe passes; its first probes fire within kFirstProbeSpread. A backend
  // that keeps its probe configuration keeps its verdict and schedule; one no longer listed
  // stops being probed.
  void Track(std::span<const Target> targets);

  size_t probe_count() const;

 private:
  class Session;
  enum class Kind : uint8_t { kLive, kReady };
  struct Probes {
    std::unique_ptr<Session> live;
    std::unique_ptr<Session> ready;
  };

  event_base* const base_;
  base::Rng rng_;
  absl::flat_hash_map<Backend*, Probes> probes_;
};

}  // namespace outrigger::upstream
