// DownstreamConnection, the backend side of a request: picking a backend, the connection
// caps and the wait for a slot, attempts and retries, sending the request and its body,
// reading the response and streaming its body back, and the end of the exchange.
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
#include "proxy/forward/downstream_connection.h"
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

namespace {

// A pooled connection for `method`. One that cannot be resent if the connection turns out
// stale (UpstreamFailed) gets one the backend still holds open; an idempotent one is resent
// instead, and saves the check's syscall.
std::unique_ptr<upstream::UpstreamConnection> AcquirePooled(upstream::ConnectionPool& pool,
                                                            const upstream::Backend* backend,
                                                            http::Method method) {
  return http::IsIdempotent(method) ? pool.Acquire(backend) : pool.AcquireOpen(backend);
}

}  // namespace

upstream::Backend* DownstreamConnection::PickBackend() {
  balance::BalancingPolicy& policy = *view_->policies[ex().pool_index];
  ex().pick.now_ns = MonoNanos();
  // Panic disregards the probes' verdicts only: an open circuit stays out (its breaker would
  // refuse the request), as does a draining backend (snapshot.h).
  ex().pick.ignore = pool_->shared->balancing_panic.load(std::memory_order_relaxed)
                         ? upstream::Backend::kDead | upstream::Backend::kUnready
                         : 0;
  // A half-open backend whose trial is already out sends the request on to another one; as
  // many times as the exclusions remember, so several such backends cannot hide a live one.
  for (size_t tries = 0; tries < balance::PickContext::kMaxExcluded; ++tries) {
    upstream::Backend* b = policy.Pick(ex().pick);
    // An excluded backend comes back only when no other is usable: a retry must go elsewhere.
    if (b == nullptr || balance::Excluded(b, ex().pick)) return nullptr;
    if (b->breaker()->AllowRequest(ex().pick.now_ns)) {
      ex().breaker_admitted = true;
      return b;
    }
    ex().pick.Exclude(b);
  }
  return nullptr;
}

void DownstreamConnection::StartAttempt() {
  ex().retried_stale = false;
  ex().response_scan = 0;
  ex().exchange_start_ns = MonoNanos();
  // max_connections caps the connections in use from every worker: an idle one in any
  // worker's pool takes no slot, and reusing one takes a slot as a new one does.
  if (upstream::TryAcquire(backend_->connections_in_use(), pool_->caps.max_connections)) {
    SendInSlot();
    return;
  }
  // At its connection cap: wait for a connection to free up, if the queue has room.
  if (!upstream::TryAcquire(backend_->pending(), pool_->caps.max_pending)) {
    ShedOverLimit();
    return;
  }
  pending_slot_ = true;
  ex().wait_deadline_ns =
      ex().exchange_start_ns + std::chrono::nanoseconds(pool_->config->timeouts.connect).count();
  client_.DisableRead();  // the body waits in the kernel meanwhile
  ArmTimer(kPendingRecheck);
}

void DownstreamConnection::SendInSlot() {
  // The reservation is freed only once the connection counts itself: the count may run one
  // high for a moment, never low, so the cap holds however workers race.
  std::atomic<int64_t>& in_use = backend_->connections_in_use();
  upstream_ = AcquirePooled(worker_.connection_pool(), backend_, ex().method);
  BeginAttempt();
  if (upstream_) {
    upstream::Release(in_use);
    SendRequest();
    return;
  }
  // Connecting may fail and end the request or retry it elsewhere, releasing the snapshot
  // that holds this backend: the reservation is freed on it, kept alive until then.
  std::shared_ptr<upstream::Backend> backend = backend_->shared_from_this();
  Connect();
  upstream::Release(backend->connections_in_use());
}

void DownstreamConnection::RecheckPending() {
  if (upstream::TryAcquire(backend_->connections_in_use(), pool_->caps.max_connections)) {
    ReleasePendingSlot();
    ex().exchange_start_ns = MonoNanos();
    SendInSlot();
    return;
  }
  if (MonoNanos() >= ex().wait_deadline_ns) {
    ReleasePendingSlot();
    ShedOverLimit();
    return;
  }
  ArmTimer(kPendingRecheck);
}

void DownstreamConnection::ReleasePendingSlot() {
  if (!pending_slot_) return;
  pending_slot_ = false;
  upstream::Release(backend_->pending());
  StopTimer();
}

void DownstreamConnection::ShedOverLimit() {
  spdlog::debug("pool {} backend {}: over its connection caps", pool_->config->name,
                backend_->label());
  shard().OnShed(static_cast<metrics::PoolId>(ex().pool_index), metrics::ShedReason::kOverLimit);
  if (ex().breaker_admitted) {  // nothing was tried: says nothing about the backend's health
    ex().breaker_admitted = false;
    backend_->breaker()->OnAbandoned();
  }
  SendLocalResponse(503, "every backend is at its limits", /*close=*/!ex().request_body.done(),
                    "Retry-After: 1\r\n");
}

bool DownstreamConnection::MayRetry(upstream::Outcome outcome) const {
  if (ex().response_started || state_ != State::kExchange) return false;
  if (ex().retries >= pool_->config->retries.attempts) return false;
  // A read timeout is not retried: the backend may still be working on it, and another
  // wait as long would double the client's.
  if (outcome == upstream::Outcome::kLocalTimeout) return false;
  bool sent = RequestBytesSent();
  return upstream::IsRetryable(ex().method, sent, /*body_fully_buffered=*/!sent || !ex().has_body);
}

bool DownstreamConnection::RequestBytesSent() const {
  if (upstream_ == nullptr) return false;
  uint64_t queued = ex().attempt_queued + (ex().request_body.moved() - ex().attempt_body_start);
  return queued > evbuffer_get_length(Out(upstream_->stream()));
}

bool DownstreamConnection::Retry(int answered) {
  int64_t now = MonoNanos();
  if (!view_->retry_budgets[ex().pool_index].TryRetry(now)) {
    spdlog::debug("pool {}: retry budget spent, not retrying", pool_->config->name);
    return false;
  }
  ex().pick.Exclude(backend_);
  upstream::Backend* next = PickBackend();
  if (next == nullptr) return false;
  EndAttempt(answered);  // a failure without an answer has ended it already
  // Nothing reached the failed backend: what it was sent so far (head and the body read up
  // to now) goes to the next one as is. Otherwise the request has no body and its head is
  // sent again.
  if (upstream_ != nullptr && !RequestBytesSent()) {
    if (!ex().replay) ex().replay.reset(evbuffer_new());
    evbuffer_add_buffer(ex().replay.get(), Out(upstream_->stream()));
  }
  spdlog::debug("pool {}: retrying on {} after {} failed", pool_->config->name, next->label(),
                backend_->label());
  upstream_.reset();
  ex().connecting = false;  // the failed attempt's: the next may run on a pooled connection
  backend_->AddActive(-1);
  backend_ = next;
  backend_->AddActive(1);
  ++ex().retries;
  if constexpr (metrics::kRecording) {  // MetricId is a hash lookup: skip it with the recording
    shard().OnRetry(view_->snapshot->MetricId(backend_));  // once per try, at its backend
  }
  StartAttempt();
  return true;
}

// ---- upstream side ---------------------------------------------------------------------

void DownstreamConnection::Connect() {
  absl::StatusOr<std::unique_ptr<net::Stream>> stream =
      net::Stream::Connect(worker_.base(), backend_->address(), pool_->config->timeouts.connect);
  if (!stream.ok()) {
    spdlog::debug("{} {}: {}", pool_->config->name, backend_->label(), stream.status().ToString());
    UpstreamFailed(502, "upstream connect failed", upstream::Outcome::kLocalConnectFailed);
    return;
  }
  SetNoDelay((*stream)->fd());
  if (pool_->tls) [[unlikely]]
    UseUpstreamTls(**stream);
  upstream_ = std::make_unique<upstream::UpstreamConnection>(*std::move(stream),
                                                             backend_->shared_from_this());
  ex().connecting = true;
  SendRequest();
}

void DownstreamConnection::SendRequest() {
  net::Stream& up = upstream_->stream();
  ex().log.connect_ns = -1;  // a pooled connection; a new one's is noted once connected
  up.SetCallbacks(&DownstreamConnection::OnUpstreamRead, &DownstreamConnection::OnUpstreamWrite,
                  &DownstreamConnection::OnUpstreamEvent, this);
  up.SetLowWater(kLowWater);
  up.SetReadTimeout(pool_->config->timeouts.read);  // from the connect on, if connecting
  up.EnableRead();
  // On a pooled connection the request goes out as this callback returns; on a new one, once
  // connected. The backend's latency (design.md §6) runs from there, without the connect.
  if (!ex().connecting) ex().sent_ns = MetricNanos();
  ex().attempt_body_start = ex().request_body.moved();
  if (ex().replay != nullptr && evbuffer_get_length(ex().replay.get()) > 0) {
    ex().attempt_queued = evbuffer_get_length(ex().replay.get());
    evbuffer_add_buffer(Out(up), ex().replay.get());
  } else {
    ex().attempt_queued = ex().upstream_head.size();
    evbuffer_add(Out(up), ex().upstream_head.data(), ex().upstream_head.size());
  }
  PumpRequestBody();
}

void DownstreamConnection::PumpRequestBody() {
  if (!upstream_ || ex().request_body.done()) return;
  evbuffer* up_out = Out(upstream_->stream());
  const uint64_t moved_before = ex().request_body.moved();
  BodyPump::Result r = ex().request_body.Pump(In(client_), up_out);
  if (ex().request_body.moved() != moved_before) {
    // timeouts.read is the backend's silence once it has the whole request: while the body
    // still flows, each move upstream restarts it, so an upload is limited by its pauses,
    // not by its length.
    upstream_->stream().SetReadTimeout(pool_->config->timeouts.read);
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
    // Bytes after the body are the next pipelined request: they wait until this exchange is
    // over (OnClientRead holds them, within kHighWater).
    ReadClientWhileRoom();
    return;
  }
  // unsent(): with TLS to the backend, output() is encrypted away at each flush, and what
  // the socket has not taken yet waits in the filter.
  if (upstream_->stream().unsent() > kHighWater) {
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
      net::Stream& up = self->upstream_->stream();
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
    self->ReadResponse();
  } else if (self->state_ == State::kTunnel) {
    self->PumpTunnel();
  }
}

void DownstreamConnection::OnUpstreamEvent(short what, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  net::Stream* const stream = self->upstream_ ? &self->upstream_->stream() : nullptr;
  if (what & net::Stream::kConnected) {
    self->ex().connecting = false;
    self->ex().sent_ns = MetricNanos();  // the Stream wrote what was queued as it connected
    self->ex().log.connect_ns = self->ex().sent_ns - self->ex().exchange_start_ns;
    return;
  }
  if (self->state_ == State::kTunnel) {
    if (what & net::Stream::kEof) self->PumpTunnel();
    self->CloseAfterFlush();
    return;
  }
  if (self->state_ != State::kExchange) return;
  if (what & net::Stream::kTimeout) {
    if (self->ex().connecting) {
      // Nothing was sent: as safe to retry as a refused connection.
      self->UpstreamFailed(504, "upstream connect timed out",
                           upstream::Outcome::kLocalConnectFailed);
    } else {
      self->UpstreamFailed(504, "upstream read timed out", upstream::Outcome::kLocalTimeout);
    }
    return;
  }
  if (what & net::Stream::kEof) {
    // Consume what arrived before the close: it may complete the response.
    self->ReadResponse();
    if (self->state_ != State::kExchange || self->upstream_ == nullptr ||
        &self->upstream_->stream() != stream) {
      return;
    }
    if (self->ex().response_started &&
        self->ex().response.body == http::BodyKind::kCloseDelimited) {
      self->ex().upstream_reusable = false;
      if (self->ex().plugins.encoder() != nullptr && !self->EncodeResponseBody(/*last=*/true)) {
        return;
      }
      self->FinishExchange();
      return;
    }
  }
  if (self->ex().connecting) {
    self->UpstreamFailed(502, "upstream connect failed", upstream::Outcome::kLocalConnectFailed);
  } else {
    self->UpstreamFailed(502, "upstream closed the connection", upstream::Outcome::kUpstreamReset);
  }
}

void DownstreamConnection::UpstreamFailed(int status, std::string_view detail,
                                          upstream::Outcome outcome) {
  // Stale: a pooled connection that closed (EOF, reset, write error) before any response
  // byte, as one the backend timed out while idle does. Never a timeout: a backend that
  // holds a request unanswered may be working on it, and must not get it twice. Nor a
  // non-idempotent request whose bytes left us: a backend that crashed on it looks the same
  // as one that had closed while idle (AcquirePooled made that unlikely instead).
  bool stale = outcome == upstream::Outcome::kUpstreamReset && upstream_ &&
               upstream_->requests > 0 && !ex().response_started &&
               evbuffer_get_length(In(upstream_->stream())) == 0 &&
               ex().request_body.moved() == 0 && !ex().retried_stale &&
               upstream::IsRetryable(ex().method, RequestBytesSent(),
                                     /*body_fully_buffered=*/true);
  if (stale) {
    // Resend on a fresh connection. The client never sees this; it is not a retry against
    // the backend's health.
    ex().retried_stale = true;
    upstream_.reset();
    Connect();
    return;
  }
  spdlog::debug("{} {}: {}", pool_ ? pool_->config->name : "", backend_ ? backend_->label() : "",
                detail);
  ReportOutcome(/*failure=*/true);
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

void DownstreamConnection::ReadResponse() {
  while (state_ == State::kExchange && upstream_) {
    if (ex().response_started) {
      PumpResponseBody();
      return;
    }
    if (!TryReadResponseHead()) return;
  }
}

bool DownstreamConnection::TryReadResponseHead() {
  evbuffer* in = In(upstream_->stream());
  size_t len = evbuffer_get_length(in);
  if (len == 0) return false;
  const size_t scan_from = ex().response_scan;
  size_t head_len = FindHeadEnd(in, &ex().response_scan);
  if (head_len == 0) {
    if (len > kHeadLimits.max_head) {
      UpstreamFailed(502, "upstream response head too large",
                     upstream::Outcome::kUpstreamProtocolError);
    } else if (HasBareLf(in, scan_from)) {
      ex().upstream_reusable = false;
      UpstreamFailed(502, "bare LF in upstream response head",
                     upstream::Outcome::kUpstreamProtocolError);
    }
    return false;
  }
  http::ParseResult r = http::ParseResponseHead(std::string_view(Pullup(in, head_len), head_len),
                                                ex().method, kHeadLimits, &ex().response);
  if (r.status != http::ParseStatus::kDone) {
    ex().upstream_reusable = false;
    UpstreamFailed(
        502, r.status == http::ParseStatus::kError ? r.reason : "invalid upstream response head",
        upstream::Outcome::kUpstreamProtocolError);
    return false;
  }
  evbuffer* client_out = Out(client_);
  if (ex().response.status == 101) {
    if (!ex().upgrade_requested) {
      UpstreamFailed(502, "upstream switched protocols unasked",
                     upstream::Outcome::kUpstreamProtocolError);
      return false;
    }
    if (!http::SwitchesToRequested(ex().response.headers, ex().upgrade)) {
      UpstreamFailed(502, "upstream switched to a protocol not asked for",
                     upstream::Outcome::kUpstreamProtocolError);
      return false;
    }
    ex().scratch.clear();
    http::WriteClientResponseHead(ex().response, ex().client_minor, /*client_keep_alive=*/true,
                                  &ex().scratch, RequestIdField());
    NoteResponseHead();
    evbuffer_drain(in, head_len);
    evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
    StartTunnel();
    return false;
  }
  if (ex().response.status < 200) {
    if (++ex().interim > kMaxInterim) {
      ex().upstream_reusable = false;
      UpstreamFailed(502, "too many interim responses", upstream::Outcome::kUpstreamProtocolError);
      return false;
    }
    // Interim (100 Continue, 103 Early Hints): relay to HTTP/1.1 clients, then keep reading.
    if (ex().client_minor >= 1) {
      ex().scratch.clear();
      http::WriteClientResponseHead(ex().response, ex().client_minor, /*client_keep_alive=*/true,
                                    &ex().scratch);
      evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
    }
    evbuffer_drain(in, head_len);
    return true;
  }
  if (ex().client_minor == 0 && ex().response.body == http::BodyKind::kChunked) {
    // The request went up as HTTP/1.0, so a backend must not chunk; an HTTP/1.0 client
    // could not read it.
    ex().upstream_reusable = false;
    UpstreamFailed(502, "upstream sent a chunked response to an HTTP/1.0 request",
                   upstream::Outcome::kUpstreamProtocolError);
    return false;
  }
  if (upstream::OutcomeOfStatus(ex().response.status) == upstream::Outcome::kUpstream5xx &&
      MayRetry(upstream::Outcome::kUpstream5xx)) {
    // The backend cannot serve now (502/503/504): another may. Its answer is dropped with its
    // connection; if no retry can be made, it goes to the client as it is.
    ReportOutcome(/*failure=*/true);
    ex().upstream_reusable = false;
    if (Retry(ex().response.status)) return false;
  }
  // The client connection can stay open only if the request body was read to its end (or
  // will be, as it streams) and the body's end is marked by framing, not by a close.
  ex().upstream_reusable =
      ex().response.keep_alive && ex().response.body != http::BodyKind::kCloseDelimited;
  if (ex().response.body == http::BodyKind::kCloseDelimited || !ex().request_body.done() ||
      worker_.draining()) {
    client_keep_alive_ = false;
  }
  const http::FieldEdits* edits = nullptr;
  bool encode = false;
  if (ex().chain != nullptr) {
    // Chunked framing is what lets an encoded body end without a Content-Length.
    ex().plugins.AllowBodyEncoding(ex().client_minor >= 1 && ex().method != http::Method::kHead);
    ex().chain->OnResponse(ex().plugins, ex().response);
    encode = ex().plugins.encoder() != nullptr;
    if (encode) StartResponseEncoding();
    edits = &ex().plugins.response_edits();
  }
  ex().scratch.clear();
  http::WriteClientResponseHead(ex().response, ex().client_minor, client_keep_alive_, &ex().scratch,
                                RequestIdField(), edits);
  NoteResponseHead();
  evbuffer_drain(in, head_len);
  evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
  ex().response_started = true;
  ex().upstream_head.clear();
  ex().response_body.Start(ex().response.body, ex().response.content_length, /*max_data=*/0,
                           /*decode=*/encode);
  return true;
}

void DownstreamConnection::PumpResponseBody() {
  evbuffer* up_in = In(upstream_->stream());
  evbuffer* client_out = Out(client_);
  const bool encoding = ex().plugins.encoder() != nullptr;
  BodyPump::Result r =
      ex().response_body.Pump(up_in, encoding ? ex().decoded_body.get() : client_out);
  if (r == BodyPump::Result::kError) {
    spdlog::debug("{} {}: invalid response body framing: {}", pool_->config->name,
                  backend_->label(), ex().response_body.error());
    ReportOutcome(/*failure=*/true);
    EndAttempt(0, upstream::Outcome::kUpstreamProtocolError);
    NoteFailure(upstream::Outcome::kUpstreamProtocolError);
    Close();
    return;
  }
  if (encoding && !EncodeResponseBody(/*last=*/r == BodyPump::Result::kDone)) return;
  if (r == BodyPump::Result::kDone) {
    if (evbuffer_get_length(up_in) > 0) ex().upstream_reusable = false;  // stray bytes
    FinishExchange();
    return;
  }
  if (client_.unsent() > kHighWater) {
    upstream_->stream().DisableRead();  // resumes in OnClientWrite
  }
}

void DownstreamConnection::FinishExchange() {
  ReportOutcome(ex().response.status == 502 || ex().response.status == 503 ||
                ex().response.status == 504);
  EndAttempt(ex().response.status);
  EndClientRequest(ex().response.status);
  const int64_t counted_ns = CountResponse(ex().response.status);
  LogExchange(ex().response.status, ex().log.response_head_bytes + ResponseBodyBytesSent(),
              counted_ns);
  upstream::Backend* backend = backend_;
  backend_ = nullptr;
  backend->AddActive(-1);
  int64_t now = MonoNanos();
  balance::ObserveLatency(*backend, now - ex().exchange_start_ns, now);
  if (upstream_) {
    upstream_->requests++;
    if (ex().upstream_reusable && ex().request_body.done() && !worker_.draining() &&
        upstream_->stream().unsent() == 0) {
      static_assert(config::kKeepaliveAuto == upstream::ConnectionPool::kAdaptive);
      worker_.connection_pool().Release(std::move(upstream_), pool_->config->keepalive,
                                        pool_->config->timeouts.idle);
    }
    upstream_.reset();
  }
  if (!client_keep_alive_) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  ProcessClientInput();
}

void DownstreamConnection::ReportOutcome(bool failure) {
  if (!ex().breaker_admitted) return;
  ex().breaker_admitted = false;
  upstream::CircuitBreaker& breaker = *backend_->breaker();
  int64_t now = MonoNanos();
  const upstream::CircuitChange change = failure ? breaker.OnFailure(now) : breaker.OnSuccess(now);
  // The bit follows the word, not `change`: another worker may have moved the word on since.
  if (change != upstream::CircuitChange::kUnchanged) upstream::SyncCircuitFlag(*backend_, now);
  switch (change) {
    case upstream::CircuitChange::kOpened:
      spdlog::warn("pool {} backend {}: circuit opened after consecutive failures",
                   backend_->pool(), backend_->label());
      break;
    case upstream::CircuitChange::kClosed:
      backend_->set_available_since_ns(now);  // recovered: slow_start ramps it back up
      spdlog::info("pool {} backend {}: circuit closed, the trial request succeeded",
                   backend_->pool(), backend_->label());
      break;
    case upstream::CircuitChange::kUnchanged:
      break;
  }
}

void DownstreamConnection::DropUpstream() {
  ReleasePendingSlot();
  upstream_.reset();
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
    if (ex_->breaker_admitted) {  // the client went away: says nothing about the backend
      ex_->breaker_admitted = false;
      backend_->breaker()->OnAbandoned();
    }
  }
  if (backend_ != nullptr) {
    backend_->AddActive(-1);
    backend_ = nullptr;
  }
}

}  // namespace outrigger::forward
