// HealthState: the verdict of one probe kind (live or ready) on one backend, turned from a
// stream of probe results into a stable healthy/unhealthy state with hysteresis: `fall`
// failures in a row flip a healthy backend, `rise` successes in a row flip it back, and any
// result that agrees with the current state restarts the count. Observe() reports a flip once,
// when it happens (Pingora's observe_health), so the caller logs it and updates
// Backend::Unavailable (kDead for live, kUnready for ready) only on a change.
//
// Thread contract: owned by one probe session on the control thread; not synchronised. The
// shared fact is the Backend bit the caller writes, never this object.
#pragma once

#include <cstdint>

namespace outrigger::upstream {

enum class HealthChange : uint8_t {
  kUnchanged,
  kBecameHealthy,
  kBecameUnhealthy,
};

class HealthState {
 public:
  // Where a new backend starts (the names follow HAProxy's server `init-state`).
  enum class Initial : uint8_t {
    // Healthy from the start; `fall` failures take it down. For live probes: a new backend
    // takes traffic at once, and a dead one is found within fall × interval.
    kHealthy,
    // Unhealthy until its first probe: one success makes it healthy at once; if the first
    // probe fails, it then needs `rise` successes like any unhealthy backend. For ready
    // probes: a backend that is still starting receives nothing, yet one that is ready is
    // used after one interval rather than rise × interval (Kubernetes readiness also starts
    // false).
    kUnhealthyUntilFirstSuccess,
    // Unhealthy until `rise` successes in a row: the most cautious start.
    kUnhealthy,
  };

  // A threshold of 0 is treated as 1 (config validation rejects it; this keeps the state
  // machine total).
  HealthState(uint32_t fall, uint32_t rise, Initial initial);

  // Records one probe result. Returns the flip it caused, if any.
  HealthChange Observe(bool ok);

  bool healthy() const { return healthy_; }

 private:
  // Constant after construction.
  const uint32_t fall_;
  const uint32_t rise_;

  bool healthy_;
  bool first_probe_pending_;  // kUnhealthyUntilFirstSuccess and no result yet
  uint32_t streak_ = 0;       // results in a row that disagree with healthy_
};

}  // namespace outrigger::upstream
