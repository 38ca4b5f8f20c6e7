// Reads a listener's `tls:` block (config/tls_config.h), loading its certificates.
#pragma once

#include <optional>

#include "proxy/config/tls_config.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {

// Certificates expiring within this are loaded with a warning (the alert's threshold too).
inline constexpr int64_t kCertificateWarnSeconds = 14 * 86400;

// Errors go to `diag` at the `cert` or `key` concerned; a certificate expiring within
// kCertificateWarnSeconds of `now` is logged as a warning. nullopt when anything was wrong.
// The loaded certificates, in order (for tls::ServerContext).
std::vector<std::shared_ptr<const tls::CertifiedKey>> Loaded(const ListenerTlsConfig& tls);

std::optional<ListenerTlsConfig> ReadListenerTls(const Field& f, int64_t now, Diagnostics* diag);

// A pool's `tls:` block; errors go to `diag`, nullopt when anything was wrong.
std::optional<PoolTlsConfig> ReadPoolTls(const Field& f, int64_t now, Diagnostics* diag);

}  // namespace outrigger::config
