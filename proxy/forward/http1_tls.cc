// Http1Session's TLS hook: how a client's handshake ended, into the listener's
// outrigger_tls_* counters. (A plain listener's redirect to HTTPS is the Exchange's:
// exchange_route.cc; so is the TLS session to a pool's backend: exchange_attempt.cc.)
#include "proxy/forward/http1_session.h"
#include "proxy/forward/worker.h"

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

}  // namespace outrigger::forward
