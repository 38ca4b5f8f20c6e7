// Exchange as its UpstreamAttempt's owner (AttemptCallbacks): what to do with each response
// head (relay a 1xx, open a tunnel on a 101, retry a 5xx), streaming the response body back
// through the session, and the end of the exchange.
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/worker.h"
#include "proxy/http/upgrade.h"
#include "proxy/upstream/outcome.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

bool Exchange::OnAttemptHead(http::ResponseHead& head) {
  // `head` is `response`, parsed by the attempt; its views point into the upstream input.
  if (head.status == 101) {
    if (!upgrade_requested) {
      OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                      "upstream switched protocols unasked");
      return false;
    }
    if (!http::SwitchesToRequested(head.headers, upgrade)) {
      OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                      "upstream switched to a protocol not asked for");
      return false;
    }
    NoteResponseHead(session_->SendResponseHead(*this, head));
    evbuffer_drain(In(attempt_.connection()->stream()), head.head_size);  // the tunnel's bytes
    BeginTunnel();
    return false;  // the connection is the tunnel's now
  }
  if (head.status < 200) {
    if (++interim > kMaxInterim) {
      attempt_.set_reusable(false);
      OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502, "too many interim responses");
      return false;
    }
    // Interim (100 Continue, 103 Early Hints): relayed as the client's codec allows, then
    // the attempt reads on.
    session_->SendResponseHead(*this, head);
    return true;
  }
  if (client_minor == 0 && head.body == http::BodyKind::kChunked) {
    // The request went up as HTTP/1.0, so a backend must not chunk; an HTTP/1.0 client
    // could not read it.
    attempt_.set_reusable(false);
    OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                    "upstream sent a chunked response to an HTTP/1.0 request");
    return false;
  }
  if (upstream::OutcomeOfStatus(head.status) == upstream::Outcome::kUpstream5xx &&
      MayRetry(upstream::Outcome::kUpstream5xx)) {
    // The backend cannot serve now (502/503/504): another may. Its answer is dropped with its
    // connection; if no retry can be made, it goes to the client as it is.
    attempt_.ReportOutcome(upstream::Outcome::kUpstream5xx);
    attempt_.set_reusable(false);
    if (Retry(head.status)) return false;
  }
  attempt_.set_reusable(head.keep_alive && head.body != http::BodyKind::kCloseDelimited);
  bool encode = false;
  if (chain != nullptr) {
    // Chunked framing (HTTP/1.1) is what lets an encoded body end without a Content-Length.
    plugins.AllowBodyEncoding(client_minor >= 1 && method != http::Method::kHead);
    chain->OnResponse(plugins, head);
    encode = plugins.encoder() != nullptr;
    if (encode) StartResponseEncoding();
  }
  NoteResponseHead(session_->SendResponseHead(*this, head));
  response_started = true;
  upstream_head.clear();
  response_body.Start(head.body, head.content_length, /*max_data=*/0,
                      /*decode=*/encode || session_->facts().unframed_bodies);
  return true;  // the attempt drops the head and reads the body (OnAttemptBody)
}

bool Exchange::OnAttemptBody(evbuffer* up_in) {
  // Also called by OnClientDrained: then `up_in` may hold nothing new.
  const bool encoding = plugins.encoder() != nullptr;
  BodyPump::Result r = encoding ? response_body.Pump(up_in, decoded_body.get())
                                : session_->PushResponseBody(*this, up_in);
  if (r == BodyPump::Result::kError) {
    spdlog::debug("{} {}: invalid response body framing: {}", pool->config->name,
                  attempt_.backend()->label(), response_body.error());
    attempt_.ReportOutcome(upstream::Outcome::kUpstreamProtocolError);
    EndAttempt(0, upstream::Outcome::kUpstreamProtocolError);
    NoteFailure(upstream::Outcome::kUpstreamProtocolError);
    session_->ResetClient(*this);
    return false;
  }
  if (encoding && !EncodeResponseBody(/*last=*/r == BodyPump::Result::kDone)) return false;
  if (r == BodyPump::Result::kDone) {
    if (evbuffer_get_length(up_in) > 0) attempt_.set_reusable(false);  // stray bytes
    FinishExchange();
    return false;
  }
  if (session_->ResponseBackedUp(*this) && attempt_.connection() != nullptr) {
    attempt_.connection()->stream().DisableRead();  // resumes in OnClientDrained
  }
  return true;
}

void Exchange::OnAttemptDone(bool connection_reusable) {
  attempt_.set_reusable(connection_reusable);
  if (plugins.encoder() != nullptr && !EncodeResponseBody(/*last=*/true)) return;
  FinishExchange();
}

void Exchange::BeginTunnel() {
  attempt_.ReportOutcome(upstream::Outcome::kSuccess);
  EndAttempt(101);
  EndClientRequest(101);
  CountResponse(101);
  LogExchange(101, log.response_head_bytes);
  shard().OnTunnelOpened(metric_backend);
  tunnel_open = true;
  upstream_head.clear();
  // The tunnel keeps counting as an active request on its backend until it closes
  // (DropUpstream).
  session_->StartTunnel(*this);
}

void Exchange::FinishExchange() {
  LeaveH2(/*complete=*/true);
  attempt_.ReportOutcome(upstream::OutcomeOfStatus(response.status));
  EndAttempt(response.status);
  EndClientRequest(response.status);
  const int64_t counted_ns = CountResponse(response.status);
  LogExchange(response.status, log.response_head_bytes + ResponseBodyBytesSent(), counted_ns);
  upstream::Backend& backend = *attempt_.backend();
  const int64_t start_ns = attempt_.start_ns();
  const bool reusable = attempt_.reusable();
  std::unique_ptr<upstream::UpstreamConnection> conn = attempt_.TakeConnection();
  attempt_.End();  // the backend stays alive: view holds its snapshot
  int64_t now = MonoNanos();
  balance::ObserveLatency(backend, now - start_ns, now);
  if (conn) {
    conn->requests++;
    if (reusable && request_body.done() && !worker_->draining() && conn->stream().unsent() == 0) {
      static_assert(config::kKeepaliveAuto == upstream::ConnectionPool::kAdaptive);
      worker_->connection_pool().Release(std::move(conn), pool->config->keepalive,
                                         pool->config->timeouts.idle);
    }
    conn.reset();
  }
  session_->EndExchange(*this);
}

}  // namespace outrigger::forward
