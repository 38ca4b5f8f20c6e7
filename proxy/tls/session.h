// ServerSession: the server side of one TLS connection, as its Stream's filter (the BIO and
// record loops are TlsFilter's).
//
// Until the handshake completes, plaintext to send is discarded (a 408 for a client that
// never finished its handshake cannot be encrypted; the connection closes all the same).
#pragma once

#include <memory>
#include <string_view>

#include "proxy/net/event.h"
#include "proxy/net/stream_filter.h"
#include "proxy/tls/openssl_ptr.h"
#include "proxy/tls/server_context.h"
#include "proxy/tls/tls_filter.h"

namespace outrigger::tls {

class ServerSession : public TlsFilter {
 public:
  ServerSession(std::shared_ptr<const ServerContext> context, HandshakeObserver observer);

  Result Decode(evbuffer* plain_in) override;
  Result Encode(evbuffer* plain_out) override;

  bool handshake_done() const { return done_; }
  // The connection ends: a handshake still under way is reported to the observer as
  // kAborted. Call from the owner while the observer is still whole (not from destructors).
  void Abandon() { Finish(false, HandshakeFailure::kAborted); }
  // After the handshake: the version agreed ("TLSv1.3") and the name the client asked for
  // (empty without SNI); both stay valid for the session's life.
  std::string_view version() const;
  std::string_view server_name() const;
  // After the handshake: the protocol ALPN agreed on ("h2", "http/1.1"), empty without ALPN.
  std::string_view alpn() const;
  // After the handshake on a listener with client_auth: the verified client certificate's
  // subject, RFC 2253 ("CN=alice,O=Example"; printable ASCII only, so safe in a header);
  // empty when the client sent none.
  const std::string& client_subject() const { return client_subject_; }

 private:
  void Finish(bool ok, HandshakeFailure why);

  std::shared_ptr<const ServerContext> context_;  // keeps its SSL_CTXs alive
  HandshakeObserver observer_;
  std::string client_subject_;
  bool done_ = false;      // the handshake completed
  bool reported_ = false;  // the observer was told how the handshake ended
};

}  // namespace outrigger::tls
