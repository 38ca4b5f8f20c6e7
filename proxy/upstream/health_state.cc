#include "proxy/upstream/health_state.h"

#include <algorithm>

namespace outrigger::upstream {

HealthState::HealthState(uint32_t fall, uint32_t rise, Initial initial)
    : fall_(std::max<uint32_t>(fall, 1)),
      rise_(std::max<uint32_t>(rise, 1)),
      healthy_(initial == Initial::kHealthy),
      first_probe_pending_(initial == Initial::kUnhealthyUntilFirstSuccess) {}

HealthChange HealthState::Observe(bool ok) {
  const bool first = first_probe_pending_;
  first_probe_pending_ = false;
  if (ok == healthy_) {
    streak_ = 0;
    return HealthChange::kUnchanged;
  }
  ++streak_;
  const uint32_t needed = first ? 1 : (healthy_ ? fall_ : rise_);
  if (streak_ < needed) return HealthChange::kUnchanged;
  streak_ = 0;
  healthy_ = ok;
  return ok ? HealthChange::kBecameHealthy : HealthChange::kBecameUnhealthy;
}

}  // namespace outrigger::upstream
