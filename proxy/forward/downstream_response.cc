// DownstreamConnection as its UpstreamAttempt's owner (AttemptCallbacks): what to do with
// each response head (relay a 1xx, open a tunnel on a 101, retry a 5xx, choose keep-alive),
// streaming the response body back, and the end of the exchange.
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/downstream_connection.h"
#include "proxy/forward/downstream_internal.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/upgrade.h"
#include "proxy/upstream/outcome.h"

namespace outrigger::forward {

using namespace downstream;  // the helpers of this class's files (downstream_internal.h)

bool DownstreamConnection::OnAttemptHead(http::ResponseHead& head) {
  // `head` is ex().response, parsed by the attempt; its views point into the upstream input.
  net::Stream& up = attempt_.connection()->stream();
  evbuffer* client_out = Out(client_);
  if (head.status == 101) {
    if (!ex().upgrade_requested) {
      OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                      "upstream switched protocols unasked");
      return false;
    }
    if (!http::SwitchesToRequested(head.headers, ex().upgrade)) {
      OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                      "upstream switched to a protocol not asked for");
      return false;
    }
    ex().scratch.clear();
    http::WriteClientResponseHead(ex().response, ex().client_minor, /*client_keep_alive=*/true,
                                  &ex().scratch, RequestIdField());
    NoteResponseHead();
    evbuffer_drain(In(up), head.head_size);  // the tunnel's bytes follow it
    evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
    StartTunnel();
    return false;  // the connection is the tunnel's now
  }
  if (ex().response.status < 200) {
    if (++ex().interim > kMaxInterim) {
      attempt_.set_reusable(false);
      OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502, "too many interim responses");
      return false;
    }
    // Interim (100 Continue, 103 Early Hints): relay to HTTP/1.1 clients, then keep reading.
    if (ex().client_minor >= 1) {
      ex().scratch.clear();
      http::WriteClientResponseHead(ex().response, ex().client_minor, /*client_keep_alive=*/true,
                                    &ex().scratch);
      evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
    }
    return true;  // the attempt drops the head and reads on
  }
  if (ex().client_minor == 0 && ex().response.body == http::BodyKind::kChunked) {
    // The request went up as HTTP/1.0, so a backend must not chunk; an HTTP/1.0 client
    // could not read it.
    attempt_.set_reusable(false);
    OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                    "upstream sent a chunked response to an HTTP/1.0 request");
    return false;
  }
  if (upstream::OutcomeOfStatus(ex().response.status) == upstream::Outcome::kUpstream5xx &&
      MayRetry(upstream::Outcome::kUpstream5xx)) {
    // The backend cannot serve now (502/503/504): another may. Its answer is dropped with its
    // connection; if no retry can be made, it goes to the client as it is.
    attempt_.ReportOutcome(upstream::Outcome::kUpstream5xx);
    attempt_.set_reusable(false);
    if (Retry(ex().response.status)) return false;
  }
  // The client connection can stay open only if the request body was read to its end (or
  // will be, as it streams) and the body's end is marked by framing, not by a close.
  attempt_.set_reusable(ex().response.keep_alive &&
                        ex().response.body != http::BodyKind::kCloseDelimited);
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
  evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
  ex().response_started = true;
  ex().upstream_head.clear();
  ex().response_body.Start(ex().response.body, ex().response.content_length, /*max_data=*/0,
                           /*decode=*/encode);
  return true;  // the attempt drops the head and reads the body (OnAttemptBody)
}

bool DownstreamConnection::OnAttemptBody(evbuffer* up_in) {
  // Also called by OnClientWrite once the client drained: then `up_in` may hold nothing new.
  evbuffer* client_out = Out(client_);
  const bool encoding = ex().plugins.encoder() != nullptr;
  BodyPump::Result r =
      ex().response_body.Pump(up_in, encoding ? ex().decoded_body.get() : client_out);
  if (r == BodyPump::Result::kError) {
    spdlog::debug("{} {}: invalid response body framing: {}", pool_->config->name,
                  attempt_.backend()->label(), ex().response_body.error());
    attempt_.ReportOutcome(upstream::Outcome::kUpstreamProtocolError);
    EndAttempt(0, upstream::Outcome::kUpstreamProtocolError);
    NoteFailure(upstream::Outcome::kUpstreamProtocolError);
    Close();
    return false;
  }
  if (encoding && !EncodeResponseBody(/*last=*/r == BodyPump::Result::kDone)) return false;
  if (r == BodyPump::Result::kDone) {
    if (evbuffer_get_length(up_in) > 0) attempt_.set_reusable(false);  // stray bytes
    FinishExchange();
    return false;
  }
  if (client_.unsent() > kHighWater) {
    attempt_.connection()->stream().DisableRead();  // resumes in OnClientWrite
  }
  return true;
}

void DownstreamConnection::OnAttemptDone(bool connection_reusable) {
  attempt_.set_reusable(connection_reusable);
  if (ex().plugins.encoder() != nullptr && !EncodeResponseBody(/*last=*/true)) return;
  FinishExchange();
}

void DownstreamConnection::FinishExchange() {
  attempt_.ReportOutcome(upstream::OutcomeOfStatus(ex().response.status));
  EndAttempt(ex().response.status);
  EndClientRequest(ex().response.status);
  const int64_t counted_ns = CountResponse(ex().response.status);
  LogExchange(ex().response.status, ex().log.response_head_bytes + ResponseBodyBytesSent(),
              counted_ns);
  upstream::Backend& backend = *attempt_.backend();
  const int64_t start_ns = attempt_.start_ns();
  const bool reusable = attempt_.reusable();
  std::unique_ptr<upstream::UpstreamConnection> conn = attempt_.TakeConnection();
  attempt_.End();  // the backend stays alive: view_ holds its snapshot
  int64_t now = MonoNanos();
  balance::ObserveLatency(backend, now - start_ns, now);
  if (conn) {
    conn->requests++;
    if (reusable && ex().request_body.done() && !worker_.draining() &&
        conn->stream().unsent() == 0) {
      static_assert(config::kKeepaliveAuto == upstream::ConnectionPool::kAdaptive);
      worker_.connection_pool().Release(std::move(conn), pool_->config->keepalive,
                                        pool_->config->timeouts.idle);
    }
    conn.reset();
  }
  if (!client_keep_alive_) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  ProcessClientInput();
}

}  // namespace outrigger::forward
