#include "proxy/metrics/scaling.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace outrigger::metrics {
namespace {

constexpr double kNsPerSecond = 1e9;

// ceil() that does not round 2.0000000001 (floating noise in a ratio of rates) up to 3.
double TolerantCeil(double x) { return std::ceil(x - 1e-9); }

}  // namespace

ScalingSignals::ScalingSignals(int64_t stable_window_ns, int64_t panic_window_ns)
    : stable_window_ns_(stable_window_ns),
      panic_window_ns_(panic_window_ns),
      ring_(static_cast<size_t>(std::max(stable_window_ns, kRateWindowNs) / 1'000'000'000) + 4) {}

const ScalingSignals::Sample& ScalingSignals::At(size_t age) const {
  return ring_[(newest_ + ring_.size() - age) % ring_.size()];
}

const ScalingSignals::Sample& ScalingSignals::Reference(int64_t window_ns) const {
  const int64_t want = At(0).now_ns - window_ns;
  size_t best = size_ - 1;  // the oldest: all the history there is
  for (size_t age = 1; age < size_; ++age) {
    const int64_t t = At(age).now_ns;
    const int64_t best_t = At(best).now_ns;
    if (std::llabs(t - want) < std::llabs(best_t - want)) best = age;
  }
  return At(best);
}

double ScalingSignals::Concurrency(int64_t window_ns) const {
  const Sample& now = At(0);
  const Sample& then = Reference(window_ns);
  if (now.now_ns <= then.now_ns) return 0;
  return (now.busy_seconds - then.busy_seconds) * kNsPerSecond /
         static_cast<double>(now.now_ns - then.now_ns);
}

double ScalingSignals::RequestRate(int64_t window_ns) const {
  const Sample& now = At(0);
  const Sample& then = Reference(window_ns);
  if (now.now_ns <= then.now_ns) return 0;
  return static_cast<double>(now.requests - then.requests) * kNsPerSecond /
         static_cast<double>(now.now_ns - then.now_ns);
}

ScalingOutput ScalingSignals::Tick(const ScalingInput& input) {
  if (size_ > 0 && (input.busy_seconds < At(0).busy_seconds || input.requests < At(0).requests ||
                    input.now_ns <= At(0).now_ns)) {
    size_ = 0;  // a counter reset or a clock step: earlier samples describe another series
  }
  newest_ = (newest_ + 1) % ring_.size();
  ring_[newest_] = {input.now_ns, input.busy_seconds, input.requests, 0};
  size_ = std::min(size_ + 1, ring_.size());

  ScalingOutput out;
  out.requests_per_second = RequestRate(kRateWindowNs);
  out.concurrency = Concurrency(stable_window_ns_);

  const bool by_rps = input.kind == TargetKind::kRps;
  const double stable_demand = by_rps ? RequestRate(stable_window_ns_) : out.concurrency;
  const double panic_demand =
      by_rps ? RequestRate(panic_window_ns_) : Concurrency(panic_window_ns_);
  const double ready = std::max(input.ready_backends, 1);
  const double target = input.target > 0 ? input.target : 0;

  double desired = 0;
  if (target > 0) {
    out.utilization = stable_demand / (ready * target);
    desired = stable_demand / target;
    const double panic_desired = panic_demand / target;
    if (TolerantCeil(panic_desired) >= 2 * ready) {
      panic_ = true;
      last_panic_condition_ns_ = input.now_ns;
    } else if (panic_ && input.now_ns - last_panic_condition_ns_ >= stable_window_ns_) {
      panic_ = false;
    }
    if (panic_) desired = std::max({desired, panic_desired, previous_desired_});
  }
  out.panic = panic_;
  out.desired = desired;
  previous_desired_ = desired;
  ring_[newest_].desired = desired;

  double peak = 0;
  for (size_t age = 0; age < size_ && input.now_ns - At(age).now_ns < stable_window_ns_; ++age) {
    peak = std::max(peak, At(age).desired);
  }
  const double lo = input.min_backends;
  const double hi = std::max(input.max_backends, input.min_backends);
  out.recommended = static_cast<int>(std::clamp(TolerantCeil(peak), lo, hi));
  return out;
}

}  // namespace outrigger::metrics
