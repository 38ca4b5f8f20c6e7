// Http1Session after a 101 to a WebSocket upgrade: a byte tunnel both ways, on the
// Exchange's upstream connection (until the tunnel is a class of its own).
#include <sys/socket.h>

#include <chrono>

#include "proxy/base/clock.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/http1_session.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

void Http1Session::StartTunnel(Exchange& ex) {
  state_ = State::kTunnel;
  net::Stream& up = ex.upstream()->stream();
  up.SetCallbacks(&Http1Session::OnTunnelRead, &Http1Session::OnTunnelWrite,
                  &Http1Session::OnTunnelEvent, this);
  up.SetReadTimeout(milliseconds(0));
  client_.SetReadTimeout(
      milliseconds(0));  // the head timeout left running; the tunnel's is ArmTimer's
  client_.EnableRead();
  up.EnableRead();
  ex.last_activity_ns = MonoNanos();
  ArmTimer(ex.pool->config->timeouts.tunnel);
  PumpTunnel();
}

void Http1Session::PumpTunnel() {
  if (ex_ == nullptr || ex_->upstream() == nullptr) return;
  net::Stream& up = ex_->upstream()->stream();
  net::Stream& cl = client_;
  size_t moved = evbuffer_get_length(In(cl)) + evbuffer_get_length(In(up));
  if (moved > 0) ex_->last_activity_ns = MonoNanos();
  evbuffer_add_buffer(Out(up), In(cl));
  evbuffer_add_buffer(Out(cl), In(up));
  if (up.unsent() > kHighWater) cl.DisableRead();
  if (cl.unsent() > kHighWater) up.DisableRead();
}

void Http1Session::OnTunnelWrite(void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ != State::kTunnel) return;
  if (self->client_eof_) {
    net::Stream& up = self->ex().upstream()->stream();
    if (up.unsent() == 0) shutdown(up.fd(), SHUT_WR);
    return;
  }
  self->client_.EnableRead();
  self->PumpTunnel();
}

void Http1Session::OnTunnelRead(void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kTunnel) self->PumpTunnel();
}

void Http1Session::OnTunnelEvent(short what, void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ != State::kTunnel) return;
  if (what & net::Stream::kEof) self->PumpTunnel();
  self->CloseAfterFlush();
}

}  // namespace outrigger::forward
