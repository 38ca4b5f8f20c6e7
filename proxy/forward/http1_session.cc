#include "proxy/forward/http1_session.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/http/upgrade.h"
#include "proxy/net/cidr.h"
#include "proxy/net/event.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

Http1Session::Http1Session(Worker& worker, size_t listener_index, evutil_socket_t fd,
                           const net::SocketAddress& peer)
    : worker_(worker), client_(worker.base(), fd) {
  facts_.peer_ip = peer.IpString();
  facts_.listener_index = static_cast<uint32_t>(listener_index);
  SetNoDelay(fd);
  client_.UseSpares(&worker.buffer_spares());
  client_.SetCallbacks(&Http1Session::OnClientRead, &Http1Session::OnClientWrite,
                       &Http1Session::OnClientEvent, this);
  client_.SetLowWater(kLowWater);
  const ListenerRuntime& runtime = worker_.view()->snapshot->listeners[listener_index];
  const config::ListenerConfig& listener = *runtime.config;
  // TLS: the session keeps the listener's certificates of this snapshot for its whole life.
  if (runtime.tls) {
    std::unique_ptr<tls::ServerSession> session =
        runtime.tls->NewSession({&Http1Session::OnHandshake, this});
    facts_.tls = session.get();
    client_.SetFilter(std::move(session));
  }
  client_.SetWriteTimeout(listener.timeouts.idle);  // a client that stops reading its response
  AwaitHead(/*started=*/true);                      // the header timeout runs from the accept
  client_.EnableRead();
}

void Http1Session::Flush() {
  if (state_ == State::kClosed) return;
  if (state_ == State::kHttp2) {
    h2_->Flush();
    return;
  }
  if (ex_ != nullptr) {
    // The request first: its answer takes longest. A request body waits for its upstream
    // output to drain, and the Stream reports only drains its loop made: when this flush, or
    // the one a connect makes on completing, sent it down to the low-water mark, the body
    // resumes here.
    ex_->FlushUpstream(/*body_paused=*/state_ == State::kExchange && !client_.reading());
    if (state_ == State::kClosed) return;
  }
  client_.Flush();
  // Waiting for a request with nothing buffered: give the buffers back to the worker's spares
  // now, so that idle keep-alive connections hold no buffer at all and the next request takes
  // one back without an allocation.
  if (state_ == State::kHead && ex_ == nullptr) client_.ReleaseBuffers();
}

Http1Session::~Http1Session() {
  if (ex_ == nullptr) return;
  ex_->plugins.wait().Cancel();
  // Unless Close ended it, an exchange may still be trying (the worker stops): freed, its
  // attempt's destructor frees a pending slot and the backend's active count.
  if (!ex_->idle()) ex_.reset();
  ReturnExchange();
}

Exchange& Http1Session::TakeExchange() {
  ex_ = worker_.TakeExchange();
  ex_->Bind(*this);
  return *ex_;
}

void Http1Session::ReturnExchange() { worker_.ReturnExchange(std::move(ex_)); }

void Http1Session::ArmTimer(milliseconds after) {
  if (!timer_) timer_.reset(evtimer_new(worker_.base(), &Http1Session::OnTimer, this));
  timeval tv = net::ToTimeval(after);
  evtimer_add(timer_.get(), &tv);
}

void Http1Session::StopTimer() {
  if (timer_) evtimer_del(timer_.get());
}

void Http1Session::AwaitHead(bool started) {
  const auto& timeouts =
      worker_.view()->snapshot->listeners[facts_.listener_index].config->timeouts;
  head_started_ = started;
  if (started) {
    head_deadline_ns_ = MonoNanos() + std::chrono::nanoseconds(timeouts.header).count();
    client_.SetReadTimeout(timeouts.header);
  } else {
    client_.SetReadTimeout(timeouts.idle);
  }
}

void Http1Session::ArmHeaderDeadline() {
  auto left = std::chrono::nanoseconds(head_deadline_ns_ - MonoNanos());
  client_.SetReadTimeout(std::max(std::chrono::ceil<milliseconds>(left), milliseconds(1)));
}

// ---- client side -----------------------------------------------------------------------

void Http1Session::OnClientRead(void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kHead:
      self->ProcessClientInput();
      break;
    case State::kExchange:
      if (!self->ex().request_body.done()) {
        self->ex().PumpRequestBody();
      } else {
        self->ReadClientWhileRoom();  // a pipelined request waits its turn
      }
      break;
    case State::kTunnel:
      self->PumpTunnel();
      break;
    case State::kClosing:  // lingering: discard what the client still sends
      evbuffer_drain(In(self->client_), evbuffer_get_length(In(self->client_)));
      break;
    case State::kPlugin:  // reading is off; a read queued before that waits for the verdict
    case State::kHttp2:   // the stream's callbacks are the Http2Session's
    case State::kClosed:
      break;
  }
}

void Http1Session::OnClientWrite(void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kExchange:
      self->ex().OnClientDrained();  // read more of the response
      break;
    case State::kTunnel:
      if (self->ex().upstream()) self->ex().upstream()->stream().EnableRead();
      self->PumpTunnel();
      break;
    case State::kHead:
      // A pipelined request waited for the previous responses to drain.
      self->ProcessClientInput();
      break;
    case State::kClosing:
      if (self->client_.unsent() == 0) {
        // Everything is sent. A client that has finished sending (it half-closed, or asked
        // for the close and sent nothing more) is done with us: close now, as nginx does;
        // so is one whose whole request was read when the worker drains (the response
        // said close: it has no reason to send more, and the process waits for it to exit).
        // Any other may still be sending: half-close and linger, so that a reset provoked
        // by its late bytes cannot destroy the response before it has read it.
        if (self->client_half_closed_ ||
            ((self->client_asked_close_ || self->worker_.draining()) &&
             evbuffer_get_length(In(self->client_)) == 0 &&
             (self->ex_ == nullptr || self->ex_->request_body.done()))) {
          self->Close();
          break;
        }
        shutdown(self->client_.fd(), SHUT_WR);
        self->client_.EnableRead();
        self->ArmTimer(kLinger);
      }
      break;
    case State::kPlugin:
    case State::kHttp2:
    case State::kClosed:
      break;
  }
}

void Http1Session::OnClientEvent(short what, void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kClosed) return;
  if (what == (net::Stream::kReading | net::Stream::kTimeout)) {
    if (self->state_ != State::kHead) return;  // a head timeout left running (TryReadHead)
    if (self->head_started_) {
      self->worker_.CountLimit(self->facts_, Limit::kHeaderTimeout);
      self->SendLocalResponse(408, "request head not received in time", /*close=*/true);
    } else {
      self->worker_.CountLimit(self->facts_, Limit::kIdleTimeout);
      self->Close();  // keep-alive idle timeout
    }
    return;
  }
  if (self->state_ == State::kClosing && what == (net::Stream::kReading | net::Stream::kEof) &&
      self->client_.unsent() > 0) {
    self->client_half_closed_ = true;  // it still reads: finish sending, then close
    return;
  }
  if (self->state_ == State::kExchange && what == (net::Stream::kReading | net::Stream::kEof) &&
      self->ex().request_body.done()) {
    // The client half-closed after its request (allowed, and some clients do: `nc -N`, batch
    // clients): it still reads, so the response goes out, and so do the answers to requests
    // it pipelined before its EOF, in order; the connection closes after the last of them
    // (the final head of a request with nothing buffered after it says close: http1_codec.cc).
    self->client_half_closed_ = true;
    if (evbuffer_get_length(In(self->client_)) == 0) self->client_keep_alive_ = false;
    return;
  }
  if (self->state_ == State::kTunnel && (what & net::Stream::kEof) && self->ex().upstream()) {
    // The client has sent all it will (it may still read): pass on what it sent last (a
    // WebSocket close frame), then its half-close, and keep relaying what the backend sends
    // until the backend closes too (OnUpstreamEvent) or the tunnel's idle timeout.
    self->PumpTunnel();
    self->client_eof_ = true;
    self->client_half_closed_ = true;  // the close comes as soon as the last bytes are out
    self->client_.DisableRead();
    net::Stream& up = self->ex().upstream()->stream();
    up.Flush();
    if (up.unsent() == 0) {
      shutdown(up.fd(), SHUT_WR);
    } else {
      up.SetLowWater(0);  // OnUpstreamWrite passes the half-close on once all is sent
    }
    return;
  }
  // EOF, error, or the client did not read its response within the idle timeout.
  self->Close();
}

void Http1Session::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http1Session*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kHead:  // a pipelined request after a local answer (SendLocalResponse); the
                        // head's timeouts are the client stream's (OnClientEvent)
      self->ProcessClientInput();
      break;
    case State::kTunnel: {
      const auto& pool = *self->ex().pool->config;
      int64_t idle_ns = MonoNanos() - self->ex().last_activity_ns;
      int64_t limit_ns = std::chrono::nanoseconds(pool.timeouts.tunnel).count();
      if (idle_ns >= limit_ns) {
        self->Close();
      } else {
        self->ArmTimer(
            std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds(limit_ns - idle_ns)) +
            milliseconds(1));
      }
      break;
    }
    case State::kClosing:  // linger over
      self->Close();
      break;
    case State::kExchange:  // the Exchange's waits have their own timer
    case State::kPlugin:
    case State::kHttp2:
    case State::kClosed:
      break;
  }
}

void Http1Session::ProcessClientInput() {
  // A loop rather than recursion: a pipeline of requests answered locally (404, 503) must
  // not grow the stack.
  while (state_ == State::kHead) {
    if (client_.unsent() > kHighWater) break;  // resumes in OnClientWrite
    if (!TryReadHead()) break;
  }
  if (state_ == State::kHead) ReadClientWhileRoom();
}

void Http1Session::ReadClientWhileRoom() {
  // Reading stays on between requests (turning it off and on costs two epoll_ctl calls per
  // request); only a client that sends far ahead of its responses is made to wait.
  if (evbuffer_get_length(In(client_)) > kHighWater) {
    client_.DisableRead();
  } else if (!client_half_closed_) {
    client_.EnableRead();
  }
}

bool Http1Session::TryReadHead() {
  evbuffer* in = In(client_);
  size_t len = evbuffer_get_length(in);
  if (len == 0) {
    // A TLS handshake record reads as nothing: it must not extend the header timeout either.
    if (head_started_) ArmHeaderDeadline();
    return false;
  }
  if (facts_.listener_gone) {  // nothing left to route by; the client reconnects elsewhere
    Close();
    return false;
  }
  const size_t scan_from = head_scan_;
  size_t head_len = FindHeadEnd(in, &head_scan_);
  const bool ended = head_len > 0;
  bool bare_lf = false;
  if (first_head_) {
    bool wait = false;
    if (WantsHttp2(&wait)) {
      StartHttp2();
      return false;
    }
    // A preface cut short by the client's EOF falls through to the close below.
    if (wait && !client_half_closed_) return false;
  }
  if (!ended && client_half_closed_) {
    // Cut short by the client's EOF: the rest can never come (nginx closes silently too).
    CloseAfterFlush();
    return false;
  }
  if (!ended) {
    // The first bytes of a request start its header timeout; later ones must not extend it.
    if (head_started_) {
      ArmHeaderDeadline();
    } else {
      AwaitHead(/*started=*/true);
    }
    bare_lf = HasBareLf(in, scan_from);
    if (!bare_lf && len <= kHeadLimits.max_request_line) return false;
    // Long enough to break a limit, or malformed: let the parser say how (400, 414 or 431).
    head_len = std::min(len, kHeadLimits.max_head + 1);
  }
  http::ParseResult r = http::ParseRequestHead(std::string_view(Pullup(in, head_len), head_len),
                                               kHeadLimits, &ex().request);
  if (r.status == http::ParseStatus::kError) {
    worker_.CountLimit(facts_, r.http_status == 400 ? Limit::kBadRequest : Limit::kHeadSize);
    SendLocalResponse(r.http_status, r.reason, /*close=*/true);
    return false;
  }
  if (r.status == http::ParseStatus::kIncomplete) {
    if (ended || len > kHeadLimits.max_head) {
      worker_.CountLimit(facts_, Limit::kHeadSize);
      SendLocalResponse(431, "request head too large", /*close=*/true);
    } else if (bare_lf) {  // the parser stops at the first bare LF: not reached, yet never kept
      worker_.CountLimit(facts_, Limit::kBadRequest);
      SendLocalResponse(400, "bare LF as a line end", /*close=*/true);
    }
    return false;
  }
  // The head timeout is left to run (one timer change fewer per request): a read timeout
  // outside kHead is ignored, and AwaitNextRequest sets the next one.
  HandleRequest();
  return true;
}

void Http1Session::AwaitNextRequest() {
  // A client that half-closed with nothing more buffered has sent its last request.
  if (facts_.listener_gone || (client_half_closed_ && evbuffer_get_length(In(client_)) == 0)) {
    CloseAfterFlush();
    return;
  }
  state_ = State::kHead;
  ReadClientWhileRoom();
  bool pipelined = evbuffer_get_length(In(client_)) > 0;
  if (!pipelined) {
    ReturnExchange();
  } else if (ex_ != nullptr) {
    ex_->ResetState();  // the next request starts from the defaults, as on a fresh exchange
  }
  AwaitHead(/*started=*/pipelined);
}

void Http1Session::CloseAfterFlush() {
  if (ex_ != nullptr) ex_->DropUpstream();
  state_ = State::kClosing;
  StopTimer();
  client_.SetReadTimeout(milliseconds(0));  // the linger has its own timer
  client_.SetLowWater(0);
  client_.DisableRead();
  client_.Flush();
  if (client_.unsent() == 0) OnClientWrite(this);
}

void Http1Session::Close() {
  if (state_ == State::kClosed) return;
  if (facts_.tls != nullptr) [[unlikely]]
    facts_.tls->Abandon();  // if still handshaking
  if (ex_ != nullptr) {
    ex_->LogUnfinished();
    ex_->DropUpstream();
    ex_->plugins.wait().Cancel();  // a store's answer has no one to go to
  }
  state_ = State::kClosed;
  StopTimer();
  client_.DisableRead();
  client_.SetCallbacks(nullptr, nullptr, nullptr, nullptr);
  worker_.Retire(this);
}

void Http1Session::MoveListener(std::optional<size_t> index) {
  if (state_ == State::kHttp2) h2_->MoveListener(index);
  if (index) {
    facts_.listener_index = static_cast<uint32_t>(*index);
    return;
  }
  facts_.listener_gone = true;
  OnDrain();
}

void Http1Session::TrimIdle() {
  if (state_ == State::kHttp2) {
    h2_->TrimIdle();
    return;
  }
  // Without an exchange in kHead, it waits for a request with nothing buffered.
  if (state_ != State::kHead || ex_ != nullptr) return;
  timer_.reset();  // not armed in kHead; here, outside its callback, it may go
  client_.ReleaseBuffers();
}

void Http1Session::OnDrain() {
  if (state_ == State::kHttp2) {
    h2_->OnDrain();
    return;
  }
  client_keep_alive_ = false;
  if (state_ == State::kHead && evbuffer_get_length(In(client_)) == 0) Close();
}

}  // namespace outrigger::forward
