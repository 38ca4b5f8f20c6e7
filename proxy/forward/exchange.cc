// Exchange: the request to its pool (ForwardRequest), the flush of its upstream side, and
// its end when the client goes or the proxy answers instead (DropUpstream).
#include "proxy/forward/exchange.h"

#include "proxy/base/clock.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/forward/request_facts.h"
#include "proxy/forward/worker.h"
#include "proxy/http/head_writer.h"
#include "proxy/tls/session.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

Exchange::~Exchange() = default;  // attempt_'s destructor frees a pending slot, active count

void Exchange::ForwardRequest(std::string_view client_ip) {
  const Snapshot& snap = *view->snapshot;
  const ListenerRuntime& runtime = snap.listeners[listener];
  if (runtime.route_pool[route] == ListenerRuntime::kNoPool) {  // the loader prevents it
    session_->ReleaseRequestHead(*this);
    Reply(500, "route has no pool", /*close=*/has_body);
    return;
  }
  pool_index = runtime.route_pool[route];
  pool = &snap.pools[pool_index];
  shard().OnPoolRequestStart(static_cast<metrics::PoolId>(pool_index), request_start_ns);
  pool_request_open = true;

  const std::string& peer_ip = session_->facts().peer_ip;
  pick = balance::PickContext();
  pick.hash_key = HashKey(*pool->config, client_ip, request);
  if (pick.hash_key.data() != peer_ip.data()) {
    // A key from the head points into the session's input, released before the attempt; a
    // retry picks again with it, so it must own its bytes.
    hash_key.assign(pick.hash_key);
    pick.hash_key = hash_key;
  }
  pick.caps = &pool->caps;
  if (OnH2Pool()) pick.streams = &worker_->h2_pool();
  retries = 0;
  view->retry_budgets[pool_index].OnRequest(MonoNanos());
  const UpstreamAttempt::PickResult picked = PickBackend();
  if (picked.backend == nullptr) {
    shard().OnShed(static_cast<metrics::PoolId>(pool_index), picked.shed);
    session_->ReleaseRequestHead(*this);
    Reply(503, "no backend available", /*close=*/has_body, "Retry-After: 1\r\n");
    return;
  }
  attempt_.Begin(*this, picked.backend);

  upstream_head.clear();
  http::ForwardedFor forwarded = ForwardedFields(*runtime.config, peer_ip, client_ip);
  forwarded.request_id = RequestIdField();
  if (const tls::ServerSession* tls = session_->facts().tls; tls != nullptr) {
    forwarded.client_cert_subject = tls->client_subject();
  }
  http::WriteUpstreamRequestHead(request, forwarded, &upstream_head,
                                 chain != nullptr ? &plugins.request_edits() : nullptr);
  session_->ReleaseRequestHead(*this);
  // An h2 backend gets the body's data as DATA frames, without HTTP/1 framing.
  request_body.Start(request.body, request.content_length, max_body, /*decode=*/OnH2Pool());
  // ...and its trailers as a trailer HEADERS frame (an h2 backend always takes them).
  if (OnH2Pool()) request_body.KeepTrailers(&h2_trailers_);
  response_started = false;
  StartAttempt();
}

void Exchange::Reply(int status, std::string_view detail, bool close, std::string_view extra) {
  session_->SendLocalReply(*this, status, detail, close, extra);
}

void Exchange::FlushUpstream(bool body_paused) {
  if (h2_conn_ != nullptr) {  // the connection sends from its own loop callback
    if (body_paused && !request_body.done()) PumpH2RequestBody();
    return;
  }
  upstream::UpstreamConnection* conn = attempt_.connection();
  if (conn == nullptr) return;
  net::Stream& up = conn->stream();
  up.Flush();
  if (body_paused && !request_body.done() && up.unsent() <= kLowWater) {
    PumpRequestBody();
    if (attempt_.connection() != nullptr) attempt_.connection()->stream().Flush();
  }
}

void Exchange::OnClientDrained() {
  // The session stopped nothing but the upstream's reading (OnAttemptBody): read on.
  if (h2_conn_ != nullptr && response_started) {
    if (OnAttemptBody(h2_in_.get())) ConsumeH2();
    return;
  }
  if (attempt_.connection() == nullptr || !response_started) return;
  net::Stream& up = attempt_.connection()->stream();
  up.EnableRead();
  OnAttemptBody(In(up));
}

void Exchange::DropUpstream() {
  if (attempt_.phase() == UpstreamAttempt::Phase::kPending) StopTimer();
  LeaveH2(/*complete=*/false);  // the client went: the backend's stream is cancelled
  attempt_.DropConnection();
  upstream_head.clear();
  EndAttempt(0);  // still open here: the client went away first
  if (tunnel_open) {
    tunnel_open = false;
    shard().OnTunnelClosed(metric_backend);
  }
  if (pool_request_open) EndClientRequest(response_started ? response.status : 499);
  if (replay != nullptr) evbuffer_drain(replay.get(), evbuffer_get_length(replay.get()));
  // A breaker admission still owed is abandoned: the client went away, which says nothing
  // about the backend.
  attempt_.End();
}

void Exchange::EndBeforeLocalAnswer(int status) {
  EndClientRequest(status);  // before DropUpstream, which would count the client as gone
  DropUpstream();
  CountResponse(status);
}

void Exchange::ArmTimer(std::chrono::milliseconds after) {
  if (!timer_) timer_.reset(evtimer_new(worker_->base(), &Exchange::OnTimer, this));
  timeval tv = net::ToTimeval(after);
  evtimer_add(timer_.get(), &tv);
}

void Exchange::StopTimer() {
  if (timer_) evtimer_del(timer_.get());
}

void Exchange::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Exchange*>(arg);
  FlushOnReturn flush(self);
  if (self->attempt_.phase() == UpstreamAttempt::Phase::kPending) {
    self->RecheckPending();
  } else if (self->h2_conn_ != nullptr) {
    const bool deadline = self->grpc_deadline_passed = self->h2_timer_at_deadline_;
    if (self->WaitingOnClient()) {
      // The client's own stall, not the backend's: not counted against it. A call whose
      // grpc-timeout passed is DEADLINE_EXCEEDED (504) whichever side was slow.
      self->OnAttemptFailed(upstream::Outcome::kDownstreamReset, deadline ? 504 : 408,
                            deadline ? kGrpcDeadlinePassed : kClientStalled);
      return;
    }
    self->OnAttemptFailed(upstream::Outcome::kLocalTimeout, 504,
                          deadline ? kGrpcDeadlinePassed : "upstream read timed out");
  }
}

}  // namespace outrigger::forward
