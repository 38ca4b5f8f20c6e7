// Latency buckets of every outrigger_*_duration_seconds histogram (design.md §6): one fixed
// set, so dashboards can aggregate backend, pool and downstream latencies alike.
//
// The request path maps a latency to its bucket with integer compares against bounds in
// nanoseconds; the seconds form exists only for the exposition. Constexpr values and pure
// functions: usable from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace outrigger::metrics {

// Upper bounds (inclusive, Prometheus `le`), in seconds, as exposed.
inline constexpr std::array<double, 13> kLatencyBoundsSeconds = {
    .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

// The same bounds in nanoseconds: what BucketIndex compares against.
inline constexpr std::array<int64_t, 13> kLatencyBoundsNs = {
    1'000'000,     2'500'000,     5'000'000,     10'000'000,  25'000'000,
    50'000'000,    100'000'000,   250'000'000,   500'000'000, 1'000'000'000,
    2'500'000'000, 5'000'000'000, 10'000'000'000};

// One slot per bound plus the overflow slot (le="+Inf" only).
inline constexpr size_t kLatencyBucketCount = kLatencyBoundsNs.size() + 1;

// The bucket a latency falls in: the first bound >= latency_ns, or kLatencyBucketCount - 1
// above the last bound. Negative latencies (a clock step) land in the first bucket.
// Branch-free: counts the bounds the latency exceeds, which the compiler vectorizes.
constexpr size_t BucketIndex(int64_t latency_ns) {
  size_t index = 0;
  for (const int64_t bound : kLatencyBoundsNs) index += latency_ns > bound ? 1 : 0;
  return index;
}

namespace internal {
constexpr bool BoundsAgree() {
  for (size_t i = 0; i < kLatencyBoundsNs.size(); ++i) {
    const double ns = kLatencyBoundsSeconds[i] * 1e9;
    const double diff = ns - static_cast<double>(kLatencyBoundsNs[i]);
    if (diff > 0.5 || diff < -0.5) return false;
    if (i > 0 && kLatencyBoundsNs[i] <= kLatencyBoundsNs[i - 1]) return false;
  }
  return true;
}
}  // namespace internal
static_assert(internal::BoundsAgree(),
              "seconds and nanosecond bounds must be the same ascending set");

}  // namespace outrigger::metrics
