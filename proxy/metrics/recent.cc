#include "proxy/metrics/recent.h"

#include <cmath>
#include <limits>

#include "proxy/metrics/histogram_buckets.h"

namespace outrigger::metrics {
namespace {

constexpr int64_t kTenSecondsNs = 10'000'000'000;

}  // namespace

double HistogramQuantile(double q, const HistogramTotals& histogram) {
  const uint64_t count = histogram.Count();
  if (count == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * static_cast<double>(count);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    const uint64_t previous = cumulative;
    cumulative += histogram.buckets[i];
    if (static_cast<double>(cumulative) < rank || histogram.buckets[i] == 0) continue;
    if (i == kLatencyBoundsSeconds.size()) return kLatencyBoundsSeconds.back();
    const double lower = i == 0 ? 0 : kLatencyBoundsSeconds[i - 1];
    const double upper = kLatencyBoundsSeconds[i];
    return lower + (upper - lower) * (rank - static_cast<double>(previous)) /
                       static_cast<double>(histogram.buckets[i]);
  }
  return kLatencyBoundsSeconds.back();
}

HistogramTotals Minus(const HistogramTotals& a, const HistogramTotals& b) {
  HistogramTotals out;
  for (size_t i = 0; i < kLatencyBucketCount; ++i) {
    out.buckets[i] = a.buckets[i] > b.buckets[i] ? a.buckets[i] - b.buckets[i] : 0;
  }
  out.sum_ns = a.sum_ns > b.sum_ns ? a.sum_ns - b.sum_ns : 0;
  return out;
}

void Recent::Tick(int64_t now_ns, const Totals& totals) {
  if (totals.layout == nullptr) return;
  for (std::deque<Reading>* readings : {&seconds_, &tens_}) {
    for (Reading& r : *readings) {
      if (r.totals.layout == totals.layout) continue;
      Totals carried = EmptyTotals(totals.layout);
      AddByIdentity(carried, r.totals);
      r.totals = std::move(carried);
    }
  }
  seconds_.push_back({now_ns, totals});
  while (seconds_.size() > 11) seconds_.pop_front();
  if (tens_.empty() || now_ns - tens_.back().now_ns >= kTenSecondsNs) {
    tens_.push_back({now_ns, totals});
    while (tens_.size() > 7) tens_.pop_front();
  }
}

Recent::Window Recent::Between(const std::deque<Reading>& readings) const {
  Window w;
  if (seconds_.empty()) return w;
  w.now = &seconds_.back().totals;
  w.then = &readings.front().totals;
  w.seconds = static_cast<double>(seconds_.back().now_ns - readings.front().now_ns) / 1e9;
  return w;
}

Recent::Window Recent::RateWindow() const { return Between(seconds_); }
Recent::Window Recent::QuantileWindow() const { return Between(tens_); }

}  // namespace outrigger::metrics
