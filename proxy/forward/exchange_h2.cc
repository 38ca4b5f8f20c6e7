// Exchange on a `protocol: h2` pool: its try is a stream on one of the worker's multiplexed
// HTTP/2 connections (upstream/h2_pool.h) instead of a connection of its own. The request
// head is the one the HTTP/1 path writes, read back into fields for the codec; the body goes
// as DATA without its HTTP/1 framing; the response comes back through the AttemptCallbacks
// the HTTP/1 path uses, its body re-framed as chunks so that trailers (gRPC's grpc-status)
// reach the client's codec as they do from an HTTP/1 backend.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/worker.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

namespace {

bool HasTe(const http::RequestHead& head) {
  for (const http::Header& h : head.headers) {
    if (h.name.size() == 2 && (h.name[0] | 0x20) == 't' && (h.name[1] | 0x20) == 'e') return true;
  }
  return false;
}

}  // namespace

bool Exchange::OnH2Pool() const {
  return pool != nullptr && pool->config->protocol == config::PoolProtocol::kH2;
}

void Exchange::SendOnH2(upstream::H2Connection* conn) {
  if (!h2_body_) h2_body_.reset(evbuffer_new());
  if (!h2_replay_) h2_replay_.reset(evbuffer_new());
  if (evbuffer_get_length(h2_body_.get()) != h2_body_pulled) {
    // A retry after a try whose connection took body bytes it never delivered: the copy.
    evbuffer_drain(h2_body_.get(), evbuffer_get_length(h2_body_.get()));
    const size_t n = evbuffer_get_length(h2_replay_.get());
    evbuffer_add(h2_body_.get(), evbuffer_pullup(h2_replay_.get(), -1), n);
  }
  if (!h2_in_) h2_in_.reset(evbuffer_new());
  evbuffer_drain(h2_in_.get(), evbuffer_get_length(h2_in_.get()));
  h2_unconsumed_ = 0;
  h2_retryable_ = true;  // until the stream says otherwise: nothing went out yet
  h2_finished_ = false;
  upstream::Backend* backend = attempt_.backend();
  std::shared_ptr<upstream::Backend> keep = backend->shared_from_this();
  upstream::H2Pool& h2 = worker_->h2_pool();
  const bool in_slot = conn == nullptr;
  if (in_slot) conn = h2.Find(backend);
  if (conn == nullptr) {
    absl::StatusOr<std::unique_ptr<net::Stream>> stream =
        net::Stream::Connect(worker_->base(), backend->address(), pool->config->timeouts.connect);
    if (!stream.ok()) {
      upstream::Release(keep->connections_in_use());
      OnAttemptFailed(upstream::Outcome::kLocalConnectFailed, 502, "upstream connect failed");
      return;
    }
    SetNoDelay((*stream)->fd());
    if (pool->tls) [[unlikely]]
      UseUpstreamTls(**stream);
    conn = h2.Add(*std::move(stream), keep, http2::CodecLimits{}, pool->tls ? "https" : "http",
                  pool->config->timeouts.idle);
    LimitCounters* limits = worker_->BackendLimitsFor(pool->config->name);
    conn->set_stats_sink([limits](size_t i, uint64_t n) { limits->AddHttp2(i, n); });
  }
  if (in_slot) upstream::Release(keep->connections_in_use());  // the connection counts itself
  const http::ParseResult r = http::ParseRequestHead(upstream_head, kOwnHeadLimits, &h2_head_);
  if (r.status == http::ParseStatus::kDone) {
    // The HTTP/1 head dropped TE as hop-by-hop; over HTTP/2 "te: trailers" says the client
    // takes trailers, and gRPC servers refuse a call without it. The proxy relays them.
    if (!HasTe(h2_head_)) h2_head_.headers.push_back({"te", "trailers"});
    h2_id_ = conn->Open(h2_head_, has_body, this);
  }
  if (h2_id_ < 0) {
    h2_id_ = -1;
    OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                    "request cannot go to an HTTP/2 backend");
    return;
  }
  h2_conn_ = conn;
  ArmH2Timer();
  PumpRequestBody();
}

void Exchange::PumpH2RequestBody() {
  if (h2_conn_ == nullptr) return;
  if (request_body.done()) {  // a retry, or the client's end came: the body is in h2_body_
    if (!h2_finished_ && !request_end_pending) {
      h2_conn_->ResumeData(h2_id_);
      FinishH2Request();
    }
    return;
  }
  // Pulled while the stream's buffer is under the high-water mark: the client's window
  // reopens only as bytes are pulled, so a slow backend holds the client back.
  if (evbuffer_get_length(h2_body_.get()) >= kHighWater) {
    session_->PauseRequestBody(*this);
    return;
  }
  const uint64_t moved_before = request_body.moved();
  const size_t held_before = evbuffer_get_length(h2_body_.get());
  const BodyPump::Result r = session_->PullRequestBody(*this, h2_body_.get());
  const size_t added = evbuffer_get_length(h2_body_.get()) - held_before;
  h2_body_pulled += added;
  KeepH2Replay(held_before, added);
  if (r == BodyPump::Result::kError) {
    FailRequestBody();
    return;
  }
  if (request_body.moved() != moved_before) h2_conn_->ResumeData(h2_id_);
  if (r == BodyPump::Result::kDone) {
    if (!request_end_pending) FinishH2Request();  // else once the client's stream ends
    return;
  }
  session_->ResumeRequestBody(*this);
}

void Exchange::KeepRequestTrailers(std::span<const http::Header> trailers) {
  for (const http::Header& t : trailers) {
    h2_trailers_.append(t.name).append(": ").append(t.value).append("\r\n");
  }
}

void Exchange::FinishH2Request() {
  h2_finished_ = true;
  if (h2_trailers_.empty()) {
    h2_conn_->FinishRequest(h2_id_);
    return;
  }
  TrailerFields(h2_trailers_, &h2_trailer_fields_);
  h2_conn_->FinishRequestWithTrailers(h2_id_, h2_trailer_fields_);
}

void Exchange::KeepH2Replay(size_t from, size_t n) {
  if (n == 0) return;
  if (h2_body_pulled > kH2ResendLimit || response_started) {  // not retried: no copy
    evbuffer_drain(h2_replay_.get(), evbuffer_get_length(h2_replay_.get()));
    return;
  }
  evbuffer_ptr pos;
  evbuffer_ptr_set(h2_body_.get(), &pos, from, EVBUFFER_PTR_SET);
  evbuffer_iovec vec;
  if (evbuffer_reserve_space(h2_replay_.get(), static_cast<ev_ssize_t>(n), &vec, 1) != 1 ||
      evbuffer_copyout_from(h2_body_.get(), &pos, vec.iov_base, n) != static_cast<ev_ssize_t>(n)) {
    return;
  }
  vec.iov_len = n;
  evbuffer_commit_space(h2_replay_.get(), &vec, 1);
}

bool Exchange::H2BodyWhole() const {
  return evbuffer_get_length(h2_body_.get()) == h2_body_pulled ||
         evbuffer_get_length(h2_replay_.get()) == h2_body_pulled;
}

void Exchange::LeaveH2(bool complete, bool keep_body) {
  if (h2_conn_ != nullptr) {
    if (complete && h2_finished_) {  // else the backend waits on a stream never ended
      h2_conn_->Release(h2_id_);
    } else {
      h2_conn_->Cancel(h2_id_);
    }
  }
  if (h2_conn_ != nullptr) StopTimer();
  h2_conn_ = nullptr;
  h2_id_ = -1;
  if (h2_body_ && !keep_body) {
    evbuffer_drain(h2_body_.get(), evbuffer_get_length(h2_body_.get()));
    evbuffer_drain(h2_replay_.get(), evbuffer_get_length(h2_replay_.get()));
  }
}

void Exchange::ArmH2Timer() {
  int64_t after = std::chrono::nanoseconds(pool->config->timeouts.read).count();
  h2_timer_at_deadline_ = false;
  if (const int64_t left = grpc_deadline_ns - MonoNanos(); grpc_deadline_ns != 0 && left < after) {
    after = std::max<int64_t>(left, 0);
    // Said here, not read off the clock when it fires: libevent counts from the loop's
    // cached time, so the timer may fire a little before MonoNanos() reaches the deadline.
    h2_timer_at_deadline_ = true;
  }
  ArmTimer(std::chrono::ceil<std::chrono::milliseconds>(std::chrono::nanoseconds(after)));
}

void Exchange::ConsumeH2() {
  if (h2_conn_ == nullptr || h2_unconsumed_ == 0 || evbuffer_get_length(h2_in_.get()) > 0) return;
  h2_conn_->Consume(h2_id_, h2_unconsumed_);
  h2_unconsumed_ = 0;
}

void Exchange::RelayH2Body() {
  if (!OnAttemptBody(h2_in_.get())) return;             // done, or failed: the exchange moved on
  if (!session_->ResponseBackedUp(*this)) ConsumeH2();  // else once the client drains
}

void Exchange::OnH2Head(const http::ResponseHead& head, bool end_stream) {
  FlushOnReturn flush(this);  // the connection's loop callback: the client's side sends too
  if (head.status == 101) {
    OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502, "HTTP/2 upstream answered 101");
    return;
  }
  ArmH2Timer();
  response = head;
  if (head.status >= 200) {
    // An answer says the backend had the request: a 5xx retry is for what it may resend
    // after acting on it (idempotent methods), as for an HTTP/1 backend that read it.
    h2_retryable_ = false;
    if (http::StatusHasNoBody(method, head.status)) {
      // The codec frames by END_STREAM, knowing no method: a backend may end such a stream
      // after its HEADERS (an empty DATA frame, trailers) and state a content-length (RFC
      // 9113 §8.1.1). There is still no body, and the exchange ends with the stream.
      response.body = http::BodyKind::kNone;
    } else if (client_minor == 0 && response.body == http::BodyKind::kChunked) {
      // An HTTP/1.0 client knows no chunks: a body of no stated length goes to it as HTTP/1.0
      // bodies do, ended by the connection's close (from an HTTP/1 backend, chunks are refused).
      response.body = http::BodyKind::kCloseDelimited;
    }
  }
  if (!OnAttemptHead(response)) return;
  if (response_started) {  // no retry from here on: the body's copy is not needed
    evbuffer_drain(h2_replay_.get(), evbuffer_get_length(h2_replay_.get()));
  }
  if (response.status < 200) return;
  if (end_stream) RelayH2Body();  // no body: ends at once
}

void Exchange::OnH2Data(const uint8_t* data, size_t size) {
  FlushOnReturn flush(this);  // the connection's loop callback: the client's side sends too
  if (!response_started || size == 0) return;
  if (response.body == http::BodyKind::kChunked) {
    evbuffer_add_printf(h2_in_.get(), "%zx\r\n", size);
    evbuffer_add(h2_in_.get(), data, size);
    evbuffer_add(h2_in_.get(), "\r\n", 2);
  } else {
    evbuffer_add(h2_in_.get(), data, size);
  }
  h2_unconsumed_ += size;
  ArmH2Timer();
  RelayH2Body();
}

void Exchange::OnH2End(std::span<const http::Header> trailers) {
  FlushOnReturn flush(this);  // the connection's loop callback: the client's side sends too
  if (!response_started) return;
  if (response.body == http::BodyKind::kChunked) {
    std::string end = "0\r\n";
    for (const http::Header& t : trailers) end += fmt::format("{}: {}\r\n", t.name, t.value);
    end += "\r\n";
    evbuffer_add(h2_in_.get(), end.data(), end.size());
  } else if (response.body == http::BodyKind::kCloseDelimited) {
    // The body is all relayed (such a pump holds nothing back), its trailers dropped as
    // HTTP/1.0 has none; the client's connection closes after it.
    if (OnAttemptBody(h2_in_.get())) OnAttemptDone(/*connection_reusable=*/true);
    return;
  }
  RelayH2Body();
}

void Exchange::OnH2BodyDrained() {
  if (request_body.done()) return;
  FlushOnReturn flush(this);  // the client's side reads on
  PumpH2RequestBody();
}

void Exchange::OnH2Close(uint32_t code, bool retryable) {
  FlushOnReturn flush(this);  // the connection's loop callback: the client's side sends too
  StopTimer();
  // The stream closed before the exchange completed (a completed one has left it).
  const bool never_connected = h2_conn_->never_connected();
  h2_conn_ = nullptr;
  h2_id_ = -1;
  // Retryable only while the stream's buffer still holds every body byte pulled: the next
  // backend gets the body from it.
  h2_retryable_ = retryable && H2BodyWhole();
  spdlog::debug("{} {}: HTTP/2 stream closed with code {}", pool->config->name,
                attempt_.backend() ? attempt_.backend()->label() : "", code);
  if (!never_connected && h2_retryable_ && !response_started && interim == 0 &&
      !attempt_.retried_stale()) {
    // The backend refused the stream (REFUSED_STREAM, or past a GOAWAY's last stream): its
    // application never saw the request, which goes once more to the same backend on another
    // stream, or a new connection (RFC 9113 §8.7). As for a stale HTTP/1 connection, this is
    // no retry against the backend's health: it is draining or at its stream limit, and a
    // pool with no other backend must not fail the request. A second refusal is a failure.
    attempt_.set_retried_stale();
    upstream::Backend* backend = attempt_.backend();
    backend->AddConnectionsInUse(1);  // the slot SendOnH2 frees, as SendInSlot's admission
    SendOnH2(nullptr);
    return;
  }
  if (never_connected) {
    OnAttemptFailed(upstream::Outcome::kLocalConnectFailed, 502, "upstream connect failed");
  } else if (code == NGHTTP2_ENHANCE_YOUR_CALM && !response_started) {
    // The client codec resets a response head over its limits (size, fields) with this code
    // (client_codec.h): the backend's answer was unusable, as an HTTP/1 one would be.
    OnAttemptFailed(upstream::Outcome::kUpstreamProtocolError, 502,
                    "upstream response head too large");
  } else {
    OnAttemptFailed(upstream::Outcome::kUpstreamReset, 502,
                    retryable ? "upstream refused the stream" : "upstream reset the stream");
  }
}

}  // namespace outrigger::forward
