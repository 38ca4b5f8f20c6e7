// Collector: the prometheus::Collectable behind /metrics for the request counters of
// design.md §6. It owns no counts: on Collect() it merges the workers' shards into the
// current snapshot's layout and builds the families, so a backend that left the layout
// (DNS, reload) has no series any more, and the request path never touches prometheus-cpp.
//
// We depart from style.md rule 7 (structs of prometheus::Counter&) on purpose: those
// counters are shared read-modify-write atomics that every worker would contend on, and
// prometheus-cpp cannot drop a family's series when a backend goes.
//
// Thread contract: Publish() from the control thread; Read() and Collect() from any thread
// (the exposer calls Collect() on its own). Both sides take the collector's mutex only to
// copy the list of shards; reading the shards is lock-free.
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

  // Control thread: the current snapshot's layout, and every shard that still holds counts,
  // including shards of earlier layouts whose backends should keep their totals. Dropping a
  // shard drops its counts: its surviving backends' counters would fall, which Prometheus
  // reads as a counter reset.
  void Publish(std::shared_ptr<const MetricLayout> layout,
               std::vector<std::shared_ptr<const Shard>> shards);

  // Any thread: the merged totals in the current layout (empty before the first Publish).
  Totals Read() const;

  // prometheus::Collectable
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const std::function<int64_t()> clock_;

  mutable std::mutex mu_;
  std::shared_ptr<const MetricLayout> layout_;        // guarded by mu_
  std::vector<std::shared_ptr<const Shard>> shards_;  // guarded by mu_
};

// The families of `totals`, in the contract's names, types and label order. Pure.
std::vector<prometheus::MetricFamily> BuildFamilies(const Totals& totals);

}  // namespace outrigger::metrics
