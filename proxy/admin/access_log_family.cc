#include "proxy/admin/access_log_family.h"

#include "proxy/metrics/family.h"

namespace outrigger::admin {

prometheus::MetricFamily AccessLogDroppedFamily(const forward::Snapshot& snapshot) {
  prometheus::MetricFamily family = metrics::CounterFamily(
      "outrigger_access_log_dropped_total",
      "Access log lines dropped because the log's sink did not keep up, by listener (a worker "
      "never waits for the log).");
  for (const forward::ListenerRuntime& l : snapshot.listeners) {
    if (!l.access_log) continue;
    metrics::AddSample(family, {{"listener", l.config->name}},
                       static_cast<double>(l.access_log->dropped()));
  }
  return family;
}

}  // namespace outrigger::admin
