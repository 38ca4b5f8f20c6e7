// Exchange driving its UpstreamAttempt: the connection caps and the wait for a slot,
// connecting, sending the request and its body, failures, stale connections and retries.
// The response side is exchange_response.cc.
#include <chrono>

#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/worker.h"
#include "proxy/http/request_parser.h"
#include "proxy/tls/client_session.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

namespace {

// A pooled connection for `method`. One that cannot be resent if the connection turns out
// stale (OnAttemptFailed) gets one the backend still holds open; an idempotent one is resent
// instead, and saves the check's syscall.
std::unique_ptr<upstream::UpstreamConnection> AcquirePooled(upstream::ConnectionPool& pool,
                                                            const upstream::Backend* backend,
                                                            http::Method method) {
  return http::IsIdempotent(method) ? pool.Acquire(backend) : pool.AcquireOpen(backend);
}

}  // namespace

UpstreamAttempt::PickResult Exchange::PickBackend() {
  return UpstreamAttempt::Pick(*view->policies[pool_index], pick,
                               pool->shared->balancing_panic.load(std::memory_order_relaxed),
                               pool->backends);
}

void Exchange::StartAttempt() {
  if (SendOnH2Stream()) return;
  const int64_t now = MonoNanos();
  // A wait for a slot lasts the connect timeout, and no longer than the call's grpc-timeout.
  int64_t wait = std::chrono::nanoseconds(pool->config->timeouts.connect).count();
  if (grpc_deadline_ns != 0) wait = std::min(wait, std::max<int64_t>(grpc_deadline_ns - now, 0));
  switch (attempt_.Admit(pool->caps, now, wait)) {
    case UpstreamAttempt::Admission::kSend:
      SendInSlot();
      return;
    case UpstreamAttempt::Admission::kWait:
      session_->PauseRequestBody(*this);  // the body waits in the kernel meanwhile
      ArmTimer(kPendingRecheck);
      return;
    case UpstreamAttempt::Admission::kShed:
      ShedOverLimit();
      return;
  }
}

void Exchange::SendInSlot() {
  if (OnH2Pool()) {
    BeginAttempt();
    SendOnH2(nullptr);
    return;
  }
  // The reservation is freed only once the connection counts itself: the count may run one
  // high for a moment, never low, so the cap holds however workers race.
  std::unique_ptr<upstream::UpstreamConnection> pooled =
      AcquirePooled(worker_->connection_pool(), attempt_.backend(), method);
  BeginAttempt();
  if (pooled) {
    attempt_.ReleaseInUseSlot();
    // A reused connection may turn out stale: keep what an idempotent request's body sends on
    // it, so that the request can go again whole (OnAttemptFailed).
    if (has_body && http::IsIdempotent(method) && request_body.moved() == 0 &&
        !attempt_.retried_stale()) {
      if (!resend) resend.reset(evbuffer_new());
    } else {
      resend.reset();
    }
    attempt_.SetConnection(std::move(pooled), /*connecting=*/false, replay.get(), MetricNanos());
    SendRequest();
    return;
  }
  // Connecting may fail and end the request or retry it elsewhere, releasing the snapshot
  // that holds this backend: the reservation is freed on it, kept alive until then.
  std::shared_ptr<upstream::Backend> backend = attempt_.backend()->shared_from_this();
  Connect();
  upstream::Release(backend->connections_in_use());
}

bool Exchange::SendOnH2Stream() {
  if (!OnH2Pool()) return false;
  upstream::H2Connection* conn = worker_->h2_pool().Find(attempt_.backend());
  if (conn == nullptr) return false;
  const bool waited = attempt_.phase() == UpstreamAttempt::Phase::kPending;
  if (attempt_.AdmitStream(pool->caps, MonoNanos()) == UpstreamAttempt::Admission::kShed) {
    if (waited) StopTimer();
    ShedOverLimit();
    return true;
  }
  if (waited) {
    StopTimer();
    if (session_->ClientGone(*this)) {  // as in RecheckPending; no slot to give back
      session_->ResetClient(*this);
      return true;
    }
  }
  BeginAttempt();
  SendOnH2(conn);
  return true;
}

void Exchange::RecheckPending() {
  if (SendOnH2Stream()) return;
  switch (attempt_.RecheckPending(pool->caps, MonoNanos())) {
    case UpstreamAttempt::Admission::kSend:
      StopTimer();
      if (session_->ClientGone(*this)) {
        // The client left during the wait: its request must not reach the backend (a POST
        // would be acted on for no one). The reset gives the slots and the admission back.
        attempt_.ReleaseInUseSlot();
        session_->ResetClient(*this);
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

void Exchange::ShedOverLimit() {
  spdlog::debug("pool {} backend {}: over its connection caps", pool->config->name,
                attempt_.backend()->label());
  shard().OnShed(static_cast<metrics::PoolId>(pool_index), metrics::ShedReason::kOverLimit);
  attempt_.Abandon();  // nothing was tried: says nothing about the backend's health
  if (grpc_deadline_ns != 0 && MonoNanos() >= grpc_deadline_ns) {
    // The call's deadline ended its wait for a slot: DEADLINE_EXCEEDED, not UNAVAILABLE.
    Reply(504, kGrpcDeadlinePassed, /*close=*/!request_body.done());
    return;
  }
  Reply(503, "every backend is at its limits", /*close=*/!request_body.done(),
        "Retry-After: 1\r\n");
}

bool Exchange::MayRetry(upstream::Outcome outcome) const {
  if (response_started) return false;
  if (retries >= pool->config->retries.attempts) return false;
  // A read timeout is not retried: the backend may still be working on it, and another
  // wait as long would double the client's.
  if (outcome == upstream::Outcome::kLocalTimeout) return false;
  if (outcome == upstream::Outcome::kDownstreamReset) return false;  // the client's failure
  // An h2 stream's close says whether the backend had the request (RFC 9113 §8.7).
  bool sent = OnH2Pool() ? !h2_retryable_ : attempt_.RequestBytesSent();
  return upstream::IsRetryable(method, sent, /*body_fully_buffered=*/!sent || !has_body);
}

bool Exchange::WaitingOnClient() const {
  if (h2_conn_ != nullptr) {  // its stream ends only with the client's (trailers may come)
    return (!request_body.done() || request_end_pending) &&
           evbuffer_get_length(h2_body_.get()) == 0;  // all the client sent is given to it
  }
  const upstream::UpstreamConnection* conn = attempt_.connection();
  return !request_body.done() && conn != nullptr && conn->stream().unsent() == 0;
}

bool Exchange::Retry(int answered) {
  int64_t now = MonoNanos();
  if (!view->retry_budgets[pool_index].TryRetry(now)) {
    spdlog::debug("pool {}: retry budget spent, not retrying", pool->config->name);
    return false;
  }
  upstream::Backend* failed = attempt_.backend();
  pick.Exclude(failed);
  upstream::Backend* next = PickBackend().backend;
  if (next == nullptr) return false;
  EndAttempt(answered);  // a failure without an answer has ended it already
  // Nothing reached the failed backend: what it was sent so far (head and the body read up
  // to now) goes to the next one as is. Otherwise the request has no body and its head is
  // sent again.
  if (attempt_.connection() != nullptr && !attempt_.RequestBytesSent()) {
    if (!replay) replay.reset(evbuffer_new());
    evbuffer_add_buffer(replay.get(), Out(attempt_.connection()->stream()));
  }
  spdlog::debug("pool {}: retrying on {} after {} failed", pool->config->name, next->label(),
                failed->label());
  attempt_.End();  // its breaker has its verdict already (ReportOutcome)
  LeaveH2(/*complete=*/false, /*keep_body=*/true);
  attempt_.Begin(*this, next);
  ++retries;
  if constexpr (metrics::kRecording) {  // MetricId is a hash lookup: skip it with the recording
    shard().OnRetry(view->snapshot->MetricId(next));  // once per try, at its backend
  }
  StartAttempt();
  return true;
}

// ---- upstream side ---------------------------------------------------------------------

void Exchange::Connect() {
  upstream::Backend* backend = attempt_.backend();
  absl::StatusOr<std::unique_ptr<net::Stream>> stream =
      net::Stream::Connect(worker_->base(), backend->address(), pool->config->timeouts.connect);
  if (!stream.ok()) {
    spdlog::debug("{} {}: {}", pool->config->name, backend->label(), stream.status().ToString());
    OnAttemptFailed(upstream::Outcome::kLocalConnectFailed, 502, "upstream connect failed");
    return;
  }
  SetNoDelay((*stream)->fd());
  if (pool->tls) [[unlikely]]
    UseUpstreamTls(**stream);
  attempt_.SetConnection(std::make_unique<upstream::UpstreamConnection>(
                             *std::move(stream), backend->shared_from_this()),
                         /*connecting=*/true, replay.get(), /*now_ns=*/0);
  SendRequest();
}

void Exchange::SendRequest() {
  // On a pooled connection the request goes out as this callback returns; on a new one, once
  // connected. The backend's latency (design.md §6) runs from there, without the connect
  // (UpstreamAttempt::sent_ns).
  net::Stream& up = attempt_.connection()->stream();
  log.connect_ns = -1;  // a pooled connection; a new one's is noted once connected
  up.SetCallbacks(&Exchange::OnUpstreamRead, &Exchange::OnUpstreamWrite, &Exchange::OnUpstreamEvent,
                  this);
  up.SetLowWater(kLowWater);
  up.SetReadTimeout(pool->config->timeouts.read);  // from the connect on, if connecting
  up.EnableRead();
  PumpRequestBody();
}

void Exchange::FailRequestBody() {
  const bool too_large = request_body.too_large();
  worker_->CountLimit(session_->facts(), too_large ? Limit::kMaxBody : Limit::kBadRequest);
  if (response_started) {
    session_->ResetClient(*this);
  } else {
    Reply(too_large ? 413 : 400, request_body.error(), /*close=*/true);
  }
}

void Exchange::PumpRequestBody() {
  if (h2_conn_ != nullptr) {
    PumpH2RequestBody();
    return;
  }
  upstream::UpstreamConnection* const conn = attempt_.connection();
  if (conn == nullptr || request_body.done()) return;
  evbuffer* up_out = Out(conn->stream());
  const uint64_t moved_before = request_body.moved();
  const size_t out_before = evbuffer_get_length(up_out);
  BodyPump::Result r = session_->PullRequestBody(*this, up_out);
  if (request_body.moved() != moved_before) {
    if (resend) KeepForResend(up_out, out_before);
    // timeouts.read is the backend's silence once it has the whole request: while the body
    // still flows, each move upstream restarts it, so an upload is limited by its pauses,
    // not by its length.
    conn->stream().SetReadTimeout(pool->config->timeouts.read);
  }
  if (r == BodyPump::Result::kError) {
    FailRequestBody();
    return;
  }
  if (r == BodyPump::Result::kDone) {
    attempt_.OnRequestQueued();
    return;
  }
  // unsent(): with TLS to the backend, output() is encrypted away at each flush, and what
  // the socket has not taken yet waits in the filter.
  if (conn->stream().unsent() > kHighWater) {
    session_->PauseRequestBody(*this);  // resumes in OnUpstreamWrite
  } else {
    session_->ResumeRequestBody(*this);
  }
}

// The upstream stream's callbacks, until a tunnel takes them (ClientSession::StartTunnel).
void Exchange::OnUpstreamWrite(void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  FlushOnReturn flush(self);
  self->PumpRequestBody();
}

void Exchange::OnUpstreamRead(void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  FlushOnReturn flush(self);
  self->attempt_.OnReadable();
}

void Exchange::OnUpstreamEvent(short what, void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  FlushOnReturn flush(self);
  if (what & net::Stream::kConnected) {
    self->attempt_.OnConnected(MetricNanos());
    self->log.connect_ns = self->attempt_.sent_ns() - self->attempt_.start_ns();
    return;
  }
  self->attempt_.OnStreamEvent(what);
}

void Exchange::OnAttemptFailed(upstream::Outcome outcome, int status, std::string_view detail) {
  // Stale: a pooled connection that closed (EOF, reset, write error) before any response
  // byte, as one the backend timed out while idle does. A 1xx is a response byte: the backend
  // had the request (and the client has seen the 1xx), so that close is a failure. Never a
  // timeout: a backend that holds a request unanswered may be working on it, and must not get
  // it twice. Nor a non-idempotent request whose bytes left us: a backend that crashed on it
  // looks the same as one that had closed while idle (AcquirePooled made that unlikely
  // instead).
  const upstream::UpstreamConnection* conn = attempt_.connection();
  bool stale = outcome == upstream::Outcome::kUpstreamReset && conn != nullptr &&
               conn->requests > 0 && !response_started && interim == 0 &&
               evbuffer_get_length(In(conn->stream())) == 0 &&
               (request_body.moved() == 0 || resend != nullptr) && !attempt_.retried_stale() &&
               upstream::IsRetryable(method, attempt_.RequestBytesSent(),
                                     /*body_fully_buffered=*/true);
  if (stale) {
    // Resend on a fresh connection. The client never sees this; it is not a retry against
    // the backend's health.
    attempt_.set_retried_stale();
    if (request_body.moved() > 0) {  // the head, then every body byte sent so far
      if (!replay) replay.reset(evbuffer_new());
      evbuffer_drain(replay.get(), evbuffer_get_length(replay.get()));
      evbuffer_add(replay.get(), upstream_head.data(), upstream_head.size());
      evbuffer_add_buffer(replay.get(), resend.get());
    }
    resend.reset();
    // The stale connection's slot under max_connections passes to the fresh one: reserved
    // across the swap, else a waiter on another worker takes it between the close and the
    // connect, and the backend gets one connection more than its cap. Freed once the fresh
    // one counts itself (as in SendInSlot); the backend is kept alive for it, since a failed
    // connect may retry elsewhere and release the snapshot holding it.
    std::shared_ptr<upstream::Backend> backend = attempt_.backend()->shared_from_this();
    backend->AddConnectionsInUse(1);
    attempt_.DropConnection();
    Connect();
    upstream::Release(backend->connections_in_use());
    return;
  }
  spdlog::debug("{} {}: {}", pool ? pool->config->name : "",
                attempt_.backend() ? attempt_.backend()->label() : "", detail);
  attempt_.ReportOutcome(outcome);
  EndAttempt(0, outcome);
  if (response_started) {
    NoteFailure(outcome);
    session_->ResetClient(*this);  // the client has part of a response: all we can do is cut it
    return;
  }
  if (MayRetry(outcome) && Retry()) return;
  NoteFailure(outcome);
  Reply(status, detail, /*close=*/!request_body.done());
}

void Exchange::KeepForResend(evbuffer* up_out, size_t from) {
  const size_t n = evbuffer_get_length(up_out) - from;
  if (evbuffer_get_length(resend.get()) + n > kResendLimit) {
    resend.reset();  // too large to hold: a stale connection ends it as a failure
    return;
  }
  evbuffer_ptr pos;
  evbuffer_ptr_set(up_out, &pos, from, EVBUFFER_PTR_SET);
  evbuffer_iovec vec;
  if (evbuffer_reserve_space(resend.get(), static_cast<ev_ssize_t>(n), &vec, 1) != 1 ||
      evbuffer_copyout_from(up_out, &pos, vec.iov_base, n) != static_cast<ev_ssize_t>(n)) {
    resend.reset();
    return;
  }
  vec.iov_len = n;
  evbuffer_commit_space(resend.get(), &vec, 1);
}

void Exchange::UseUpstreamTls(net::Stream& stream) {
  const std::string_view name = pool->TlsName(attempt_.backend());
  // One slot per worker, pool, backend and name: a session resumes only where it was made.
  std::string key = pool->config->name;
  key += '|';
  key += attempt_.backend()->address().ToString();
  key += '|';
  key += name;
  stream.SetFilter(
      pool->tls->NewSession(name, worker_->tls_sessions().Slot(key), &attempt_.backend()->label()));
}

}  // namespace outrigger::forward
