// Http1Session's TLS hooks: how a client's handshake ended, into the listener's
// outrigger_tls_* counters, and a plain listener's redirect of its clients to HTTPS. (The
// TLS session to a pool's backend is the Exchange's: exchange_attempt.cc.)
#include "proxy/forward/http1_session.h"
#include "proxy/forward/worker.h"
#include "proxy/http/https_redirect.h"

namespace outrigger::forward {
namespace {

metrics::TlsFailure ToMetric(tls::HandshakeFailure why) {
  switch (why) {
    case tls::HandshakeFailure::kVersion:
      return metrics::TlsFailure::kVersion;
    case tls::HandshakeFailure::kCipher:
      return metrics::TlsFailure::kCipher;
    case tls::HandshakeFailure::kPlainHttp:
      return metrics::TlsFailure::kPlainHttp;
    case tls::HandshakeFailure::kPeerAlert:
      return metrics::TlsFailure::kPeerAlert;
    case tls::HandshakeFailure::kClientCertificate:
      return metrics::TlsFailure::kClientCertificate;
    case tls::HandshakeFailure::kAborted:
      return metrics::TlsFailure::kAborted;
    case tls::HandshakeFailure::kNone:
    case tls::HandshakeFailure::kProtocol:
      break;
  }
  return metrics::TlsFailure::kProtocol;
}

}  // namespace

void Http1Session::OnHandshake(void* arg, bool ok, std::string_view version,
                               tls::HandshakeFailure why) {
  auto* self = static_cast<Http1Session*>(arg);
  if (self->facts_.listener_gone) return;  // its series went with it
  const metrics::TlsVersion v = version == "TLSv1.3"   ? metrics::TlsVersion::kTls13
                                : version == "TLSv1.2" ? metrics::TlsVersion::kTls12
                                                       : metrics::TlsVersion::kNone;
  self->worker_.view()->shard->OnTlsHandshake(
      static_cast<metrics::ListenerId>(self->facts_.listener_index), ok, v, ToMetric(why));
}

void Http1Session::RedirectToHttps(uint16_t port) {
  std::string location;  // before the head it points into is drained
  const bool have_host =
      http::AppendHttpsLocation(ex().request.authority, port, ex().request.path, &location);
  evbuffer_drain(client_.input(), ex().request.head_size);
  if (!have_host) {
    SendLocalResponse(400, "a redirect to HTTPS needs a Host field", /*close=*/true);
    return;
  }
  const bool get_or_head = ex().method == http::Method::kGet || ex().method == http::Method::kHead;
  // The body (if any) is not read: the connection closes after the answer, as after a 404.
  SendLocalResponse(http::HttpsRedirectStatus(get_or_head), "", /*close=*/ex().has_body, location);
}

}  // namespace outrigger::forward
