// Test certificates made in memory (self-signed, SAN names given), and PEM files of them.
#pragma once

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "proxy/tls/certified_key.h"

namespace outrigger::tls::testing {

inline EvpPkeyPtr MakeKey(bool ecdsa) {
  return EvpPkeyPtr(ecdsa ? EVP_EC_gen("P-256") : EVP_RSA_gen(2048));
}

// Valid from an hour ago for `seconds` (negative: already expired).
inline X509Ptr MakeCert(EVP_PKEY* key, const std::vector<std::string>& names, long serial,
                        long seconds = 86400) {
  X509Ptr x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -7200);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), seconds);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names[0].c_str()), -1, -1, 0);
  X509_set_issuer_name(x.get(), name);
  std::vector<std::string> sans;
  for (const auto& n : names) sans.push_back("DNS:" + n);
  std::string value = absl::StrJoin(sans, ",");
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
  X509_add_ext(x.get(), ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x.get(), key, EVP_sha256());
  return x;
}

inline std::shared_ptr<const CertifiedKey> MakeCertifiedKeyFor(
    bool ecdsa, const std::vector<std::string>& names, long serial) {
  EvpPkeyPtr key = MakeKey(ecdsa);
  std::vector<X509Ptr> certs;
  certs.push_back(MakeCert(key.get(), names, serial));
  return *MakeCertifiedKey(std::move(certs), std::move(key), 0);
}

inline void WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (cert != nullptr) PEM_write_X509(f, cert);
  if (key != nullptr) PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
}

}  // namespace outrigger::tls::testing
