// ServerContext: what a TLS listener serves, built from its `tls:` config for one snapshot.
//
// Certificates with the same names share one SSL_CTX, so that a name with both an ECDSA and
// an RSA certificate gets the one the client supports (OpenSSL picks by the client's
// signature algorithms, ECDSA first). SNI selects the SSL_CTX whose certificate names the
// requested host exactly, else by wildcard ("*.example.com" covers "a.example.com", one label
// only); a client without SNI, or with a name no certificate has, gets the first
// certificate's. TLS 1.2 and 1.3 only, Mozilla's intermediate ciphers for 1.2, no
// renegotiation, session tickets under TicketKeys and no server-side session cache.
//
// A reload builds a new ServerContext for new connections; an open connection's session
// holds a shared_ptr to the one it began with, so its certificates live as long as it does.
// Thread safety: immutable once built; sessions are made on any worker.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "proxy/net/stream_filter.h"
#include "proxy/tls/certified_key.h"
#include "proxy/tls/openssl_ptr.h"
#include "proxy/tls/ticket_keys.h"

namespace outrigger::tls {

class ServerSession;

// Why a handshake failed, for outrigger_tls_handshake_failures_total{reason}.
enum class HandshakeFailure : uint8_t {
  kNone,               // it did not fail
  kVersion,            // no protocol version in common (TLS 1.1 and older, or 1.2 under min 1.3)
  kCipher,             // no cipher suite, group or signature algorithm in common
  kPlainHttp,          // plain HTTP sent to the TLS port
  kPeerAlert,          // the client ended it with an alert (e.g. it did not trust the certificate)
  kClientCertificate,  // client_auth: no certificate where one is required, or one that
                       // does not verify
  kAborted,            // the connection ended first (client gone, header timeout, shutdown)
  kProtocol,           // anything else the client sent that TLS refuses (garbage, bad records)
};

// How a handshake ended, for metrics (outrigger_tls_handshakes_total): `callback` runs once
// per session, from the session's Decode or Abandon, with `ctx`. `version`: "TLSv1.3",
// "TLSv1.2", or "" when it failed before one was agreed. A function and a context rather than
// an interface, as Stream's callbacks are: the connection that owns the session need not be
// polymorphic (a vptr check in its destructor made UBSan open a pipe, which fails once the
// process is out of descriptors, and report an "invalid vptr" that was not).
struct HandshakeObserver {
  using Callback = void (*)(void* ctx, bool ok, std::string_view version, HandshakeFailure why);
  Callback callback = nullptr;
  void* ctx = nullptr;
};

// `client_auth.mode`: whether a client certificate is asked for. A certificate presented
// must chain to one of the listener's CAs in every mode but kOff (a bad one fails the
// handshake); kRequired also refuses a client that sends none.
enum class ClientAuthMode : uint8_t { kOff, kOptional, kRequired };

struct ServerOptions {
  std::vector<std::shared_ptr<const CertifiedKey>> certificates;  // at least one; [0] default
  int min_version = 12;                                           // 12: TLS 1.2, 13: TLS 1.3
  std::vector<std::string> alpn{"http/1.1"};  // protocols offered, preferred first
  ClientAuthMode client_auth = ClientAuthMode::kOff;
  // The CAs client certificates must chain to (required unless client_auth is kOff); their
  // subjects are also the names sent in the CertificateRequest.
  std::shared_ptr<const std::vector<X509Ptr>> client_cas;
};

class ServerContext : public std::enable_shared_from_this<ServerContext> {
 public:
  // Errors: two certificates of the same key type for the same names; OpenSSL refusing a
  // certificate, key or setting.
  static absl::StatusOr<std::shared_ptr<const ServerContext>> Build(
      const ServerOptions& options, std::shared_ptr<const TicketKeys> ticket_keys);

  // Whether `certificates` can be served together: the index of the first one that is a
  // second certificate of the same key kind for the same names, or nullopt.
  static std::optional<size_t> FindDuplicate(
      const std::vector<std::shared_ptr<const CertifiedKey>>& certificates);

  // A session for one accepted connection, to be the connection's Stream filter.
  // `observer.ctx` must outlive the session (or the callback be null).
  std::unique_ptr<ServerSession> NewSession(HandshakeObserver observer) const;

  const std::vector<std::shared_ptr<const CertifiedKey>>& certificates() const {
    return certificates_;
  }
  // The SSL_CTX that serves `server_name` (lowercase), by the rules above.
  SSL_CTX* Select(std::string_view server_name) const;
  const TicketKeys& ticket_keys() const { return *ticket_keys_; }
  ClientAuthMode client_auth() const { return client_auth_; }
  const std::shared_ptr<const std::vector<X509Ptr>>& client_cas() const { return client_cas_; }
  const BIO_METHOD* bio_method() const { return bio_method_.get(); }

  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;
  ServerContext() = default;  // for Build (make_shared)

 private:
  absl::Status Configure(SSL_CTX* ctx) const;
  absl::Status ConfigureClientAuth(SSL_CTX* ctx) const;

  std::vector<std::shared_ptr<const CertifiedKey>> certificates_;
  std::vector<SslCtxPtr> contexts_;                 // one per set of names; [0] serves by default
  absl::flat_hash_map<std::string, size_t> exact_;  // name → index into contexts_
  absl::flat_hash_map<std::string, size_t> wildcard_;  // "example.com" for "*.example.com"
  std::string alpn_wire_;                              // length-prefixed, as ALPN sends it
  int min_version_ = TLS1_2_VERSION;
  std::shared_ptr<const TicketKeys> ticket_keys_;
  ClientAuthMode client_auth_ = ClientAuthMode::kOff;
  std::shared_ptr<const std::vector<X509Ptr>> client_cas_;
  BioMethodPtr bio_method_;
};

}  // namespace outrigger::tls
