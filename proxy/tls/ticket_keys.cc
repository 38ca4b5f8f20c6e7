#include "proxy/tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

namespace outrigger::tls {

TicketKeys::TicketKeys()
    : cipher_(EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr)),
      sha512_(EVP_MD_fetch(nullptr, "SHA512", nullptr)) {
  // Without randomness nothing TLS does is safe: a failure here is not recoverable.
  if (RAND_bytes(secret_.data(), static_cast<int>(secret_.size())) != 1 ||
      RAND_bytes(prefix_.data(), static_cast<int>(prefix_.size())) != 1 || !cipher_ || !sha512_) {
    std::abort();
  }
}

bool TicketKeys::Derive(int64_t hour, HourKey* key) const {
  unsigned char input[sizeof(secret_) + 8];
  std::memcpy(input, secret_.data(), secret_.size());
  for (int i = 0; i < 8; ++i)
    input[secret_.size() + i] = static_cast<unsigned char>(hour >> (8 * i));
  unsigned char out[64];
  unsigned int len = 0;
  bool ok = EVP_Digest(input, sizeof(input), out, &len, sha512_.get(), nullptr) == 1 && len == 64;
  std::memcpy(key->aes.data(), out, 32);
  std::memcpy(key->hmac.data(), out + 32, 32);
  OPENSSL_cleanse(out, sizeof(out));
  OPENSSL_cleanse(input, sizeof(input));
  return ok;
}

int TicketKeys::Setup(unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH],
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int enc, int64_t now) const {
  const int64_t current = now / 3600;
  int64_t hour = current;
  if (!enc) {
    if (std::memcmp(name, prefix_.data(), prefix_.size()) != 0) return 0;
    hour = 0;
    for (int i = 0; i < 8; ++i) hour |= static_cast<int64_t>(name[8 + i]) << (8 * i);
    if (hour > current || current - hour >= kAcceptedHours) return 0;
  } else {
    std::memcpy(name, prefix_.data(), prefix_.size());
    for (int i = 0; i < 8; ++i) name[8 + i] = static_cast<unsigned char>(hour >> (8 * i));
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher_.get())) != 1) return -1;
  }
  HourKey key;
  if (!Derive(hour, &key)) return -1;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
      OSSL_PARAM_construct_end()};
  bool ok = EVP_MAC_CTX_set_params(mac, params) == 1 &&
            EVP_CipherInit_ex2(cipher, cipher_.get(), key.aes.data(), iv, enc, nullptr) == 1;
  OPENSSL_cleanse(&key, sizeof(key));
  if (!ok) return -1;
  return enc || hour == current ? 1 : 2;
}

}  // namespace outrigger::tls
