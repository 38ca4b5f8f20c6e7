#include "proxy/tls/session.h"

#include <openssl/err.h>

#include <algorithm>
#include <climits>

namespace outrigger::tls {
namespace {

// Plaintext is encrypted in records of at most kRecord (TLS's maximum), each taken from one
// contiguous run; pieces smaller than kCoalesce are joined first (see Encode).
constexpr size_t kRecord = 16 * 1024;
constexpr size_t kCoalesce = 4 * 1024;

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
                             HandshakeObserver* observer)
    : context_(std::move(context)),
      observer_(observer),
      wire_in_(evbuffer_new()),
      wire_out_(evbuffer_new()),
      ssl_(SSL_new(context_->Select(""))) {
  if (!ssl_ || !wire_in_ || !wire_out_) {
    ssl_.reset();  // Decode reports the failure
    return;
  }
  BIO* bio = BIO_new(const_cast<BIO_METHOD*>(context_->bio_method()));
  if (bio == nullptr) {
    ssl_.reset();
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // one BIO both ways; the SSL owns it
  SSL_set_accept_state(ssl_.get());
}

int ServerSession::BioWrite(BIO* bio, const char* data, int len) {
  auto* self = static_cast<ServerSession*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (evbuffer_add(self->wire_out_.get(), data, static_cast<size_t>(len)) != 0) return -1;
  return len;
}

int ServerSession::BioRead(BIO* bio, char* out, int len) {
  auto* self = static_cast<ServerSession*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  int n = evbuffer_remove(self->wire_in_.get(), out, static_cast<size_t>(len));
  if (n <= 0) {
    BIO_set_retry_read(bio);
    return -1;
  }
  return n;
}

long ServerSession::BioCtrl(BIO*, int cmd, long, void*) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;  // writes are never buffered here
}

void ServerSession::Finish(bool ok, HandshakeFailure why) {
  if (reported_) return;
  reported_ = true;
  if (observer_ != nullptr) {
    // A version agreed before a failure (a 1.3 ServerHello, then a client's alert) is known.
    const SSL_SESSION* session = ssl_ ? SSL_get_session(ssl_.get()) : nullptr;
    const bool agreed =
        ok || (session != nullptr && SSL_SESSION_get_protocol_version(session) != 0);
    observer_->OnHandshake(ok, agreed ? SSL_get_version(ssl_.get()) : std::string_view(), why);
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
  for (;;) {
    evbuffer_iovec vec;
    if (evbuffer_reserve_space(plain_in, kRecord, &vec, 1) != 1) return Result::kError;
    int n = SSL_read(ssl_.get(), vec.iov_base, static_cast<int>(std::min(vec.iov_len, kRecord)));
    if (n > 0) {
      vec.iov_len = static_cast<size_t>(n);
      evbuffer_commit_space(plain_in, &vec, 1);
      continue;
    }
    evbuffer_commit_space(plain_in, &vec, 0);
    int err = SSL_get_error(ssl_.get(), n);
    ERR_clear_error();
    if (err == SSL_ERROR_WANT_READ) return Result::kOk;
    // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) the transport's end.
    if (err == SSL_ERROR_ZERO_RETURN) return Result::kEof;
    return Result::kError;
  }
}

net::StreamFilter::Result ServerSession::Encode(evbuffer* plain_out) {
  if (!done_) {  // nothing can be encrypted yet (see the header)
    evbuffer_drain(plain_out, evbuffer_get_length(plain_out));
    return Result::kOk;
  }
  while (size_t len = evbuffer_get_length(plain_out)) {
    // A segment of kCoalesce bytes or more (a body read from a backend) is encrypted where it
    // lies; smaller leading pieces (a response head before its body) are joined, up to
    // kCoalesce, so that they leave as one record rather than one each. The copy is thus
    // bounded per response, never per body byte.
    evbuffer_iovec first;
    if (evbuffer_peek(plain_out, -1, nullptr, &first, 1) < 1) return Result::kError;
    size_t chunk;
    const unsigned char* data;
    if (first.iov_len >= std::min(len, kCoalesce)) {
      chunk = std::min(first.iov_len, kRecord);
      data = static_cast<const unsigned char*>(first.iov_base);
    } else {
      chunk = std::min(len, kCoalesce);
      data = evbuffer_pullup(plain_out, static_cast<ssize_t>(chunk));
      if (data == nullptr) return Result::kError;
    }
    int n = SSL_write(ssl_.get(), data, static_cast<int>(chunk));
    if (n <= 0) {
      ERR_clear_error();
      return Result::kError;
    }
    evbuffer_drain(plain_out, static_cast<size_t>(n));
  }
  return Result::kOk;
}

std::string_view ServerSession::version() const { return SSL_get_version(ssl_.get()); }

std::string_view ServerSession::server_name() const {
  const char* name = SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name);
  return name != nullptr ? std::string_view(name) : std::string_view();
}

}  // namespace outrigger::tls
