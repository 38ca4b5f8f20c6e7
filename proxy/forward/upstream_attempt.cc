// UpstreamAttempt: the pick, the caps, the breaker's verdict and the response heads of one
// try at a backend (upstream_attempt.h).
#include "proxy/forward/upstream_attempt.h"

#include "proxy/balance/eligible.h"
#include "proxy/base/log.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/http/response_parser.h"
#include "proxy/upstream/circuit_breaker.h"

namespace outrigger::forward {

using namespace internal;  // kHeadLimits, FindHeadEnd, HasBareLf, In, Out, Pullup

namespace {

// Why no backend of the pool could take a request. The shed path only: one scan of the pool.
metrics::ShedReason ShedReasonOf(std::span<const std::shared_ptr<upstream::Backend>> backends) {
  bool circuit_open = false;
  for (const auto& b : backends) {
    if (b->Available()) return metrics::ShedReason::kOverLimit;
    circuit_open = circuit_open || (b->unavailable() & upstream::Backend::kCircuitOpen) != 0;
  }
  return circuit_open ? metrics::ShedReason::kCircuitOpen : metrics::ShedReason::kNoBackend;
}

}  // namespace

UpstreamAttempt::~UpstreamAttempt() {
  if (phase_ == Phase::kPending) upstream::Release(backend_->pending());
  if (backend_ != nullptr) backend_->AddActive(-1);
}

UpstreamAttempt::PickResult UpstreamAttempt::Pick(
    balance::BalancingPolicy& policy, balance::PickContext& ctx, bool panic,
    std::span<const std::shared_ptr<upstream::Backend>> backends) {
  ctx.now_ns = MonoNanos();
  // Panic disregards the probes' verdicts only: an open circuit stays out (its breaker would
  // refuse the request), as does a draining backend (snapshot.h).
  ctx.ignore = panic ? upstream::Backend::kDead | upstream::Backend::kUnready : 0;
  // A half-open backend whose trial is already out sends the request on to another one; as
  // many times as the exclusions remember, so several such backends cannot hide a live one.
  for (size_t tries = 0; tries < balance::PickContext::kMaxExcluded; ++tries) {
    upstream::Backend* b = policy.Pick(ctx);
    // An excluded backend comes back only when no other is usable: a retry must go elsewhere.
    if (b == nullptr || balance::Excluded(b, ctx)) break;
    if (b->breaker()->AllowRequest(ctx.now_ns)) return {b, metrics::ShedReason::kNoBackend};
    ctx.Exclude(b);
  }
  return {nullptr, ShedReasonOf(backends)};
}

void UpstreamAttempt::Begin(Exchange& ex, upstream::Backend* backend) {
  ex_ = &ex;
  backend_ = backend;
  backend_->AddActive(1);
  breaker_admitted_ = true;
  queued_ = 0;
  body_start_ = 0;
  head_scan_ = 0;
  start_ns_ = 0;
  sent_ns_ = 0;
  deadline_ns_ = 0;
  phase_ = Phase::kIdle;
  reusable_ = false;
  retried_stale_ = false;
}

void UpstreamAttempt::End() {
  conn_.reset();
  if (phase_ == Phase::kPending) upstream::Release(backend_->pending());
  phase_ = Phase::kIdle;
  Abandon();
  if (backend_ != nullptr) {
    backend_->AddActive(-1);
    backend_ = nullptr;
  }
  ex_ = nullptr;
}

UpstreamAttempt::Admission UpstreamAttempt::Admit(const upstream::BackendCaps& caps, int64_t now_ns,
                                                  int64_t wait_ns) {
  start_ns_ = now_ns;
  // Its own request is counted already (Begin): the others' are what max_requests bounds.
  const upstream::BackendLoad load{backend_->connections_in_use(), backend_->pending(),
                                   backend_->active_requests() - 1};
  switch (upstream::CheckCaps(load, caps)) {
    case upstream::CapVerdict::kSend:
      // max_connections caps the connections in use from every worker: an idle one in any
      // worker's pool takes no slot, and reusing one takes a slot as a new one does. The
      // reading above may be stale by now; the slot itself is taken exactly.
      if (upstream::TryAcquire(backend_->connections_in_use(), caps.max_connections)) {
        return Admission::kSend;
      }
      [[fallthrough]];  // another worker took the last slot meanwhile: wait as at the cap
    case upstream::CapVerdict::kWait:
      if (!upstream::TryAcquire(backend_->pending(), caps.max_pending)) return Admission::kShed;
      phase_ = Phase::kPending;
      deadline_ns_ = now_ns + wait_ns;
      return Admission::kWait;
    case upstream::CapVerdict::kOverLimit:
      return Admission::kShed;
  }
  return Admission::kShed;
}

UpstreamAttempt::Admission UpstreamAttempt::RecheckPending(const upstream::BackendCaps& caps,
                                                           int64_t now_ns) {
  if (upstream::TryAcquire(backend_->connections_in_use(), caps.max_connections)) {
    upstream::Release(backend_->pending());
    phase_ = Phase::kIdle;
    start_ns_ = now_ns;
    return Admission::kSend;
  }
  if (now_ns >= deadline_ns_) {
    upstream::Release(backend_->pending());
    phase_ = Phase::kIdle;
    return Admission::kShed;
  }
  return Admission::kWait;
}

UpstreamAttempt::Admission UpstreamAttempt::AdmitStream(const upstream::BackendCaps& caps,
                                                        int64_t now_ns) {
  if (phase_ == Phase::kPending) {
    upstream::Release(backend_->pending());
    phase_ = Phase::kIdle;
  }
  start_ns_ = now_ns;
  // Its own request is counted already (Begin), as in Admit.
  if (backend_->active_requests() - 1 >= caps.max_requests) return Admission::kShed;
  return Admission::kSend;
}

void UpstreamAttempt::SetConnection(std::unique_ptr<upstream::UpstreamConnection> conn,
                                    bool connecting, evbuffer* replay, int64_t now_ns) {
  conn_ = std::move(conn);
  if (connecting) {
    phase_ = Phase::kConnecting;
  } else {
    phase_ = ex_->request_body.done() ? Phase::kAwaitingHead : Phase::kSending;
    sent_ns_ = now_ns;  // goes out as the owner's callback returns
  }
  evbuffer* out = Out(conn_->stream());
  body_start_ = ex_->request_body.moved();
  if (replay != nullptr && evbuffer_get_length(replay) > 0) {
    queued_ = evbuffer_get_length(replay);
    evbuffer_add_buffer(out, replay);
  } else {
    queued_ = ex_->upstream_head.size();
    evbuffer_add(out, ex_->upstream_head.data(), ex_->upstream_head.size());
  }
}

void UpstreamAttempt::OnConnected(int64_t now_ns) {
  if (phase_ != Phase::kConnecting) return;  // a tunnel's, or an attempt that moved on
  phase_ = ex_->request_body.done() ? Phase::kAwaitingHead : Phase::kSending;
  sent_ns_ = now_ns;  // the Stream wrote what was queued as it connected
}

void UpstreamAttempt::OnRequestQueued() {
  if (phase_ == Phase::kSending) phase_ = Phase::kAwaitingHead;
}

bool UpstreamAttempt::RequestBytesSent() const {
  if (conn_ == nullptr) return false;
  const uint64_t queued = queued_ + (ex_->request_body.moved() - body_start_);
  return queued > evbuffer_get_length(Out(conn_->stream()));
}

bool UpstreamAttempt::OnReadable() {
  while (conn_ != nullptr) {
    evbuffer* in = In(conn_->stream());
    if (phase_ == Phase::kBody) return owner_.OnAttemptBody(in);
    size_t head_len = 0;
    switch (ReadHead(in, &head_len)) {
      case HeadRead::kMore:
        return true;
      case HeadRead::kFailed:
        return false;
      case HeadRead::kHead:
        break;
    }
    const bool final = ex_->response.status >= 200;
    if (!owner_.OnAttemptHead(ex_->response)) return false;
    evbuffer_drain(in, head_len);
    if (final) phase_ = Phase::kBody;
  }
  return true;
}

UpstreamAttempt::HeadRead UpstreamAttempt::ReadHead(evbuffer* in, size_t* head_len) {
  const size_t len = evbuffer_get_length(in);
  if (len == 0) return HeadRead::kMore;
  const size_t scan_from = head_scan_;
  *head_len = FindHeadEnd(in, &head_scan_);
  if (*head_len == 0) {
    if (len > kHeadLimits.max_head) {
      Fail(upstream::Outcome::kUpstreamProtocolError, 502, "upstream response head too large");
      return HeadRead::kFailed;
    }
    if (HasBareLf(in, scan_from)) {
      reusable_ = false;
      Fail(upstream::Outcome::kUpstreamProtocolError, 502, "bare LF in upstream response head");
      return HeadRead::kFailed;
    }
    return HeadRead::kMore;
  }
  http::ParseResult r = http::ParseResponseHead(std::string_view(Pullup(in, *head_len), *head_len),
                                                ex_->method, kHeadLimits, &ex_->response);
  if (r.status != http::ParseStatus::kDone) {
    reusable_ = false;
    Fail(upstream::Outcome::kUpstreamProtocolError, 502,
         r.status == http::ParseStatus::kError ? r.reason : "invalid upstream response head");
    return HeadRead::kFailed;
  }
  return HeadRead::kHead;
}

bool UpstreamAttempt::OnStreamEvent(short what) {
  if (what & net::Stream::kTimeout) {
    if (phase_ == Phase::kConnecting) {
      // Nothing was sent: as safe to retry as a refused connection.
      Fail(upstream::Outcome::kLocalConnectFailed, 504, "upstream connect timed out");
    } else if (ex_->WaitingOnClient()) {
      Fail(upstream::Outcome::kDownstreamReset, 408, kClientStalled);
    } else {
      Fail(upstream::Outcome::kLocalTimeout, 504, "upstream read timed out");
    }
    return false;
  }
  if (what & net::Stream::kEof) {
    // Consume what arrived before the close: it may complete the response.
    if (!OnReadable()) return false;
    if (phase_ == Phase::kBody && ex_->response.body == http::BodyKind::kCloseDelimited) {
      reusable_ = false;
      owner_.OnAttemptDone(/*connection_reusable=*/false);
      return false;
    }
  }
  if (phase_ == Phase::kConnecting) {
    Fail(upstream::Outcome::kLocalConnectFailed, 502, "upstream connect failed");
  } else {
    Fail(upstream::Outcome::kUpstreamReset, 502, "upstream closed the connection");
  }
  return false;
}

void UpstreamAttempt::Fail(upstream::Outcome outcome, int status, std::string_view why) {
  owner_.OnAttemptFailed(outcome, status, why);
}

void UpstreamAttempt::ReportOutcome(upstream::Outcome outcome) {
  if (outcome == upstream::Outcome::kDownstreamReset) {
    Abandon();
    return;
  }
  if (!breaker_admitted_) return;
  breaker_admitted_ = false;
  upstream::CircuitBreaker& breaker = *backend_->breaker();
  const int64_t now = MonoNanos();
  const upstream::CircuitChange change =
      upstream::CountsAsFailure(outcome) ? breaker.OnFailure(now) : breaker.OnSuccess(now);
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

void UpstreamAttempt::Abandon() {
  if (!breaker_admitted_) return;
  breaker_admitted_ = false;
  backend_->breaker()->OnAbandoned();
}

}  // namespace outrigger::forward
