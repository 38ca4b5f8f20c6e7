// H2Connection: a multiplexed HTTP/2 connection to one backend (h2_connection.h).
#include "proxy/upstream/h2_connection.h"

#include <utility>
#include <vector>

namespace outrigger::upstream {

namespace {

// Frames are produced while the socket's output holds less than this; more as it drains.
constexpr size_t kHighWater = 128 * 1024;
constexpr size_t kLowWater = 32 * 1024;

}  // namespace

H2Connection::H2Connection(event_base* base, std::unique_ptr<net::Stream> stream,
                           std::shared_ptr<Backend> backend, const http2::CodecLimits& limits,
                           std::string scheme, std::chrono::milliseconds idle_timeout,
                           OnDead on_dead)
    : stream_(std::move(stream)),
      send_soon_(evtimer_new(base, &H2Connection::OnSendSoon, this)),
      backend_(std::move(backend)),
      codec_(*this, limits),
      scheme_(std::move(scheme)),
      idle_timeout_(idle_timeout),
      on_dead_(std::move(on_dead)),
      empty_(evbuffer_new()) {
  backend_->AddConnectionsInUse(1);
  connected_ = !stream_->connecting();
  stream_->SetCallbacks(&H2Connection::OnRead, &H2Connection::OnDrained, &H2Connection::OnEvent,
                        this);
  stream_->SetLowWater(kLowWater);
  stream_->EnableRead();
  UpdateTimeout();
  SendSoon();  // the preface, queued by the codec
}

H2Connection::~H2Connection() { backend_->AddConnectionsInUse(-1); }

int32_t H2Connection::Open(const http::RequestHead& head, bool has_body, H2StreamOwner* owner) {
  if (!CanOpenStream()) return -1;
  const int32_t id = codec_.SubmitRequest(head, scheme_, has_body);
  if (id < 0) return -1;
  owners_[id] = owner;
  UpdateTimeout();
  SendSoon();
  return id;
}

void H2Connection::ResumeData(int32_t stream) {
  if (OwnerOf(stream) == nullptr) return;
  codec_.ResumeData(stream);
  SendSoon();
}

void H2Connection::FinishRequest(int32_t stream) {
  if (OwnerOf(stream) == nullptr) return;
  codec_.FinishRequest(stream);
  SendSoon();
}

void H2Connection::FinishRequestWithTrailers(int32_t stream,
                                             std::span<const http::Header> trailers) {
  if (OwnerOf(stream) == nullptr) return;
  codec_.SubmitTrailers(stream, trailers);
  SendSoon();
}

void H2Connection::Consume(int32_t stream, size_t size) {
  if (OwnerOf(stream) == nullptr || size == 0) return;
  codec_.Consume(stream, size);
  SendSoon();  // a WINDOW_UPDATE, when nghttp2 decides one is due
}

void H2Connection::Release(int32_t stream) {
  if (owners_.erase(stream) > 0) UpdateTimeout();
}

void H2Connection::Cancel(int32_t stream, uint32_t code) {
  if (owners_.erase(stream) == 0) return;
  codec_.ResetStream(stream, code);
  UpdateTimeout();
  SendSoon();
}

void H2Connection::Shutdown() {
  if (dead_) return;
  codec_.Goaway(NGHTTP2_NO_ERROR);
  SendSoon();
}

H2StreamOwner* H2Connection::OwnerOf(int32_t stream) const {
  auto it = owners_.find(stream);
  return it == owners_.end() ? nullptr : it->second;
}

// ---- loop callbacks ---------------------------------------------------------------------

void H2Connection::OnRead(void* arg) {
  auto* self = static_cast<H2Connection*>(arg);
  self->in_callback_ = true;
  const bool ok = self->codec_.Receive(self->stream_->input());
  self->Settle(ok);
}

void H2Connection::OnDrained(void* arg) {
  auto* self = static_cast<H2Connection*>(arg);
  self->in_callback_ = true;
  self->Settle(true);
}

void H2Connection::OnSendSoon(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<H2Connection*>(arg);
  self->in_callback_ = true;
  self->Settle(true);
}

void H2Connection::OnEvent(short what, void* arg) {
  auto* self = static_cast<H2Connection*>(arg);
  self->in_callback_ = true;
  if (what & net::Stream::kConnected) {
    self->connected_ = true;
    self->Settle(true);
    return;
  }
  if (what & net::Stream::kEof) {
    // What arrived before the close may end streams cleanly (a GOAWAY, final DATA).
    self->codec_.Receive(self->stream_->input());
  }
  self->Settle(false);
}

void H2Connection::SendSoon() {
  if (in_callback_ || dead_) return;  // the running callback sends at its end
  event_active(send_soon_.get(), EV_TIMEOUT, 0);
}

bool H2Connection::SendNow() {
  if (!codec_.Send(stream_->output(), kHighWater)) return false;
  stream_->Flush();
  return true;
}

void H2Connection::Settle(bool transport_ok) {
  // in_callback_ is set: owners' calls from the callbacks below only queue.
  bool ok = transport_ok && !dead_ && SendNow();
  // Owners whose body ran low pull more, which the next Send carries (a few rounds at most:
  // the rest waits for the socket to drain, OnDrained).
  for (int round = 0; ok && !drained_.empty() && round < 4; ++round) {
    std::vector<int32_t> drained;
    drained.swap(drained_);
    for (int32_t id : drained) {
      if (H2StreamOwner* owner = OwnerOf(id)) owner->OnH2BodyDrained();
    }
    ok = SendNow();
  }
  drained_.clear();
  if (stats_sink_) http2::CountGrowth(codec_.stats(), counted_, stats_sink_);
  // Nothing more to read or write: the codec is done (a GOAWAY either way and no stream left).
  if (ok && !codec_.WantsRead() && !codec_.WantsWrite()) ok = false;
  in_callback_ = false;
  if (ok) {
    UpdateTimeout();
    return;
  }
  Die();
}

void H2Connection::Die() {
  if (dead_) return;
  dead_ = true;
  in_callback_ = true;  // owners may call in while they hear of it: queue nothing to send
  stream_->DisableRead();
  event_del(send_soon_.get());
  // Streams the codec did not close: the connection went under them, and the backend may
  // have acted on their requests.
  // A connection that never connected sent nothing: its requests may go elsewhere.
  const bool never_sent = !connected_;
  std::vector<std::pair<int32_t, H2StreamOwner*>> left(owners_.begin(), owners_.end());
  owners_.clear();
  for (auto [id, owner] : left) owner->OnH2Close(NGHTTP2_INTERNAL_ERROR, never_sent);
  in_callback_ = false;
  // It may destroy this, so it is called from a copy on the stack: the last act.
  if (OnDead on_dead = std::move(on_dead_)) on_dead(this);
}

void H2Connection::UpdateTimeout() {
  const bool idle = owners_.empty();
  if (idle == idle_timer_) return;
  idle_timer_ = idle;
  stream_->SetReadTimeout(idle ? idle_timeout_ : std::chrono::milliseconds(0));
}

// ---- ClientCodecCallbacks -----------------------------------------------------------------

void H2Connection::OnResponseHead(int32_t stream, const http::ResponseHead& head, bool end_stream) {
  if (H2StreamOwner* owner = OwnerOf(stream)) owner->OnH2Head(head, end_stream);
}

void H2Connection::OnResponseData(int32_t stream, const uint8_t* data, size_t size) {
  if (H2StreamOwner* owner = OwnerOf(stream)) {
    owner->OnH2Data(data, size);
  } else {
    codec_.Consume(stream, size);  // no one takes them: keep the connection's window open
  }
}

void H2Connection::OnResponseEnd(int32_t stream, std::span<const http::Header> trailers) {
  if (H2StreamOwner* owner = OwnerOf(stream)) owner->OnH2End(trailers);
}

void H2Connection::OnStreamClose(int32_t stream, uint32_t error_code, bool retryable) {
  auto it = owners_.find(stream);
  if (it == owners_.end()) return;
  H2StreamOwner* owner = it->second;
  owners_.erase(it);
  owner->OnH2Close(error_code, retryable);
}

void H2Connection::OnGoaway(int32_t, uint32_t) {
  // CanOpenStream is false from now on; the streams it names are closed by the codec, and
  // the connection dies once the last one left ends (Settle).
}

evbuffer* H2Connection::RequestBody(int32_t stream) {
  H2StreamOwner* owner = OwnerOf(stream);
  if (owner == nullptr) return empty_.get();
  evbuffer* body = owner->H2RequestBody();
  // Asked for as DATA may go: once it runs low, the owner hears so after the Send.
  if (evbuffer_get_length(body) < kLowWater) drained_.push_back(stream);
  return body;
}

}  // namespace outrigger::upstream
