// ClientContext: TLS to one pool's backends (a pool's `tls:`, design.md §8): the SSL_CTX with
// its trust anchors and client certificate, shared by every worker; each connection gets a
// ClientSession (tls/client_session.h) from it.
//
// Verification is on unless `verify: false`: the chain must lead to the pool's CA file (or
// the system's trust store), and the certificate must name the server (its DNS name, or its
// IP address when the backend has no name). A session is resumed per backend and per worker
// (ClientSessionCache), never shared across threads.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proxy/tls/certified_key.h"
#include "proxy/tls/openssl_ptr.h"

namespace outrigger::tls {

class ClientSession;

using SslSessionPtr = std::unique_ptr<SSL_SESSION, net::Deleter<SSL_SESSION_free>>;

// The session a backend last gave one worker, to resume with. Shared between the cache and
// the sessions that may refresh it (TLS 1.3 tickets arrive after the handshake).
struct SessionSlot {
  SslSessionPtr session;
};

// One worker's slots, by whatever names a backend (pool, address, server name). Bounded: at
// kMaxSlots it starts over (a DNS pool that churns must not grow it without end).
class ClientSessionCache {
 public:
  static constexpr size_t kMaxSlots = 4096;
  std::shared_ptr<SessionSlot> Slot(const std::string& key);

 private:
  absl::flat_hash_map<std::string, std::shared_ptr<SessionSlot>> slots_;
};

struct ClientOptions {
  bool verify = true;
  // Trust anchors (PEM certificates) when verifying; empty: the system's trust store.
  std::shared_ptr<const std::vector<X509Ptr>> cas;
  std::shared_ptr<const CertifiedKey> certificate;  // sent when the backend asks (optional)
  std::string label;                                // what log lines call the pool ("pools.api")
  // A `protocol: h2` pool: its sessions offer ALPN "h2" alone, and a handshake in which the
  // backend selects anything else (or nothing) fails. Probes (NewSsl) offer no ALPN.
  bool require_h2 = false;
};

class ClientContext : public std::enable_shared_from_this<ClientContext> {
 public:
  static absl::StatusOr<std::shared_ptr<const ClientContext>> Build(const ClientOptions& options);

  // A session to `server_name` (a DNS name: SNI and the name verified; an IP address: the
  // address verified, no SNI; empty: nothing to verify the name against, so only the chain),
  // resuming what `slot` holds and refreshing it. `peer` names the backend in a failure's log
  // line and must outlive the session.
  std::unique_ptr<ClientSession> NewSession(std::string_view server_name,
                                            std::shared_ptr<SessionSlot> slot,
                                            const std::string* peer) const;
  // An SSL set up for `server_name` as above, for a user with its own BIO (a health probe's
  // bufferevent); the caller owns it. Null when OpenSSL cannot make one.
  SSL* NewSsl(std::string_view server_name) const;

  bool verify() const { return verify_; }
  bool require_h2() const { return require_h2_; }
  const std::string& label() const { return label_; }
  const BIO_METHOD* bio_method() const { return bio_method_.get(); }
  // The first failed handshake of this context is logged as a warning, later ones at debug
  // level: a backend with a wrong certificate fails every request the same way.
  bool FirstFailure() const { return !warned_.exchange(true, std::memory_order_relaxed); }

  ClientContext() = default;  // for Build (make_shared)
  ClientContext(const ClientContext&) = delete;
  ClientContext& operator=(const ClientContext&) = delete;

 private:
  SslCtxPtr ctx_;
  BioMethodPtr bio_method_;
  bool verify_ = true;
  bool require_h2_ = false;
  std::string label_;
  mutable std::atomic<bool> warned_{false};
};

}  // namespace outrigger::tls
