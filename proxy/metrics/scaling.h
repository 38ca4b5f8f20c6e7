// Scaling signals of one pool (design.md §6): utilization, desired and recommended backends,
// panic mode and requests per second, derived once a second from the pool's busy-seconds and
// client-request counters. Knative's autoscaler windows by default: 60 s stable, 6 s panic,
// 200 %; a pool may set other windows (`scaling.stable_window`, `scaling.panic_window`).
//
// Concurrency is time-weighted: C̄w = Δbusy_seconds / Δt over the last w seconds, which counts
// in-flight plus pending requests, so fast failures and retries cannot pass for spare or
// extra demand. With the rps target kind, rates of client requests replace C̄w.
//
// Windows use the tick samples, not the wall clock: the reference sample of a w-second window
// is the stored one whose time is closest to now - w. With less than w seconds of history
// (after start), the window is the history there is; on the first tick there is none and
// every rate is 0. A counter that runs backwards (a reset) restarts the history.
//
// Thread contract: not thread-safe; one ScalingSignals per pool, ticked by the control
// thread. Pure apart from its own history: no clock, no I/O.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace outrigger::metrics {

// outrigger_pool_scaling_target{kind}: what `target` is per backend.
enum class TargetKind : uint8_t {
  kInflight,  // concurrent requests per backend
  kRps,       // requests per second per backend (`target_rps_per_backend`)
};

struct ScalingInput {
  int64_t now_ns = 0;       // monotonic; ticks about once a second
  double busy_seconds = 0;  // outrigger_pool_busy_seconds_total, merged over workers
  uint64_t requests = 0;    // outrigger_pool_requests_total, all codes
  int ready_backends = 0;   // R
  TargetKind kind = TargetKind::kInflight;
  double target = 1;     // T; REQUIRES > 0 (otherwise every ratio is 0)
  int min_backends = 0;  // REQUIRES min_backends <= max_backends
  int max_backends = 0;
};

struct ScalingOutput {
  double requests_per_second = 0;  // client requests over the last 10 s
  double concurrency = 0;          // C̄60: time-weighted mean in-flight + pending
  double utilization = 0;          // C̄60 / (max(R,1)·T), or rps60 / (max(R,1)·T)
  double desired = 0;              // unrounded, unclamped: additive across proxies
  bool panic = false;
  int recommended = 0;  // clamp(ceil(max D over the last 60 s), min, max)
};

class ScalingSignals {
 public:
  static constexpr int64_t kDefaultStableWindowNs = int64_t{60} * 1'000'000'000;
  static constexpr int64_t kDefaultPanicWindowNs = int64_t{6} * 1'000'000'000;
  // requests_per_second is always over 10 s, whatever the windows.
  static constexpr int64_t kRateWindowNs = int64_t{10} * 1'000'000'000;

  // REQUIRES: 0 < panic_window_ns <= stable_window_ns. The history holds one sample a second
  // over max(stable window, rate window).
  explicit ScalingSignals(int64_t stable_window_ns = kDefaultStableWindowNs,
                          int64_t panic_window_ns = kDefaultPanicWindowNs);

  int64_t stable_window_ns() const { return stable_window_ns_; }
  int64_t panic_window_ns() const { return panic_window_ns_; }

  // Records this tick's sample and returns the signals as of it.
  ScalingOutput Tick(const ScalingInput& input);

 private:
  struct Sample {
    int64_t now_ns;
    double busy_seconds;
    uint64_t requests;
    double desired;  // as exported at this tick
  };

  const Sample& At(size_t age) const;  // 0 = newest
  const Sample& Reference(int64_t window_ns) const;
  double Concurrency(int64_t window_ns) const;
  double RequestRate(int64_t window_ns) const;

  int64_t stable_window_ns_;
  int64_t panic_window_ns_;
  // A window of once-a-second ticks plus the current one, with room for ticks a little early.
  std::vector<Sample> ring_;
  size_t newest_ = 0;
  size_t size_ = 0;
  bool panic_ = false;
  int64_t last_panic_condition_ns_ = 0;
  double previous_desired_ = 0;
};

}  // namespace outrigger::metrics
