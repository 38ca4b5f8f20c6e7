// The TLS families of design.md §8, built at scrape time from the merged listener totals and
// the layout's certificates: outrigger_tls_handshakes_total{listener,result,version},
// outrigger_tls_handshake_failures_total{listener,reason} and
// outrigger_tls_certificate_expiry_timestamp_seconds{listener,name}. Plain listeners have
// no series.
#pragma once

#include <prometheus/metric_family.h>

#include <vector>

#include "proxy/metrics/shard.h"

namespace outrigger::metrics {

// Appends the three families (each possibly without samples) to `out`.
void AppendTlsFamilies(const Totals& totals, std::vector<prometheus::MetricFamily>* out);

}  // namespace outrigger::metrics
