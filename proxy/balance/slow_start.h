// Slow start: a backend that has just become available ramps its weight linearly from almost
// nothing to its configured weight over `slow_start`, so a cold cache or JIT is not hit with a
// full share at once (HAProxy's `slowstart`, Envoy's slow_start_config with aggression 1).
//
// Weights are returned in points, kWeightScale points per unit of configured weight, so the
// ramp also works for weight 1, the default: with the plain formula max(1, weight × ramp) a
// weight-1 backend would never ramp at all. HAProxy scales its eweight the same way
// (BE_WEIGHT_SCALE). Scaling every member alike changes no policy's choices outside a ramp.
#pragma once

#include <chrono>
#include <cstdint>

#include "proxy/balance/policy.h"

namespace outrigger::balance {

// Points per unit of configured weight.
inline constexpr uint64_t kWeightScale = 1024;

class SlowStart {
 public:
  explicit SlowStart(std::chrono::milliseconds window);

  // The member's weight in points at now_ns:
  //   max(1, weight × kWeightScale × min(1, (now_ns − available_since_ns) / window))
  // while the window is positive and the backend has an available_since_ns() (> 0);
  // weight × kWeightScale otherwise. Never 0, so a ramping backend is still eligible.
  uint64_t Points(const Member& member, int64_t now_ns) const;

  // The full weight in points, the ramp's end.
  static uint64_t FullPoints(const Member& member) { return member.weight * kWeightScale; }

 private:
  const int64_t window_ns_;  // <= 0: no ramp
};

}  // namespace outrigger::balance
