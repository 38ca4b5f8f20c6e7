#include "proxy/tls/session.h"

#include <openssl/err.h>

#include <algorithm>
#include <climits>

namespace outrigger::tls {
namespace {

HandshakeFailure Classify(unsigned long error) {
  switch (ERR_GET_REASON(error)) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
      return HandshakeFailure::kVersion;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
    case SSL_R_NO_SUITABLE_SIGNATURE_ALGORITHM:
    case SSL_R_NO_SUITABLE_KEY_SHARE:
      return HandshakeFailure::kCipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return HandshakeFailure::kClientCertificate;
    case SSL_R_HTTP_REQUEST:
    case SSL_R_HTTPS_PROXY_REQUEST:
      return HandshakeFailure::kPlainHttp;
    default:
      break;
  }
  // The client's alerts are reasons SSL_AD_REASON_OFFSET + the alert's number.
  const int reason = ERR_GET_REASON(error);
  if (reason >= SSL_AD_REASON_OFFSET && reason < SSL_AD_REASON_OFFSET + 256) {
    return HandshakeFailure::kPeerAlert;
  }
  return HandshakeFailure::kProtocol;
}

// The peer's certificate subject when it verified (a resumed session keeps the result of the
// handshake that verified it), else "". Bytes outside printable ASCII (which RFC 2253 output
// escapes already) would end the value: never in a header.
std::string VerifiedSubject(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return {};
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  std::string subject(data, static_cast<size_t>(std::max(0L, len)));
  for (char& c : subject) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return subject;
}

}  // namespace

ServerSession::ServerSession(std::shared_ptr<const ServerContext> context,
                             HandshakeObserver observer)
    : TlsFilter(SSL_new(context->Select("")), context->bio_method()),
      context_(std::move(context)),
      observer_(observer) {
  if (ssl_) SSL_set_accept_state(ssl_.get());
}

void ServerSession::Finish(bool ok, HandshakeFailure why) {
  if (reported_) return;
  reported_ = true;
  if (observer_.callback != nullptr) {
    // A version agreed before a failure (a 1.3 ServerHello, then a client's alert) is known.
    const SSL_SESSION* session = ssl_ ? SSL_get_session(ssl_.get()) : nullptr;
    const bool agreed =
        ok || (session != nullptr && SSL_SESSION_get_protocol_version(session) != 0);
    observer_.callback(observer_.ctx, ok, agreed ? SSL_get_version(ssl_.get()) : std::string_view(),
                       why);
  }
}

net::StreamFilter::Result ServerSession::Decode(evbuffer* plain_in) {
  if (!ssl_) return Result::kError;
  if (!done_) {
    int r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      int err = SSL_get_error(ssl_.get(), r);
      if (err == SSL_ERROR_WANT_READ) return Result::kOk;
      HandshakeFailure why =
          err == SSL_ERROR_SSL ? Classify(ERR_peek_error()) : HandshakeFailure::kAborted;
      ERR_clear_error();
      Finish(false, why);
      return Result::kError;
    }
    done_ = true;
    if (context_->client_auth() != ClientAuthMode::kOff)
      client_subject_ = VerifiedSubject(ssl_.get());
    Finish(true, HandshakeFailure::kNone);
  }
  return ReadRecords(plain_in);
}

net::StreamFilter::Result ServerSession::Encode(evbuffer* plain_out) {
  if (!done_) {  // nothing can be encrypted yet (see the header)
    evbuffer_drain(plain_out, evbuffer_get_length(plain_out));
    return Result::kOk;
  }
  return WriteRecords(plain_out);
}

std::string_view ServerSession::version() const { return SSL_get_version(ssl_.get()); }

std::string_view ServerSession::server_name() const {
  const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

std::string_view ServerSession::alpn() const {
  const unsigned char* proto = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &proto, &len);
  return std::string_view(reinterpret_cast<const char*>(proto), proto != nullptr ? len : 0);
}

}  // namespace outrigger::tls
