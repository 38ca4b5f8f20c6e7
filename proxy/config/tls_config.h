// The `tls:` block of a listener (design.md §8). Certificates are read and checked while the
// config loads, so --check and a reload refuse a missing file, an unreadable key, a key that
// does not match its certificate, or an expired certificate, with FILE:LINE:COL.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/tls/certified_key.h"
#include "proxy/tls/server_context.h"

namespace outrigger::config {

struct SourceMark;

struct CertificateConfig {
  std::string cert_path;  // `cert`: PEM, the leaf first, then its intermediates
  std::string key_path;   // `key`: PEM private key (unencrypted)
  std::shared_ptr<const tls::CertifiedKey> loaded;  // read and checked at load
};

struct ListenerTlsConfig {
  // `certificates`: at least one; picked by SNI against each one's SAN names (wildcards
  // too), an ECDSA and an RSA one for the same names served by what the client supports; the
  // first serves clients without SNI or with an unknown name. Relative paths are from the
  // config file's directory.
  std::vector<CertificateConfig> certificates;
  int min_version = 12;  // `min_version`: "1.2" (default) or "1.3"
  // `alpn`: protocols offered, preferred first: h2 and http/1.1; default [http/1.1] (HTTP/2 is
  // opt-in: `alpn: [h2, http/1.1]`).
  std::vector<std::string> alpn{"http/1.1"};
  // `client_auth: { ca: FILE, mode: off|optional|required }`: client certificates checked
  // against the CAs in `ca` (PEM, one or more; read at load). A verified client's subject
  // goes upstream as X-Client-Cert-Subject.
  tls::ClientAuthMode client_auth = tls::ClientAuthMode::kOff;
  std::string client_ca_path;
  std::shared_ptr<const std::vector<tls::X509Ptr>> client_cas;
};

// A pool's `tls:`: TLS to its backends (design.md §8).
struct PoolTlsConfig {
  bool verify = true;  // `verify`: chain and name checked; false only when written so
  // `ca`: "system" (default: the system trust store) or a PEM file of trust anchors, read at
  // load into `cas`.
  std::string ca_path = "system";
  std::shared_ptr<const std::vector<tls::X509Ptr>> cas;
  // `server_name`: SNI and the name verified; default each backend's own DNS name (its
  // `address` host or `dns` name), or its IP address when it was given as one.
  std::string server_name;
  std::optional<CertificateConfig> certificate;  // `cert` + `key`: a client certificate
};

}  // namespace outrigger::config
