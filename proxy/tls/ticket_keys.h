// TicketKeys: the session-ticket keys of every TLS listener of the process, rotated hourly.
//
// The key of hour H (Unix time / 3600) is derived from a random master secret made at start-up
// and H, so every worker computes the same keys with no shared mutable state and no lock, and
// rotation needs no timer: tickets are issued under the current hour's key and accepted under
// it and the two before (a ring of three, as nginx and HAProxy keep), then renewed. A restart
// makes a new secret: tickets issued before it fall back to a full handshake.
//
// Thread safety: immutable after construction; used from every worker's handshakes.
#pragma once

#include <openssl/evp.h>
#include <openssl/ssl.h>

#include <array>
#include <cstdint>

#include "proxy/tls/openssl_ptr.h"

namespace outrigger::tls {

class TicketKeys {
 public:
  static constexpr int kAcceptedHours = 3;  // the current key and the two before it

  TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // SSL_CTX_set_tlsext_ticket_key_evp_cb's contract, at Unix time `now`: with `enc`, fills
  // `name` and `iv` and sets up both contexts for the current hour's key (1); without,
  // sets them up for the key `name` names: 1 when current, 2 (renew the ticket) when one of
  // the two before, 0 (full handshake) when unknown or older; -1 on an OpenSSL failure.
  int Setup(unsigned char name[16], unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX* cipher,
            EVP_MAC_CTX* mac, int enc, int64_t now) const;

 private:
  struct HourKey {
    std::array<unsigned char, 32> aes;
    std::array<unsigned char, 32> hmac;
  };
  bool Derive(int64_t hour, HourKey* key) const;

  std::array<unsigned char, 32> secret_{};
  std::array<unsigned char, 8> prefix_{};  // the first half of every key name: this process's
  EvpCipherPtr cipher_;                    // fetched once: OpenSSL 3's implicit fetches lock
  EvpMdPtr sha512_;
};

}  // namespace outrigger::tls
