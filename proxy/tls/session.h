// ServerSession: the server side of one TLS connection, as its Stream's filter
// (net/stream_filter.h). OpenSSL reads and writes through a BIO over the session's own wire
// buffers, never the socket: a write always succeeds (SSL_write never wants to write), the
// Stream sends every record queued in one writev, and a handshake is testable in memory.
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

namespace outrigger::tls {

class ServerSession : public net::StreamFilter {
 public:
  ServerSession(std::shared_ptr<const ServerContext> context, HandshakeObserver* observer);

  evbuffer* wire_in() override { return wire_in_.get(); }
  evbuffer* wire_out() override { return wire_out_.get(); }
  Result Decode(evbuffer* plain_in) override;
  Result Encode(evbuffer* plain_out) override;

  bool handshake_done() const { return done_; }
  // The connection ends: a handshake still under way is reported to the observer as
  // kAborted. Call from the owner while the observer is still whole (not from destructors).
  void Abandon() { Finish(false, HandshakeFailure::kAborted); }
  SSL* ssl() const { return ssl_.get(); }
  // After the handshake: the version agreed ("TLSv1.3") and the name the client asked for
  // (empty without SNI); both stay valid for the session's life.
  std::string_view version() const;
  std::string_view server_name() const;
  // After the handshake on a listener with client_auth: the verified client certificate's
  // subject, RFC 2253 ("CN=alice,O=Example"; printable ASCII only, so safe in a header);
  // empty when the client sent none.
  const std::string& client_subject() const { return client_subject_; }

 private:
  static int BioWrite(BIO* bio, const char* data, int len);
  static int BioRead(BIO* bio, char* out, int len);
  static long BioCtrl(BIO* bio, int cmd, long num, void* ptr);
  friend class ServerContext;  // installs the Bio* functions in its BIO_METHOD
  void Finish(bool ok, HandshakeFailure why);

  std::shared_ptr<const ServerContext> context_;  // keeps its SSL_CTXs alive
  HandshakeObserver* observer_;
  net::EvBufferPtr wire_in_;
  net::EvBufferPtr wire_out_;
  SslPtr ssl_;
  std::string client_subject_;
  bool done_ = false;      // the handshake completed
  bool reported_ = false;  // the observer was told how the handshake ended
};

}  // namespace outrigger::tls
