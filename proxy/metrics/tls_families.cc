#include "proxy/metrics/tls_families.h"

#include <string>

#include "proxy/metrics/family.h"

namespace outrigger::metrics {

void AppendTlsFamilies(const Totals& totals, std::vector<prometheus::MetricFamily>* out) {
  prometheus::MetricFamily handshakes = CounterFamily(
      "outrigger_tls_handshakes_total", "TLS handshakes with clients, by result and version.");
  prometheus::MetricFamily failures = CounterFamily(
      "outrigger_tls_handshake_failures_total", "Failed TLS handshakes with clients, by reason.");
  prometheus::MetricFamily expiry =
      GaugeFamily("outrigger_tls_certificate_expiry_timestamp_seconds",
                  "When each certificate a listener serves expires (Unix seconds).");
  if (totals.layout != nullptr) {
    const MetricLayout& layout = *totals.layout;
    for (size_t l = 0; l < totals.listeners.size() && l < layout.listener_certificates.size();
         ++l) {
      if (layout.listener_certificates[l].empty()) continue;  // a plain listener
      const ListenerTotals& t = totals.listeners[l];
      const std::string& listener = layout.listeners[l];
      for (size_t v = 0; v < kTlsVersionCount; ++v) {
        // No version is agreed by a successful handshake that has none: no such series.
        if (static_cast<TlsVersion>(v) != TlsVersion::kNone) {
          AddSample(handshakes,
                    {{"listener", listener},
                     {"result", "ok"},
                     {"version", std::string(kTlsVersionLabels[v])}},
                    static_cast<double>(t.tls_handshakes[0][v]));
        }
        AddSample(handshakes,
                  {{"listener", listener},
                   {"result", "failed"},
                   {"version", std::string(kTlsVersionLabels[v])}},
                  static_cast<double>(t.tls_handshakes[1][v]));
      }
      for (size_t f = 0; f < kTlsFailureCount; ++f) {
        AddSample(failures, {{"listener", listener}, {"reason", std::string(kTlsFailureLabels[f])}},
                  static_cast<double>(t.tls_failures[f]));
      }
      for (const MetricLayout::Certificate& c : layout.listener_certificates[l]) {
        AddSample(expiry, {{"listener", listener}, {"name", c.name}},
                  static_cast<double>(c.not_after));
      }
    }
  }
  out->push_back(std::move(handshakes));
  out->push_back(std::move(failures));
  out->push_back(std::move(expiry));
}

}  // namespace outrigger::metrics
