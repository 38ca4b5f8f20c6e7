// DownstreamConnection driving its UpstreamAttempt: the connection caps and the wait for a
// slot, connecting, sending the request and its body, failures, stale connections and
// retries. The response side is downstream_response.cc.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>

#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/downstream_connection.h"
#include "proxy/forward/downstream_internal.h"
#include "proxy/http/request_parser.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {

using namespace downstream;  // the helpers of this class's files (downstream_internal.h)

namespace {

// A pooled connection for `method`. One that cannot be resent if the connection turns out
// stale (OnAttemptFailed) gets one the backend still holds open; an idempotent one is resent
// instead, and saves the check's syscall.
std::unique_ptr<upstream::UpstreamConnection> AcquirePooled(upstream::ConnectionPool& pool,
                                                            const upstream::Backend* backend,
                                                            http::Method method) {
  return http::IsIdempotent(method) ? pool.Acquire(backend) : pool.AcquireOpen(backend);
}

// Whether the client reset its connection (TCP state CLOSE): a client that only half-closed
// (CLOSE_WAIT) may still read its answer. Its socket is not read while a request waits for a
// connection, so nothing else would tell.
bool ClientReset(evutil_socket_t fd) {
  tcp_info info{};
  socklen_t len = sizeof(info);
  return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 && info.tcpi_state == TCP_CLOSE;
}

}  // namespace

UpstreamAttempt::PickResult DownstreamConnection::PickBackend() {
  return UpstreamAttempt::Pick(*view_->policies[ex().pool_index], ex().pick,
                               pool_->shared->balancing_panic.load(std::memory_order_relaxed),
                               pool_->backends);
}

void DownstreamConnection::StartAttempt() {
  switch (attempt_.Admit(pool_->caps, MonoNanos(),
                         std::chrono::nanoseconds(pool_->config->timeouts.connect).count())) {
    case UpstreamAttempt::Admission::kSend:
      SendInSlot();
      return;
    case UpstreamAttempt::Admission::kWait:
      client_.DisableRead();  // the body waits in the kernel meanwhile
      ArmTimer(kPendingRecheck);
      return;
    case UpstreamAttempt::Admission::kShed:
      ShedOverLimit();
      return;
  }
}

void DownstreamConnection::SendInSlot() {
  // The reservation is freed only once the connection counts itself: the count may run one
  // high for a moment, never low, so the cap holds however workers race.
  std::unique_ptr<upstream::UpstreamConnection> pooled =
      AcquirePooled(worker_.connection_pool(), attempt_.backend(), ex().method);
  BeginAttempt();
  if (pooled) {
    attempt_.ReleaseInUseSlot();
    attempt_.SetConnection(std::move(pooled), /*connecting=*/false, ex().replay.get(),
                           MetricNanos());
    SendRequest();
    return;
  }
  // Connecting may fail and end the request or retry it elsewhere, releasing the snapshot
  // that holds this backend: the reservation is freed on it, kept alive until then.
  std::shared_ptr<upstream::Backend> backend = attempt_.backend()->shared_from_this();
  Connect();
  upstream::Release(backend->connections_in_use());
}

void DownstreamConnection::RecheckPending() {
  switch (attempt_.RecheckPending(pool_->caps, MonoNanos())) {
    case UpstreamAttempt::Admission::kSend:
      StopTimer();
      if (ClientReset(client_.fd())) {
        // The client left during the wait: its request must not reach the backend (a POST
        // would be acted on for no one). Close gives the slots and the admission back.
        attempt_.ReleaseInUseSlot();
        Close();
        return;
      }
      SendInSlot();
      return;
    case UpstreamAttempt::Admission::kShed:
      StopTimer();
      ShedOverLimit();
      return;
    case UpstreamAttempt::Admission::kWait:
      ArmTimer(kPendingRecheck);
      return;
  }
}

void DownstreamConnection::ShedOverLimit() {
  spdlog::debug("pool {} backend {}: over its connection caps", pool_->config->name,
                attempt_.backend()->label());
  shard().OnShed(static_cast<metrics::PoolId>(ex().pool_index), metrics::ShedReason::kOverLimit);
  attempt_.Abandon();  // nothing was tried: says nothing about the backend's health
  SendLocalResponse(503, "every backend is at its limits", /*close=*/!ex().request_body.done(),
                    "Retry-After: 1\r\n");
}

bool DownstreamConnection::MayRetry(upstream::Outcome outcome) const {
  if (ex().response_started || state_ != State::kExchange) return false;
  if (ex().retries >= pool_->config->retries.attempts) return false;
  // A read timeout is not retried: the backend may still be working on it, and another
  // wait as long would double the client's.
  if (outcome == upstream::Outcome::kLocalTimeout) return false;
  bool sent = attempt_.RequestBytesSent();
  return upstream::IsRetryable(ex().method, sent, /*body_fully_buffered=*/!sent || !ex().has_body);
}

bool DownstreamConnection::Retry(int answered) {
  int64_t now = MonoNanos();
  if (!view_->retry_budgets[ex().pool_index].TryRetry(now)) {
    spdlog::debug("pool {}: retry budget spent, not retrying", pool_->config->name);
    return false;
  }
  upstream::Backend* failed = attempt_.backend();
  ex().pick.Exclude(failed);
  upstream::Backend* next = PickBackend().backend;
  if (next == nullptr) return false;
  EndAttempt(answered);  // a failure without an answer has ended it already
  // Nothing reached the failed backend: what it was sent so far (head and the body read up
  // to now) goes to the next one as is. Otherwise the request has no body and its head is
  // sent again.
  if (attempt_.connection() != nullptr && !attempt_.RequestBytesSent()) {
    if (!ex().replay) ex().replay.reset(evbuffer_new());
    evbuffer_add_buffer(ex().replay.get(), Out(attempt_.connection()->stream()));
  }
  spdlog::debug("pool {}: retrying on {} after {} failed", pool_->config->name, next->label(),
                failed->label());
  attempt_.End();  // its breaker has its verdict already (ReportOutcome)
  attempt_.Begin(ex(), next);
  ++ex().retries;
  if constexpr (metrics::kRecording) {  // MetricId is a hash lookup: skip it with the recording
    shard().OnRetry(view_->snapshot->MetricId(next));  // once per try, at its backend
  }
  StartAttempt();
  return true;
}

// ---- upstream side ---------------------------------------------------------------------

void DownstreamConnection::Connect() {
  upstream::Backend* backend = attempt_.backend();
  absl::StatusOr<std::unique_ptr<net::Stream>> stream =
      net::Stream::Connect(worker_.base(), backend->address(), pool_->config->timeouts.connect);
  if (!stream.ok()) {
    spdlog::debug("{} {}: {}", pool_->config->name, backend->label(), stream.status().ToString());
    OnAttemptFailed(upstream::Outcome::kLocalConnectFailed, 502, "upstream connect failed");
    return;
  }
  SetNoDelay((*stream)->fd());
  if (pool_->tls) [[unlikely]]
    UseUpstreamTls(**stream);
  attempt_.SetConnection(std::make_unique<upstream::UpstreamConnection>(
                             *std::move(stream), backend->shared_from_this()),
                         /*connecting=*/true, ex().replay.get(), /*now_ns=*/0);
  SendRequest();
}

void DownstreamConnection::SendRequest() {
  // On a pooled connection the request goes out as this callback returns; on a new one, once
  // connected. The backend's latency (design.md §6) runs from there, without the connect
  // (UpstreamAttempt::sent_ns).
  net::Stream& up = attempt_.connection()->stream();
  ex().log.connect_ns = -1;  // a pooled connection; a new one's is noted once connected
  up.SetCallbacks(&DownstreamConnection::OnUpstreamRead, &DownstreamConnection::OnUpstreamWrite,
                  &DownstreamConnection::OnUpstreamEvent, this);
  up.SetLowWater(kLowWater);
  up.SetReadTimeout(pool_->config->timeouts.read);  // from the connect on, if connecting
  up.EnableRead();
  PumpRequestBody();
}

void DownstreamConnection::PumpRequestBody() {
  upstream::UpstreamConnection* const conn = attempt_.connection();
  if (conn == nullptr || ex().request_body.done()) return;
  evbuffer* up_out = Out(conn->stream());
  const uint64_t moved_before = ex().request_body.moved();
  BodyPump::Result r = ex().request_body.Pump(In(client_), up_out);
  if (ex().request_body.moved() != moved_before) {
    // timeouts.read is the backend's silence once it has the whole request: while the body
    // still flows, each move upstream restarts it, so an upload is limited by its pauses,
    // not by its length.
    conn->stream().SetReadTimeout(pool_->config->timeouts.read);
  }
  if (r == BodyPump::Result::kError) {
    bool too_large = ex().request_body.too_large();
    worker_.CountLimit(*this, too_large ? Limit::kMaxBody : Limit::kBadRequest);
    if (ex().response_started) {
      Close();
    } else {
      SendLocalResponse(too_large ? 413 : 400, ex().request_body.error(), /*close=*/true);
    }
    return;
  }
  if (r == BodyPump::Result::kDone) {
    attempt_.OnRequestQueued();
    // Bytes after the body are the next pipelined request: they wait until this exchange is
    // over (OnClientRead holds them, within kHighWater).
    ReadClientWhileRoom();
    return;
  }
  // unsent(): with TLS to the backend, output() is encrypted away at each flush, and what
  // the socket has not taken yet waits in the filter.
  if (conn->stream().unsent() > kHighWater) {
    client_.DisableRead();  // resumes in OnUpstreamWrite
  } else {
    client_.EnableRead();
  }
}

void DownstreamConnection::OnUpstreamWrite(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kExchange) {
    self->PumpRequestBody();
  } else if (self->state_ == State::kTunnel) {
    if (self->client_eof_) {
      net::Stream& up = self->attempt_.connection()->stream();
      if (up.unsent() == 0) shutdown(up.fd(), SHUT_WR);
      return;
    }
    self->client_.EnableRead();
    self->PumpTunnel();
  }
}

void DownstreamConnection::OnUpstreamRead(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kExchange) {
    self->attempt_.OnReadable();
  } else if (self->state_ == State::kTunnel) {
    self->PumpTunnel();
  }
}

void DownstreamConnection::OnUpstreamEvent(short what, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (what & net::Stream::kConnected) {
    self->attempt_.OnConnected(MetricNanos());
    self->ex().log.connect_ns = self->attempt_.sent_ns() - self->attempt_.start_ns();
    return;
  }
  if (self->state_ == State::kTunnel) {
    if (what & net::Stream::kEof) self->PumpTunnel();
    self->CloseAfterFlush();
    return;
  }
  if (self->state_ != State::kExchange) return;
  self->attempt_.OnStreamEvent(what);
}

void DownstreamConnection::OnAttemptFailed(upstream::Outcome outcome, int status,
                                           std::string_view detail) {
  // Stale: a pooled connection that closed (EOF, reset, write error) before any response
  // byte, as one the backend timed out while idle does. A 1xx is a response byte: the backend
  // had the request (and the client has seen the 1xx), so that close is a failure. Never a
  // timeout: a backend that holds a request unanswered may be working on it, and must not get
  // it twice. Nor a non-idempotent request whose bytes left us: a backend that crashed on it
  // looks the same as one that had closed while idle (AcquirePooled made that unlikely
  // instead).
  const upstream::UpstreamConnection* conn = attempt_.connection();
  bool stale = outcome == upstream::Outcome::kUpstreamReset && conn != nullptr &&
               conn->requests > 0 && !ex().response_started && ex().interim == 0 &&
               evbuffer_get_length(In(conn->stream())) == 0 && ex().request_body.moved() == 0 &&
               !attempt_.retried_stale() &&
               upstream::IsRetryable(ex().method, attempt_.RequestBytesSent(),
                                     /*body_fully_buffered=*/true);
  if (stale) {
    // Resend on a fresh connection. The client never sees this; it is not a retry against
    // the backend's health.
    attempt_.set_retried_stale();
    attempt_.DropConnection();
    Connect();
    return;
  }
  spdlog::debug("{} {}: {}", pool_ ? pool_->config->name : "",
                attempt_.backend() ? attempt_.backend()->label() : "", detail);
  attempt_.ReportOutcome(outcome);
  EndAttempt(0, outcome);
  if (ex().response_started) {
    NoteFailure(outcome);
    Close();  // the client already has part of a response: all we can do is cut it
    return;
  }
  if (MayRetry(outcome) && Retry()) return;
  NoteFailure(outcome);
  SendLocalResponse(status, detail, /*close=*/!ex().request_body.done());
}

void DownstreamConnection::DropUpstream() {
  if (attempt_.phase() == UpstreamAttempt::Phase::kPending) StopTimer();
  attempt_.DropConnection();
  if (ex_ != nullptr) {  // else no request is held: nothing was recorded or admitted
    ex_->upstream_head.clear();
    EndAttempt(0);  // still open here: the client went away first
    if (ex_->tunnel_open) {
      ex_->tunnel_open = false;
      shard().OnTunnelClosed(ex_->metric_backend);
    }
    if (ex_->pool_request_open)
      EndClientRequest(ex_->response_started ? ex_->response.status : 499);
    if (ex_->replay != nullptr)
      evbuffer_drain(ex_->replay.get(), evbuffer_get_length(ex_->replay.get()));
  }
  // A breaker admission still owed is abandoned: the client went away, which says nothing
  // about the backend.
  attempt_.End();
}

}  // namespace outrigger::forward
