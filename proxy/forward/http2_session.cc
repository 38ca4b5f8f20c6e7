// Http2Session, the connection: the client's bytes through the codec, the codec's stream
// events, timeouts, drain and close. The ClientSession operations are in http2_streams.cc.
#include "proxy/forward/http2_session.h"

#include <sys/socket.h>

#include <algorithm>

#include "proxy/forward/forward_internal.h"
#include "proxy/forward/http1_session.h"
#include "proxy/forward/worker.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

Http2Session::Http2Session(Worker& worker, Http1Session& carrier, net::Stream& client,
                           const ClientFacts& facts)
    : worker_(worker), carrier_(carrier), client_(client), codec_(*this, http2::CodecLimits{}) {
  facts_ = facts;
  facts_.unframed_bodies = true;
  slots_.resize(http2::CodecLimits{}.max_concurrent_streams);
  for (StreamSlot& s : slots_) s.session = this;
  client_.SetCallbacks(&Http2Session::OnClientRead, &Http2Session::OnClientWrite,
                       &Http2Session::OnClientEvent, this);
  client_.SetLowWater(kLowWater);
  open_counters_ = worker_.LimitsFor(facts_);
  if (open_counters_ != nullptr) open_counters_->AddHttp2Open(1, 0);
}

Http2Session::~Http2Session() {
  ReportOpen(false);
  for (StreamSlot& s : slots_) {
    if (s.ex == nullptr) continue;
    s.ex->plugins.wait().Cancel();
    // The worker stops with the exchange still trying: freed, its attempt's destructor frees
    // a pending slot and the backend's active count.
    if (!s.ex->idle()) s.ex.reset();
    ReturnExchange(s);
  }
}

void Http2Session::Start() {
  // The preface and the first request must come within the header timeout, as a first
  // HTTP/1 request head must.
  const milliseconds header =
      worker_.view()->snapshot->listeners[facts_.listener_index].config->timeouts.header;
  first_request_deadline_ns_ = MonoNanos() + std::chrono::nanoseconds(header).count();
  client_.SetReadTimeout(header);
  client_.EnableRead();
  FlushOnReturn flush(this);
  if (evbuffer_get_length(In(client_)) > 0) OnClientRead(this);
}

Http2Session::StreamSlot* Http2Session::SlotOf(int32_t stream) {
  for (StreamSlot& s : slots_) {
    if (s.id == stream) return &s;
  }
  return nullptr;
}

Http2Session::StreamSlot& Http2Session::SlotOf(Exchange& ex) {
  for (StreamSlot& s : slots_) {
    if (s.ex.get() == &ex) return s;
  }
  std::abort();  // an Exchange calls only the session that holds it
}

void Http2Session::OnClientRead(void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  if (self->closed_) return;
  FlushOnReturn flush(self);
  if (self->failed_ || self->lingering_) {
    evbuffer_drain(In(self->client_), evbuffer_get_length(In(self->client_)));
    return;
  }
  self->in_codec_ = true;
  const bool ok = self->codec_.Receive(In(self->client_));
  self->in_codec_ = false;
  if (!ok) self->failed_ = true;  // Flush sends the codec's GOAWAY, then Linger
  self->UpdateReadTimeout();
}

void Http2Session::OnClientWrite(void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  FlushOnReturn flush(self);  // the codec sends on; drained streams read their backends on
}

void Http2Session::OnClientEvent(short what, void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  if (self->closed_) return;
  FlushOnReturn flush(self);
  if (self->lingering_ && (what & net::Stream::kTimeout)) return;  // the linger has its timer
  if (what == (net::Stream::kReading | net::Stream::kTimeout)) {
    if (self->codec_.open_streams() > 0) return;  // a stream is being served: not idle
    self->worker_.CountLimit(self->facts_,
                             self->opened_stream_ ? Limit::kIdleTimeout : Limit::kHeaderTimeout);
    self->codec_.Goaway(NGHTTP2_NO_ERROR);
    self->draining_ = true;
    self->client_.DisableRead();
    return;
  }
  // EOF, an error, or a client that did not read within the idle timeout: every stream's
  // client has left.
  self->Close();
}

void Http2Session::UpdateReadTimeout() {
  // While streams are open the client may rightly send nothing (it waits for answers);
  // otherwise it has the listener's idle timeout to open the next one. A removed listener's
  // index may lie past the new snapshot's listeners: the drain's linger bounds the rest.
  if (facts_.listener_gone) return;
  if (codec_.open_streams() > 0) {
    client_.SetReadTimeout(milliseconds(0));
    return;
  }
  if (!opened_stream_) {
    // Bytes short of a first request (half a preface, SETTINGS, PINGs) extend nothing.
    const auto left = std::chrono::duration_cast<milliseconds>(
        std::chrono::nanoseconds(first_request_deadline_ns_ - MonoNanos()));
    client_.SetReadTimeout(std::max(left, milliseconds(1)));
    return;
  }
  client_.SetReadTimeout(
      worker_.view()->snapshot->listeners[facts_.listener_index].config->timeouts.idle);
}

void Http2Session::Flush() {
  if (closed_ || flush_pending_) return;
  if (!flush_event_) flush_event_.reset(event_new(worker_.base(), -1, 0, OnDeferredFlush, this));
  // Active events run in the order they became active: this one after every callback the
  // loop found ready with it, in the same iteration.
  event_active(flush_event_.get(), EV_TIMEOUT, 0);
  flush_pending_ = true;
}

void Http2Session::OnDeferredFlush(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Http2Session*>(arg);
  self->flush_pending_ = false;
  self->FlushNow();
}

void Http2Session::FlushNow() {
  if (closed_ || in_codec_) return;  // Receive's caller flushes when it returns
  if (flush_pending_) {              // this flush does what the deferred one would
    event_del(flush_event_.get());
    flush_pending_ = false;
  }
  for (StreamSlot& s : slots_) {
    if (s.ex != nullptr) s.ex->FlushUpstream(/*body_paused=*/s.paused);
    if (closed_) return;
  }
  // Twice at most: streams the first pass drained read their backends on, which may give
  // the second more to send.
  for (int pass = 0; pass < 2; ++pass) {
    // The high-water mark counts what TLS encrypted and the socket has not taken (unsent()),
    // not only the plaintext in Out(): else a client that reads nothing makes the codec
    // queue frames without end in the TLS filter.
    const size_t out = evbuffer_get_length(Out(client_));
    const size_t wire = client_.unsent() - std::min(client_.unsent(), out);
    if (wire < kHighWater) {
      in_codec_ = true;
      const bool ok = codec_.Send(Out(client_), kHighWater - wire);
      in_codec_ = false;
      if (!ok) failed_ = true;
    }
    client_.Flush();
    if (client_.unsent() > kHighWater) break;
    bool resumed = false;
    for (StreamSlot& s : slots_) {
      if (s.ex == nullptr || !s.backed_up || evbuffer_get_length(s.response.get()) > kLowWater)
        continue;
      s.backed_up = false;
      resumed = true;
      s.ex->OnClientDrained();  // may end the exchange
      if (closed_) return;
    }
    if (!resumed) break;
  }
  CountCodecStats();
  ReportOpen(true);
  const bool over = failed_ || !codec_.WantsRead() ||
                    (draining_ && codec_.open_streams() == 0);  // the GOAWAY, the last stream
  if (over && (failed_ || !codec_.WantsWrite())) Linger();
}

void Http2Session::ReportOpen(bool open) {
  if (open_counters_ == nullptr) return;
  const int64_t streams = open ? static_cast<int64_t>(codec_.open_streams()) : 0;
  open_counters_->AddHttp2Open(open ? 0 : -1, streams - reported_streams_);
  reported_streams_ = streams;
  if (!open) open_counters_ = nullptr;  // the connection is taken back once only
}

void Http2Session::CountCodecStats() {
  static_assert(http2::kCodecStatCount == kHttp2LimitCount);  // in kHttp2LimitLabels' order
  http2::CountGrowth(codec_.stats(), counted_,
                     [&](size_t i, uint64_t n) { worker_.CountHttp2Limit(facts_, i, n); });
}

void Http2Session::Linger() {
  if (closed_) return;
  if (!lingering_) {
    // From the last frames' queuing, not their sending: a client that reads nothing (a
    // flood's) gets kLinger to take them, then is closed.
    lingering_ = true;
    for (StreamSlot& s : slots_) {
      if (s.ex != nullptr) AbandonExchange(s);
    }
    client_.SetReadTimeout(milliseconds(0));
    client_.EnableRead();
    linger_timer_.reset(evtimer_new(worker_.base(), &Http2Session::OnLingerOver, this));
    timeval tv = net::ToTimeval(kLinger);
    evtimer_add(linger_timer_.get(), &tv);
  }
  if (!half_closed_ && client_.unsent() == 0) {
    half_closed_ = true;
    shutdown(client_.fd(), SHUT_WR);
  }
}

void Http2Session::OnLingerOver(evutil_socket_t, short, void* arg) {
  static_cast<Http2Session*>(arg)->Close();
}

void Http2Session::OnDrain() {
  if (draining_ || closed_) return;
  draining_ = true;
  codec_.Goaway(NGHTTP2_NO_ERROR);
  FlushNow();
}

void Http2Session::MoveListener(std::optional<size_t> index) {
  if (index) {
    facts_.listener_index = static_cast<uint32_t>(*index);
    return;
  }
  facts_.listener_gone = true;
  OnDrain();
}

void Http2Session::TrimIdle() {
  if (codec_.open_streams() == 0 && evbuffer_get_length(Out(client_)) == 0 &&
      evbuffer_get_length(In(client_)) == 0) {
    client_.ReleaseBuffers();
  }
}

void Http2Session::Close() {
  if (closed_) return;
  closed_ = true;
  CountCodecStats();
  ReportOpen(false);
  for (StreamSlot& s : slots_) {
    if (s.ex != nullptr) AbandonExchange(s);
  }
  if (linger_timer_) evtimer_del(linger_timer_.get());
  if (flush_event_) event_del(flush_event_.get());
  client_.DisableRead();
  client_.SetCallbacks(nullptr, nullptr, nullptr, nullptr);
  carrier_.Http2Closed();
}

// ---- the codec's events ------------------------------------------------------------------

void Http2Session::OnStreamHead(int32_t stream, http::RequestHead& head, bool end_stream) {
  StreamSlot* s = SlotOf(0);
  if (s == nullptr) {  // cannot be: the codec opens no more streams than there are slots
    codec_.ResetStream(stream, NGHTTP2_REFUSED_STREAM);
    return;
  }
  opened_stream_ = true;
  s->id = stream;
  s->unconsumed = 0;
  s->request_ended = end_stream;
  s->paused = s->backed_up = s->has_body = s->plugin_wait = false;
  s->trailers.clear();
  if (!s->request) s->request.reset(evbuffer_new());
  if (!s->response) s->response.reset(evbuffer_new());
  s->ex = worker_.TakeExchange();
  s->ex->Bind(*this);
  s->ex->request = head;
  s->ex->request_end_pending = !end_stream;
  s->chunked = head.body == http::BodyKind::kChunked;
  client_.SetReadTimeout(milliseconds(0));  // see UpdateReadTimeout
  ServeRequest(*s);
}

void Http2Session::OnStreamData(int32_t stream, const uint8_t* data, size_t size) {
  StreamSlot* s = SlotOf(stream);
  if (s == nullptr || s->ex == nullptr || s->request_ended) {
    codec_.Consume(stream, size);  // answered already: nobody reads it
    return;
  }
  evbuffer* req = s->request.get();
  if (s->chunked) {
    if (size == 0) return;
    char line[24];
    const int n = std::snprintf(line, sizeof line, "%zx\r\n", size);
    evbuffer_add(req, line, static_cast<size_t>(n));
    evbuffer_add(req, data, size);
    evbuffer_add(req, "\r\n", 2);
  } else {
    evbuffer_add(req, data, size);
  }
  s->unconsumed += size;
  if (!s->paused) s->ex->PumpRequestBody();
}

void Http2Session::OnStreamEnd(int32_t stream, std::span<const http::Header> trailers) {
  StreamSlot* s = SlotOf(stream);
  if (s == nullptr) return;
  s->request_ended = true;
  if (s->ex == nullptr) return;
  s->ex->request_end_pending = false;
  if (s->chunked) {
    evbuffer* req = s->request.get();
    evbuffer_add(req, "0\r\n", 3);
    for (const http::Header& h : trailers) {
      evbuffer_add(req, h.name.data(), h.name.size());
      evbuffer_add(req, ": ", 2);
      evbuffer_add(req, h.value.data(), h.value.size());
      evbuffer_add(req, "\r\n", 2);
    }
    evbuffer_add(req, "\r\n", 2);
  } else if (!trailers.empty()) {
    s->ex->KeepRequestTrailers(trailers);  // after a Content-Length body: for an h2 pool
  }
  if (!s->paused) s->ex->PumpRequestBody();
}

void Http2Session::OnStreamClose(int32_t stream, uint32_t) {
  StreamSlot* s = SlotOf(stream);
  if (s == nullptr) return;
  // Before the exchange ended: the client reset the stream (or the connection ends), so it
  // has left; a request whose body was not complete never completes at a backend (its
  // upstream connection is dropped with the body unfinished).
  if (s->ex != nullptr) AbandonExchange(*s);
  s->id = 0;
  evbuffer_drain(s->request.get(), evbuffer_get_length(s->request.get()));
  evbuffer_drain(s->response.get(), evbuffer_get_length(s->response.get()));
  if (!in_codec_) UpdateReadTimeout();
}

evbuffer* Http2Session::ResponseBody(int32_t stream) {
  StreamSlot* s = SlotOf(stream);
  return s != nullptr ? s->response.get() : nullptr;
}

void Http2Session::AbandonExchange(StreamSlot& s) {
  Exchange& ex = *s.ex;
  ex.LogUnfinished();
  ex.DropUpstream();
  ex.plugins.wait().Cancel();  // a store's answer has no one to go to
  ReturnExchange(s);
}

void Http2Session::ReturnExchange(StreamSlot& s) {
  // Every exchange of the session's ends here once: a gRPC call is counted here.
  if (s.ex != nullptr && s.ex->grpc) s.ex->CountGrpcCall();
  // Nothing reads the request's body any more (an answer before its end: a shed, a plugin's,
  // the backend's): what waits in the stream's buffer is dropped and its bytes open the
  // windows again, or they would stay shut to the connection's other streams. DATA still to
  // come is dropped as it arrives (OnStreamData); the codec asks the client to stop sending
  // it once the answer is out.
  evbuffer_drain(s.request.get(), evbuffer_get_length(s.request.get()));
  if (s.unconsumed > 0) {
    codec_.Consume(s.id, s.unconsumed);
    s.unconsumed = 0;
  }
  worker_.ReturnExchange(std::move(s.ex));
}

}  // namespace outrigger::forward
