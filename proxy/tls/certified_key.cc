#include "proxy/tls/certified_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace outrigger::tls {

std::string LastError(const char* fallback) {
  unsigned long code = ERR_peek_last_error();
  if (code == 0) return fallback;
  const char* reason = ERR_reason_error_string(code);
  std::string text = reason != nullptr ? reason : absl::StrCat("error ", code);
  ERR_clear_error();
  return text;
}

namespace {

// OpenSSL would prompt on the terminal for an encrypted key's passphrase: refuse instead.
int NoPassphrase(char*, int, int, void*) { return -1; }

absl::StatusOr<BioPtr> OpenFile(const std::string& path) {
  // fopen rather than BIO_new_file, so that the message carries errno's own text.
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  BioPtr bio(BIO_new_fp(f, BIO_CLOSE));
  if (!bio) {
    std::fclose(f);
    return absl::ResourceExhaustedError("out of memory");
  }
  return bio;
}

int64_t ToUnix(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(timegm(&tm));
}

std::vector<std::string> DnsNames(X509* cert, std::string* cn) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      const auto* data = reinterpret_cast<const char*>(ASN1_STRING_get0_data(n->d.dNSName));
      names.push_back(absl::AsciiStrToLower(
          std::string(data, static_cast<size_t>(ASN1_STRING_length(n->d.dNSName)))));
    }
    GENERAL_NAMES_free(sans);
  }
  X509_NAME* subject = X509_get_subject_name(cert);
  int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (at >= 0) {
    ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
    cn->assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
               static_cast<size_t>(ASN1_STRING_length(s)));
  }
  if (names.empty() && !cn->empty()) names.push_back(absl::AsciiStrToLower(*cn));
  return names;
}

std::string SerialHex(X509* cert) {
  BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn);
  std::string out = hex != nullptr ? hex : "";
  OPENSSL_free(hex);
  BN_free(bn);
  return out;
}

}  // namespace

absl::StatusOr<std::vector<X509Ptr>> ReadCertificates(const std::string& path) {
  absl::StatusOr<BioPtr> bio = OpenFile(path);
  if (!bio.ok()) return bio.status();
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio->get(), nullptr, NoPassphrase, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the read that ended the loop reports "no start line"
  if (certs.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " holds no PEM certificate"));
  }
  return certs;
}

absl::StatusOr<EvpPkeyPtr> ReadPrivateKey(const std::string& path) {
  absl::StatusOr<BioPtr> bio = OpenFile(path);
  if (!bio.ok()) return bio.status();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " holds no usable PEM private key (an encrypted key is not supported): ",
                     LastError("no key found")));
  }
  return key;
}

absl::StatusOr<std::shared_ptr<const CertifiedKey>> MakeCertifiedKey(
    std::vector<X509Ptr> certificates, EvpPkeyPtr key, int64_t now) {
  auto ck = std::make_shared<CertifiedKey>();
  ck->leaf = std::move(certificates.front());
  for (size_t i = 1; i < certificates.size(); ++i) ck->chain.push_back(std::move(certificates[i]));
  if (X509_check_private_key(ck->leaf.get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError("the private key does not match the certificate");
  }
  ck->key = std::move(key);
  ck->names = DnsNames(ck->leaf.get(), &ck->subject_cn);
  ck->serial = SerialHex(ck->leaf.get());
  ck->not_after = ToUnix(X509_get0_notAfter(ck->leaf.get()));
  ck->ecdsa = EVP_PKEY_get_base_id(ck->key.get()) == EVP_PKEY_EC;
  if (ck->not_after <= now) {
    char when[32];
    std::time_t t = static_cast<std::time_t>(ck->not_after);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    return absl::OutOfRangeError(absl::StrCat("the certificate expired on ", when));
  }
  return std::shared_ptr<const CertifiedKey>(std::move(ck));
}

}  // namespace outrigger::tls
