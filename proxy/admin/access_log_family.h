// outrigger_access_log_dropped_total{listener} (design.md §8): access log lines dropped
// rather than block a worker, read from the sinks of the running snapshot.
#pragma once

#include <prometheus/metric_family.h>

#include "proxy/forward/snapshot.h"

namespace outrigger::admin {

prometheus::MetricFamily AccessLogDroppedFamily(const forward::Snapshot& snapshot);

}  // namespace outrigger::admin
