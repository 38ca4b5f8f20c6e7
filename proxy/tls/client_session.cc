#include "proxy/tls/client_session.h"

#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <string_view>

#include "absl/strings/str_cat.h"
#include "proxy/base/log.h"

namespace outrigger::tls {

ClientSession::ClientSession(std::shared_ptr<const ClientContext> context, SSL* ssl,
                             std::shared_ptr<SessionSlot> slot, const std::string* peer)
    : TlsFilter(ssl, context->bio_method()),
      context_(std::move(context)),
      slot_(std::move(slot)),
      peer_(peer) {
  if (!ssl_) return;
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_connect_state(ssl_.get());
}

ClientSession::~ClientSession() {
  // Freed without a shutdown, an SSL marks its session not resumable (OpenSSL takes an
  // unannounced end for a broken connection): a connection that closes after a good handshake
  // (the backend's keep-alive limit, our idle timeout) is no reason to give up its session.
  if (ssl_ && done_ && failure_.empty()) {
    SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
}

int ClientSession::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  auto* self = static_cast<ClientSession*>(SSL_get_app_data(ssl));
  if (self == nullptr || !self->slot_) return 0;
  self->slot_->session.reset(session);  // the reference OpenSSL handed over (we return 1)
  return 1;
}

void ClientSession::Start() {
  if (ssl_) Handshake();  // the ClientHello, into wire_out(); an error shows in Decode
}

net::StreamFilter::Result ClientSession::Handshake() {
  const int r = SSL_do_handshake(ssl_.get());
  if (r == 1) {
    if (context_->require_h2()) return CheckH2();
    done_ = true;
    return Result::kOk;
  }
  const int err = SSL_get_error(ssl_.get(), r);
  if (err == SSL_ERROR_WANT_READ) return Result::kOk;
  Fail();
  return Result::kError;
}

net::StreamFilter::Result ClientSession::CheckH2() {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &proto, &len);
  const std::string_view picked(reinterpret_cast<const char*>(proto), proto ? len : 0);
  if (picked == "h2") {
    done_ = true;
    return Result::kOk;
  }
  failure_ = "the backend did not select HTTP/2 by ALPN (it picked ";
  failure_ += picked.empty() ? std::string_view("none") : picked;
  failure_ += ')';
  LogFailure();
  return Result::kError;
}

void ClientSession::LogFailure() const {
  // Every connection to such a backend fails the same way: a warning each time would flood.
  const std::string& peer = peer_ != nullptr ? *peer_ : std::string();
  if (context_->FirstFailure()) {
    spdlog::warn(
        "{}: TLS to backend {} failed: {} (later failures of this pool are logged at "
        "debug level)",
        context_->label(), peer, failure_);
  } else {
    spdlog::debug("{}: TLS to backend {} failed: {}", context_->label(), peer, failure_);
  }
}

void ClientSession::Fail() {
  const long verify = SSL_get_verify_result(ssl_.get());
  const unsigned long error = ERR_peek_error();
  if (verify != X509_V_OK) {
    failure_ = absl::StrCat("certificate verify failed: ", X509_verify_cert_error_string(verify));
  } else if (error != 0) {
    const char* reason = ERR_reason_error_string(error);
    failure_ = reason != nullptr ? reason : "TLS handshake failed";
  } else {
    failure_ = "the backend closed the connection during the TLS handshake";
  }
  ERR_clear_error();
  LogFailure();
  // A session that failed must not be offered again.
  if (slot_) slot_->session.reset();
}

void ClientSession::HandshakeCut() {
  if (ssl_ && !done_ && failure_.empty()) Fail();
}

net::StreamFilter::Result ClientSession::Decode(evbuffer* plain_in) {
  if (!ssl_ || !failure_.empty()) return Result::kError;
  if (!done_) {
    if (Handshake() != Result::kOk) return Result::kError;
    if (!done_) return Result::kOk;
  }
  return ReadRecords(plain_in);
}

net::StreamFilter::Result ClientSession::Encode(evbuffer* plain_out) {
  if (!done_) return ssl_ ? Result::kOk : Result::kError;  // stays in output() until Ready()
  return WriteRecords(plain_out);
}

}  // namespace outrigger::tls
