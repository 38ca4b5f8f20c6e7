// Recent: what /status shows as "now" — per-second rates over the last 10 s and latency
// quantiles over about the last minute, from readings of the merged shards kept by the
// control thread's tick (one a second for 10 s, one every 10 s for a minute).
//
// Thread contract: not thread-safe; control thread only.
#pragma once

#include <cstdint>
#include <deque>

#include "proxy/metrics/shard.h"

namespace outrigger::metrics {

// histogram_quantile() of Prometheus over per-bucket counts: linear within the bucket, the
// highest finite bound for the +Inf bucket. NaN without observations.
double HistogramQuantile(double q, const HistogramTotals& histogram);

// a - b, bucket by bucket (counts never fall within one layout; a fall clamps to 0).
HistogramTotals Minus(const HistogramTotals& a, const HistogramTotals& b);

class Recent {
 public:
  void Tick(int64_t now_ns, const Totals& totals);

  struct Window {
    const Totals* now = nullptr;
    const Totals* then = nullptr;  // same layout as now
    double seconds = 0;            // 0: no window yet
  };
  // ~10 s for rates, ~60 s for quantiles. Valid until the next Tick.
  Window RateWindow() const;
  Window QuantileWindow() const;

 private:
  struct Reading {
    int64_t now_ns;
    Totals totals;
  };
  Window Between(const std::deque<Reading>& readings) const;

  std::deque<Reading> seconds_;  // one a second, newest last, up to 11
  std::deque<Reading> tens_;     // one every 10 s, newest last, up to 7
};

}  // namespace outrigger::metrics
