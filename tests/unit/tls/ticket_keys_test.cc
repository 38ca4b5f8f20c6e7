#include "proxy/tls/ticket_keys.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>

#include <cstring>

namespace outrigger::tls {
namespace {

struct Contexts {
  Contexts()
      : cipher(EVP_CIPHER_CTX_new()),
        mac_alg(EVP_MAC_fetch(nullptr, "HMAC", nullptr)),
        mac(EVP_MAC_CTX_new(mac_alg)) {}
  ~Contexts() {
    EVP_MAC_CTX_free(mac);
    EVP_MAC_free(mac_alg);
    EVP_CIPHER_CTX_free(cipher);
  }
  EVP_CIPHER_CTX* cipher;
  EVP_MAC* mac_alg;
  EVP_MAC_CTX* mac;
};

TEST(TicketKeysTest, CurrentKeyDecryptsOlderOnesRenewUnknownAndStaleRefused) {
  TicketKeys keys;
  const int64_t t0 = 1'700'000'000;
  unsigned char name[16];
  unsigned char iv[EVP_MAX_IV_LENGTH];
  Contexts enc;
  ASSERT_EQ(keys.Setup(name, iv, enc.cipher, enc.mac, 1, t0), 1);
  Contexts dec;
  EXPECT_EQ(keys.Setup(name, iv, dec.cipher, dec.mac, 0, t0 + 10), 1);
  Contexts later;
  EXPECT_EQ(keys.Setup(name, iv, later.cipher, later.mac, 0, t0 + 2 * 3600), 2);  // renewed
  Contexts stale;
  EXPECT_EQ(keys.Setup(name, iv, stale.cipher, stale.mac, 0, t0 + 4 * 3600), 0);
  TicketKeys other;  // another process's (or before a restart): unknown
  Contexts foreign;
  EXPECT_EQ(other.Setup(name, iv, foreign.cipher, foreign.mac, 0, t0), 0);
}

TEST(TicketKeysTest, NamesChangeEveryHour) {
  TicketKeys keys;
  unsigned char a[16], b[16], c[16], iv[EVP_MAX_IV_LENGTH];
  Contexts x, y, z;
  keys.Setup(a, iv, x.cipher, x.mac, 1, 3600 * 10);
  keys.Setup(b, iv, y.cipher, y.mac, 1, 3600 * 10 + 3599);
  keys.Setup(c, iv, z.cipher, z.mac, 1, 3600 * 11);
  EXPECT_EQ(std::memcmp(a, b, 16), 0);
  EXPECT_NE(std::memcmp(a, c, 16), 0);
}

}  // namespace
}  // namespace outrigger::tls
