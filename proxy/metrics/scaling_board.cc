#include "proxy/metrics/scaling_board.h"

#include <algorithm>
#include <utility>

#include "proxy/metrics/collector.h"
#include "proxy/metrics/family.h"

namespace outrigger::metrics {
namespace {

using prometheus::MetricFamily;

constexpr double kNsPerSecond = 1e9;

}  // namespace

void ScalingBoard::Tick(int64_t now_ns, const Totals& totals,
                        const std::vector<PoolScalingSettings>& settings) {
  std::map<std::string, ScalingSignals, std::less<>> kept;
  latest_.clear();
  if (totals.layout == nullptr) {
    signals_.clear();
    return;
  }
  const std::vector<int64_t> inflight = PoolInflight(totals);
  for (size_t p = 0; p < totals.pools.size() && p < settings.size(); ++p) {
    const std::string& name = totals.layout->pools[p];
    const PoolScalingSettings& s = settings[p];
    auto it = signals_.find(name);
    if (it == signals_.end() || it->second.stable_window_ns() != s.stable_window_ns ||
        it->second.panic_window_ns() != s.panic_window_ns) {
      it = signals_.insert_or_assign(name, ScalingSignals(s.stable_window_ns, s.panic_window_ns))
               .first;
    }
    const PoolTotals& t = totals.pools[p];
    ScalingInput input;
    input.now_ns = now_ns;
    input.busy_seconds = static_cast<double>(t.busy_ns) / kNsPerSecond;
    input.requests = t.RequestCount();
    input.ready_backends = s.ready_backends;
    input.kind = s.kind;
    input.target = s.target;
    input.min_backends = s.min_backends;
    input.max_backends = s.max_backends;
    PoolScaling& out = latest_.emplace_back();
    out.pool = name;
    out.settings = s;
    out.signals = it->second.Tick(input);
    out.inflight = inflight[p];
    out.pending = std::max<int64_t>(0, t.concurrency - inflight[p]);
    kept.insert(signals_.extract(it));
  }
  signals_ = std::move(kept);
}

std::vector<MetricFamily> ScalingBoard::Families() const {
  MetricFamily rps = GaugeFamily("outrigger_pool_requests_per_second",
                                 "Client requests per second over the last 10 s.");
  MetricFamily utilization =
      GaugeFamily("outrigger_pool_utilization_ratio",
                  "Demand over the stable window divided by ready backends times the target.");
  MetricFamily desired =
      GaugeFamily("outrigger_pool_desired_backends",
                  "Backends the demand needs: unrounded, unclamped, additive across proxies.");
  MetricFamily recommended =
      GaugeFamily("outrigger_pool_recommended_backends",
                  "Max of desired over the stable window, rounded up and clamped to [min, max].");
  MetricFamily panic = GaugeFamily("outrigger_pool_panic", "1 while the pool is in burst mode.");
  MetricFamily target = GaugeFamily("outrigger_pool_scaling_target",
                                    "The per-backend target of the scaling signals.");
  for (const PoolScaling& p : latest_) {
    AddSample(rps, {{"pool", p.pool}}, p.signals.requests_per_second);
    AddSample(utilization, {{"pool", p.pool}}, p.signals.utilization);
    AddSample(desired, {{"pool", p.pool}}, p.signals.desired);
    AddSample(recommended, {{"pool", p.pool}}, p.signals.recommended);
    AddSample(panic, {{"pool", p.pool}}, p.signals.panic ? 1 : 0);
    AddSample(
        target,
        {{"pool", p.pool}, {"kind", p.settings.kind == TargetKind::kRps ? "rps" : "inflight"}},
        p.settings.target);
  }
  std::vector<MetricFamily> families;
  for (MetricFamily* f : {&rps, &utilization, &desired, &recommended, &panic, &target}) {
    families.push_back(std::move(*f));
  }
  return families;
}

}  // namespace outrigger::metrics
