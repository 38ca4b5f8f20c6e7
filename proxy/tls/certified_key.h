// CertifiedKey: a certificate chain and its private key, read from PEM files and checked
// (the key matches the leaf; the leaf has not expired), with what SNI selection and /status
// need to know about the leaf. Immutable once made; shared by the config that named the files
// and the contexts built from it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/tls/openssl_ptr.h"

namespace outrigger::tls {

struct CertifiedKey {
  X509Ptr leaf;
  std::vector<X509Ptr> chain;  // the intermediates after the leaf in the file, in order
  EvpPkeyPtr key;
  // The leaf's DNS names, lowercased: its subjectAltName dNSName entries, or its subject CN
  // when it has none. "*.example.com" entries are wildcards.
  std::vector<std::string> names;
  std::string subject_cn;  // "" when the subject has none
  std::string serial;      // hexadecimal
  int64_t not_after = 0;   // Unix seconds
  bool ecdsa = false;      // an EC key (else RSA or another kind OpenSSL serves as it will)
};

// Every certificate in the PEM file at `path`, the leaf first. Errors: the file cannot be
// opened (with errno's text) or holds no PEM certificate.
absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const std::string& path);
// The private key in the PEM file at `path`. An encrypted key is an error (no passphrase
// prompt: the process runs unattended).
absl::StatusOr<EvpPkeyPtr> ReadPrivateKey(const std::string& path);

// Combines what the two readers returned. Errors (checked in this order): the key does not
// match the leaf (kFailedPrecondition); the leaf expired before `now` (kOutOfRange).
absl::StatusOr<std::shared_ptr<const CertifiedKey>> MakeCertifiedKey(
    std::vector<X509Ptr> certificates, EvpPkeyPtr key, int64_t now);

}  // namespace outrigger::tls
