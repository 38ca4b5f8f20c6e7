// Small builders for prometheus::MetricFamily values that are computed at scrape time
// (state gauges, derived signals, counters read from elsewhere), shared by metrics/ and admin/.
#pragma once

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace outrigger::metrics {

inline prometheus::MetricFamily NewFamily(std::string name, std::string help,
                                          prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

inline prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  return NewFamily(std::move(name), std::move(help), prometheus::MetricType::Gauge);
}

inline prometheus::MetricFamily CounterFamily(std::string name, std::string help) {
  return NewFamily(std::move(name), std::move(help), prometheus::MetricType::Counter);
}

// Adds one sample; its value goes to the field the family's type reads.
inline void AddSample(prometheus::MetricFamily& family,
                      std::vector<prometheus::ClientMetric::Label> labels, double value) {
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  if (family.type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
}

}  // namespace outrigger::metrics
