// Http1Session's way to HTTP/2: a TLS client that agreed on h2 by ALPN, or a plaintext one on
// an `h2c: true` listener whose first bytes are the HTTP/2 client preface (prior knowledge,
// RFC 9113 §3.3; as nghttpx's upstream_http1_connhd_read). The connection is then served by
// an Http2Session; this session keeps only the socket and its place in the Worker.
#include <cstring>
#include <string_view>

#include "proxy/forward/forward_internal.h"
#include "proxy/forward/http1_session.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

namespace {
constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
}  // namespace

bool Http1Session::WantsHttp2(bool* wait) {
  if (facts_.tls != nullptr) return facts_.tls->handshake_done() && facts_.tls->alpn() == "h2";
  const ListenerRuntime& runtime = worker_.view()->snapshot->listeners[facts_.listener_index];
  if (!runtime.config->h2c) return false;
  evbuffer* in = In(client_);
  const size_t n = std::min(evbuffer_get_length(in), kPreface.size());
  char head[kPreface.size()];
  evbuffer_copyout(in, head, n);
  if (std::memcmp(head, kPreface.data(), n) != 0) return false;  // HTTP/1 (or garbage)
  *wait = n < kPreface.size();
  return !*wait;
}

void Http1Session::StartHttp2() {
  state_ = State::kHttp2;
  StopTimer();
  ReturnExchange();
  h2_ = std::make_unique<Http2Session>(worker_, *this, client_, facts_);
  h2_->Start();
}

}  // namespace outrigger::forward
