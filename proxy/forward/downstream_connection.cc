#include "proxy/forward/downstream_connection.h"

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
#include "proxy/forward/downstream_internal.h"
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

using namespace downstream;  // the helpers of this class's files (downstream_internal.h)

DownstreamConnection::DownstreamConnection(Worker& worker, size_t listener_index,
                                           evutil_socket_t fd, const net::SocketAddress& peer)
    : worker_(worker),
      client_(worker.base(), fd),
      peer_ip_(peer.IpString()),
      attempt_(*this),
      listener_index_(static_cast<uint32_t>(listener_index)) {
  SetNoDelay(fd);
  client_.UseSpares(&worker.buffer_spares());
  client_.SetCallbacks(&DownstreamConnection::OnClientRead, &DownstreamConnection::OnClientWrite,
                       &DownstreamConnection::OnClientEvent, this);
  client_.SetLowWater(kLowWater);
  const ListenerRuntime& runtime = worker_.view()->snapshot->listeners[listener_index_];
  const config::ListenerConfig& listener = *runtime.config;
  // TLS: the session keeps the listener's certificates of this snapshot for its whole life.
  if (runtime.tls) {
    std::unique_ptr<tls::ServerSession> session =
        runtime.tls->NewSession({&DownstreamConnection::OnHandshake, this});
    tls_session_ = session.get();
    client_.SetFilter(std::move(session));
  }
  client_.SetWriteTimeout(listener.timeouts.idle);  // a client that stops reading its response
  AwaitHead(/*started=*/true);                      // the header timeout runs from the accept
  client_.EnableRead();
}

void DownstreamConnection::Flush() {
  if (state_ == State::kClosed) return;
  if (upstream::UpstreamConnection* conn = attempt_.connection()) {
    net::Stream& up = conn->stream();
    up.Flush();  // the request first: its answer takes longest
    // A request body waits for its upstream output to drain (PumpRequestBody), and the
    // Stream reports only drains its loop made: when this flush, or the one a connect makes
    // on completing, sent the output down to the low-water mark, the body resumes here.
    if (state_ == State::kExchange && !client_.reading() && ex_ != nullptr &&
        !ex_->request_body.done() && up.unsent() <= kLowWater) {
      PumpRequestBody();
      if (state_ == State::kClosed) return;
      if (attempt_.connection()) attempt_.connection()->stream().Flush();
    }
  }
  client_.Flush();
  // Waiting for a request with nothing buffered: give the buffers back to the worker's spares
  // now, so that idle keep-alive connections hold no buffer at all and the next request takes
  // one back without an allocation.
  if (state_ == State::kHead && ex_ == nullptr) client_.ReleaseBuffers();
}

DownstreamConnection::~DownstreamConnection() {
  if (ex_ != nullptr) ex_->plugins.wait().Cancel();
  worker_.ReturnExchange(std::move(ex_));
  // attempt_'s destructor frees a pending slot and the backend's active count.
}

Exchange& DownstreamConnection::TakeExchange() {
  ex_ = worker_.TakeExchange();
  return *ex_;
}

void DownstreamConnection::ArmTimer(milliseconds after) {
  if (!timer_) timer_.reset(evtimer_new(worker_.base(), &DownstreamConnection::OnTimer, this));
  timeval tv = net::ToTimeval(after);
  evtimer_add(timer_.get(), &tv);
}

void DownstreamConnection::StopTimer() {
  if (timer_) evtimer_del(timer_.get());
}

void DownstreamConnection::AwaitHead(bool started) {
  const auto& timeouts = worker_.view()->snapshot->listeners[listener_index_].config->timeouts;
  head_started_ = started;
  if (started) {
    head_deadline_ns_ = MonoNanos() + std::chrono::nanoseconds(timeouts.header).count();
    client_.SetReadTimeout(timeouts.header);
  } else {
    client_.SetReadTimeout(timeouts.idle);
  }
}

void DownstreamConnection::ArmHeaderDeadline() {
  auto left = std::chrono::nanoseconds(head_deadline_ns_ - MonoNanos());
  client_.SetReadTimeout(std::max(std::chrono::ceil<milliseconds>(left), milliseconds(1)));
}

// ---- client side -----------------------------------------------------------------------

void DownstreamConnection::OnClientRead(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kHead:
      self->ProcessClientInput();
      break;
    case State::kExchange:
      if (!self->ex().request_body.done()) {
        self->PumpRequestBody();
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
    case State::kClosed:
      break;
  }
}

void DownstreamConnection::OnClientWrite(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kExchange:
      // The client drained what we sent: read more of the response.
      if (self->attempt_.connection() && self->ex().response_started) {
        self->attempt_.connection()->stream().EnableRead();
        self->OnAttemptBody(In(self->attempt_.connection()->stream()));
      }
      break;
    case State::kTunnel:
      if (self->attempt_.connection()) self->attempt_.connection()->stream().EnableRead();
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
    case State::kClosed:
      break;
  }
}

void DownstreamConnection::OnClientEvent(short what, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kClosed) return;
  if (what == (net::Stream::kReading | net::Stream::kTimeout)) {
    if (self->state_ != State::kHead) return;  // a head timeout left running (TryReadHead)
    if (self->head_started_) {
      self->worker_.CountLimit(*self, Limit::kHeaderTimeout);
      self->SendLocalResponse(408, "request head not received in time", /*close=*/true);
    } else {
      self->worker_.CountLimit(*self, Limit::kIdleTimeout);
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
    // The client half-closed after its request (allowed, and some clients do): it still reads,
    // so the response goes out, and the connection closes after it.
    self->client_half_closed_ = true;
    self->client_keep_alive_ = false;
    return;
  }
  if (self->state_ == State::kTunnel && (what & net::Stream::kEof) && self->attempt_.connection()) {
    // The client has sent all it will (it may still read): pass on what it sent last (a
    // WebSocket close frame), then its half-close, and keep relaying what the backend sends
    // until the backend closes too (OnUpstreamEvent) or the tunnel's idle timeout.
    self->PumpTunnel();
    self->client_eof_ = true;
    self->client_half_closed_ = true;  // the close comes as soon as the last bytes are out
    self->client_.DisableRead();
    net::Stream& up = self->attempt_.connection()->stream();
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

void DownstreamConnection::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kHead:  // a pipelined request after a local answer (SendLocalResponse); the
                        // head's timeouts are the client stream's (OnClientEvent)
      self->ProcessClientInput();
      break;
    case State::kTunnel: {
      const auto& pool = *self->pool_->config;
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
    case State::kExchange:
      if (self->attempt_.phase() == UpstreamAttempt::Phase::kPending) self->RecheckPending();
      break;
    case State::kPlugin:
    case State::kClosed:
      break;
  }
}

void DownstreamConnection::ProcessClientInput() {
  // A loop rather than recursion: a pipeline of requests answered locally (404, 503) must
  // not grow the stack.
  while (state_ == State::kHead) {
    if (client_.unsent() > kHighWater) break;  // resumes in OnClientWrite
    if (!TryReadHead()) break;
  }
  if (state_ == State::kHead) ReadClientWhileRoom();
}

void DownstreamConnection::ReadClientWhileRoom() {
  // Reading stays on between requests (turning it off and on costs two epoll_ctl calls per
  // request); only a client that sends far ahead of its responses is made to wait.
  if (evbuffer_get_length(In(client_)) > kHighWater) {
    client_.DisableRead();
  } else if (!client_half_closed_) {
    client_.EnableRead();
  }
}

bool DownstreamConnection::TryReadHead() {
  evbuffer* in = In(client_);
  size_t len = evbuffer_get_length(in);
  if (len == 0) {
    // A TLS handshake record reads as nothing: it must not extend the header timeout either.
    if (head_started_) ArmHeaderDeadline();
    return false;
  }
  if (listener_gone_) {  // nothing left to route by; the client reconnects elsewhere
    Close();
    return false;
  }
  const size_t scan_from = head_scan_;
  size_t head_len = FindHeadEnd(in, &head_scan_);
  const bool ended = head_len > 0;
  bool bare_lf = false;
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
    worker_.CountLimit(*this, r.http_status == 400 ? Limit::kBadRequest : Limit::kHeadSize);
    SendLocalResponse(r.http_status, r.reason, /*close=*/true);
    return false;
  }
  if (r.status == http::ParseStatus::kIncomplete) {
    if (ended || len > kHeadLimits.max_head) {
      worker_.CountLimit(*this, Limit::kHeadSize);
      SendLocalResponse(431, "request head too large", /*close=*/true);
    } else if (bare_lf) {  // the parser stops at the first bare LF: not reached, yet never kept
      worker_.CountLimit(*this, Limit::kBadRequest);
      SendLocalResponse(400, "bare LF as a line end", /*close=*/true);
    }
    return false;
  }
  // The head timeout is left to run (one timer change fewer per request): a read timeout
  // outside kHead is ignored, and AwaitNextRequest sets the next one.
  HandleRequest();
  return true;
}

void DownstreamConnection::SendLocalResponse(int status, std::string_view detail, bool close,
                                             std::string_view extra_headers) {
  EndClientRequest(status);  // before DropUpstream, which would count the client as gone
  DropUpstream();
  CountResponse(status);
  // Before a head is parsed client_keep_alive_ may be stale, but every such answer closes.
  if (worker_.draining() || !client_keep_alive_) close = true;
  if (!ex().log_begun) BeginBareRequestLog();  // no head parsed: an id for the page anyway
  ex().scratch.clear();
  // ex().method is the request's once HandleRequest took it, else the default (GET).
  const http::SetField id = RequestIdField();
  http::WriteErrorResponse(status, detail, close, extra_headers, ex().method == http::Method::kHead,
                           &ex().scratch, id.name, id.value);
  if (ex().chain != nullptr) EditLocalAnswer();
  evbuffer_add(Out(client_), ex().scratch.data(), ex().scratch.size());
  LogLocalAnswer(status);
  AfterLocalAnswer(close);
}

void DownstreamConnection::AfterLocalAnswer(bool close) {
  if (close) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  // Answered from an upstream or timer callback, a pipelined request already buffered has no
  // read event coming: the timer looks at it, from a callback of its own, so that nothing up
  // this stack sees a new exchange begin (within ProcessClientInput, its loop gets there first).
  if (state_ == State::kHead && evbuffer_get_length(In(client_)) > 0) ArmTimer(milliseconds(0));
}

void DownstreamConnection::AwaitNextRequest() {
  if (listener_gone_) {
    CloseAfterFlush();
    return;
  }
  view_.reset();
  request_start_ns_ = 0;
  pool_ = nullptr;
  state_ = State::kHead;
  ReadClientWhileRoom();
  bool pipelined = evbuffer_get_length(In(client_)) > 0;
  if (!pipelined) {
    worker_.ReturnExchange(std::move(ex_));
  } else if (ex_ != nullptr) {
    ex_->ResetState();  // the next request starts from the defaults, as on a fresh exchange
  }
  AwaitHead(/*started=*/pipelined);
}

void DownstreamConnection::CloseAfterFlush() {
  DropUpstream();
  state_ = State::kClosing;
  StopTimer();
  client_.SetReadTimeout(milliseconds(0));  // the linger has its own timer
  client_.SetLowWater(0);
  client_.DisableRead();
  client_.Flush();
  if (client_.unsent() == 0) OnClientWrite(this);
}

void DownstreamConnection::Close() {
  if (state_ == State::kClosed) return;
  if (tls_session_ != nullptr) [[unlikely]]
    tls_session_->Abandon();  // if still handshaking
  LogUnfinished();
  DropUpstream();
  if (ex_ != nullptr) ex_->plugins.wait().Cancel();  // a store's answer has no one to go to
  state_ = State::kClosed;
  StopTimer();
  client_.DisableRead();
  client_.SetCallbacks(nullptr, nullptr, nullptr, nullptr);
  worker_.Retire(this);
}

void DownstreamConnection::MoveListener(std::optional<size_t> index) {
  if (index) {
    listener_index_ = static_cast<uint32_t>(*index);
    return;
  }
  listener_gone_ = true;
  OnDrain();
}

void DownstreamConnection::TrimIdle() {
  // Without an exchange in kHead, it waits for a request with nothing buffered.
  if (state_ != State::kHead || ex_ != nullptr) return;
  timer_.reset();  // not armed in kHead; here, outside its callback, it may go
  client_.ReleaseBuffers();
}

void DownstreamConnection::OnDrain() {
  client_keep_alive_ = false;
  if (state_ == State::kHead && evbuffer_get_length(In(client_)) == 0) Close();
}

}  // namespace outrigger::forward
