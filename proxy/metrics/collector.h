// Collector: the prometheus::Collectable behind /metrics for the request counters of
// design.md §6. It owns no counts: on Collect() it merges the workers' shards into the
// current snapshot's layout and builds the families, so a backend that left the layout
// (DNS, reload) has no series any more, and the request path never touches prometheus-cpp.
//
// We depart from style.md rule 7 (structs of prometheus::Counter&) on purpose: those
// counters are shared read-modify-write atomics that every worker would contend on, and
// prometheus-cpp cannot drop a family's series when a backend goes.
//
// Shards come and go with snapshots: each is registered with a token of its writers (the
// worker's view of a snapshot, which every request on it holds). Once the token has expired
// nobody can write the shard again, so the next reading folds its final counts into the
// collector's own totals and forgets it: memory stays bounded however often the config is
// reloaded or DNS changes the backend set, and no counter of a surviving series falls.
//
// Thread contract: every member may be called from any thread; they serialize on the
// collector's mutex (scrape and tick work, never the request path). Reading a shard is
// lock-free for its writer.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "proxy/base/clock.h"
#include "proxy/metrics/shard.h"

namespace outrigger::metrics {

class Collector final : public prometheus::Collectable {
 public:
  // `clock` gives the time busy integrals are evaluated at; tests inject one.
  explicit Collector(std::function<int64_t()> clock = MonoNanos);

  // The current snapshot's layout: the series exposed from now on. Counts of earlier layouts
  // carry over by identity (pool name, backend label, listener name).
  void SetLayout(std::shared_ptr<const MetricLayout> layout);

  // A shard to read from now on. `writers` expires when no one can write the shard any more;
  // REQUIRES: every write to the shard happens while a shared_ptr of `writers` is held.
  void AddShard(std::shared_ptr<const Shard> shard, std::weak_ptr<const void> writers);

  // The merged totals in the current layout (empty before the first SetLayout).
  Totals Read() const;

  // Shards still registered (not yet folded): for tests.
  size_t live_shards() const;

  // prometheus::Collectable
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::function<int64_t()> clock_;

  struct Entry {
    std::shared_ptr<const Shard> shard;
    std::weak_ptr<const void> writers;
  };

  mutable std::mutex mu_;
  std::shared_ptr<const MetricLayout> layout_;  // guarded by mu_
  mutable std::vector<Entry> shards_;           // guarded by mu_
  mutable Totals retired_;  // guarded by mu_: folded shards, in layout_'s indices
};

// Attempts in flight per pool (the sum over its backends), indexed by PoolId. Pure.
std::vector<int64_t> PoolInflight(const Totals& totals);

// The families of `totals`, in the contract's names, types and label order. Pure.
std::vector<prometheus::MetricFamily> BuildFamilies(const Totals& totals);

}  // namespace outrigger::metrics
