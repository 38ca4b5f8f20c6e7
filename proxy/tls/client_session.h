// ClientSession: the client side of one TLS connection to a backend, as its Stream's filter
// (net/stream_filter.h: the Stream reports the connection up only once Ready()). A handshake
// that fails (the certificate does not verify, no protocol in common, the backend closes) is
// an error of Decode, with failure() saying why.
#pragma once

#include <memory>
#include <string>

#include "proxy/tls/client_context.h"
#include "proxy/tls/tls_filter.h"

namespace outrigger::tls {

class ClientSession : public TlsFilter {
 public:
  // Use ClientContext::NewSession. Takes `ssl`, set up for its server.
  ClientSession(std::shared_ptr<const ClientContext> context, SSL* ssl,
                std::shared_ptr<SessionSlot> slot, const std::string* peer);
  ~ClientSession() override;

  void Start() override;
  bool Ready() const override { return done_; }
  void HandshakeCut() override;
  Result Decode(evbuffer* plain_in) override;
  Result Encode(evbuffer* plain_out) override;

  // Why the handshake failed ("certificate verify failed: hostname mismatch"); "" otherwise.
  const std::string& failure() const { return failure_; }
  bool resumed() const { return ssl_ && SSL_session_reused(ssl_.get()) == 1; }

  // OpenSSL's new-session callback: the backend's ticket, into this session's slot.
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);

 private:
  Result Handshake();
  // A handshake done on a require_h2 context: Ready only if the backend selected "h2".
  Result CheckH2();
  void Fail();
  // failure_, as a warning the pool's first time and at debug level afterwards.
  void LogFailure() const;

  std::shared_ptr<const ClientContext> context_;  // keeps its SSL_CTX alive
  std::shared_ptr<SessionSlot> slot_;
  const std::string* peer_;
  std::string failure_;
  bool done_ = false;
};

}  // namespace outrigger::tls
