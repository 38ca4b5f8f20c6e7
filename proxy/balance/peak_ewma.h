// Peak-EWMA latency of a backend (Finagle's PeakEwma, Linkerd/tower's PeakEwma): an estimate
// that jumps to any observation above it at once, and otherwise decays towards newer
// observations as an exponentially weighted moving average with time constant tau:
//   observe(rtt) at t:  ewma = rtt                                     if rtt > ewma
//                       ewma = ewma·e^(−Δt/τ) + rtt·(1 − e^(−Δt/τ))    otherwise
// where Δt is the time since the previous observation. Reading it decays it towards 0 by the
// time since the last observation (tower's decay()), so a backend shunned for being slow is
// tried again after a few τ instead of never. O(1) per call.
//
// The state lives in the Backend's two atomics (ewma_ns, ewma_stamp_ns) so every worker sees
// and feeds the same estimate. 0 in ewma_ns means "never observed".
#pragma once

#include <chrono>
#include <cstdint>

#include "proxy/upstream/backend.h"

namespace outrigger::balance {

inline constexpr std::chrono::nanoseconds kPeakEwmaDecay = std::chrono::seconds(10);

// Records one response's latency, from any worker. Thread contract: the estimate is updated
// with a compare-and-swap loop, so concurrent observations each apply to the latest value
// and a peak is never lost; the stamp is a separate relaxed store, so a racing pair may decay
// the next observation from a stamp a few microseconds off, which is immaterial against τ.
void ObserveLatency(upstream::Backend& backend, int64_t latency_ns, int64_t now_ns,
                    std::chrono::nanoseconds tau = kPeakEwmaDecay);

// The estimate at now_ns, in ns, decayed since its last observation; 0.0 when the backend
// has never been observed (the caller chooses the neutral value).
double EwmaCost(const upstream::Backend& backend, int64_t now_ns,
                std::chrono::nanoseconds tau = kPeakEwmaDecay);

}  // namespace outrigger::balance
