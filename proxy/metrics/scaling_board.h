// ScalingBoard: the scaling signals of every pool (scaling.h), ticked once a second from the
// merged shards, and their exposition as the outrigger_pool_{requests_per_second,
// utilization_ratio,desired_backends,recommended_backends,panic,scaling_target} gauges
// (outrigger_pool_inflight_requests is the Collector's: a count now, not a derived signal).
// /scaling and /status read the latest tick.
//
// A pool keeps its history across reloads (matched by name) unless its windows change; a
// pool that left the config is forgotten.
//
// Thread contract: not thread-safe; owned and used by the control thread only.
#pragma once

#include <prometheus/metric_family.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proxy/metrics/scaling.h"
#include "proxy/metrics/shard.h"

namespace outrigger::metrics {

// One pool's configuration for a tick, indexed like the layout's pools.
struct PoolScalingSettings {
  TargetKind kind = TargetKind::kInflight;
  double target = 10;
  int min_backends = 1;
  int max_backends = 100;
  int64_t stable_window_ns = ScalingSignals::kDefaultStableWindowNs;
  int64_t panic_window_ns = ScalingSignals::kDefaultPanicWindowNs;
  int ready_backends = 0;  // R now
};

struct PoolScaling {
  std::string pool;
  PoolScalingSettings settings;
  ScalingOutput signals;
  int64_t inflight = 0;  // attempts in flight on the pool's backends now
  int64_t pending = 0;   // client requests in the pool not in flight now
};

class ScalingBoard {
 public:
  // `totals` is a reading at `now_ns`; `settings` is indexed like totals.layout->pools.
  void Tick(int64_t now_ns, const Totals& totals, const std::vector<PoolScalingSettings>& settings);

  // The last tick's pools, in layout order (empty before the first tick).
  const std::vector<PoolScaling>& latest() const { return latest_; }

  // The derived gauges of the last tick.
  std::vector<prometheus::MetricFamily> Families() const;

 private:
  std::map<std::string, ScalingSignals, std::less<>> signals_;
  std::vector<PoolScaling> latest_;
};

}  // namespace outrigger::metrics
