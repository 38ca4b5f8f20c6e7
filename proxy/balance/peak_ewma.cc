#include "proxy/balance/peak_ewma.h"

#include <algorithm>
#include <cmath>

namespace outrigger::balance {
namespace {

// e^(−Δt/τ): how much of the old estimate survives Δt.
double Survival(int64_t elapsed_ns, std::chrono::nanoseconds tau) {
  if (elapsed_ns <= 0) return 1.0;
  return std::exp(-static_cast<double>(elapsed_ns) / static_cast<double>(tau.count()));
}

}  // namespace

void ObserveLatency(upstream::Backend& backend, int64_t latency_ns, int64_t now_ns,
                    std::chrono::nanoseconds tau) {
  // 0 is reserved for "never observed".
  latency_ns = std::max<int64_t>(1, latency_ns);
  std::atomic<int64_t>& ewma = backend.ewma_ns();
  const int64_t stamp = backend.ewma_stamp_ns().load(std::memory_order_relaxed);
  const double survival = Survival(now_ns - stamp, tau);
  int64_t current = ewma.load(std::memory_order_relaxed);
  int64_t next;
  do {
    if (current == 0 || latency_ns > current) {
      next = latency_ns;
    } else {
      next = std::llround(static_cast<double>(current) * survival +
                          static_cast<double>(latency_ns) * (1.0 - survival));
      next = std::max<int64_t>(1, next);
    }
  } while (!ewma.compare_exchange_weak(current, next, std::memory_order_relaxed));
  backend.ewma_stamp_ns().store(now_ns, std::memory_order_relaxed);
}

double EwmaCost(const upstream::Backend& backend, int64_t now_ns, std::chrono::nanoseconds tau) {
  const int64_t ewma = backend.ewma_ns().load(std::memory_order_relaxed);
  if (ewma == 0) return 0.0;
  const int64_t stamp = backend.ewma_stamp_ns().load(std::memory_order_relaxed);
  return static_cast<double>(ewma) * Survival(now_ns - stamp, tau);
}

}  // namespace outrigger::balance
