#include "proxy/http2/client_codec.h"

#include <algorithm>
#include <charconv>
#include <climits>

#include "proxy/http/fields.h"

namespace outrigger::http2 {
namespace {

ClientCodec* Self(void* user_data) { return static_cast<ClientCodec*>(user_data); }

}  // namespace

struct ClientCodec::Stream {
  explicit Stream(RequestFields::Limits l) : fields(l) {}
  void Reset(int32_t stream) {
    id = stream;
    fields.Clear();
    status = 0;
    unconsumed = 0;
    response_started = final_head = response_ended = reset_sent = owner_reset = over_window = false;
    body_end.Clear();
  }

  int32_t id = 0;
  RequestTrailers fields;  // the head or trailer section being received, bounded
  http::ResponseHead head;
  int status = 0;
  size_t unconsumed = 0;          // body bytes given to the owner and not yet consumed
  bool response_started = false;  // a response HEADERS began: the request was processed
  bool final_head = false;        // the final (non-1xx) head was delivered
  bool response_ended = false;    // END_STREAM came from the backend
  bool reset_sent = false;        // the codec reset it (a limit): deliver nothing more
  bool owner_reset = false;       // ResetStream: not the codec's reset
  bool over_window = false;       // DATA came past the stream's window: deliver no more
  BodyEnd body_end;               // of the request
};

ClientCodec::ClientCodec(ClientCodecCallbacks& callbacks, const CodecLimits& limits)
    : CodecCore(limits), callbacks_(callbacks) {
  CallbacksPtr cbs = MakeCallbacks();
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs.get(), OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cbs.get(), OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs.get(), OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs.get(), OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs.get(), OnStreamClosed);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs.get(), OnFrameSend);
  nghttp2_session_callbacks_set_send_data_callback(cbs.get(), SendBody);

  OptionPtr opt = MakeOption();
  nghttp2_option_set_no_auto_window_update(opt.get(), 1);
  nghttp2_option_set_max_continuations(opt.get(), limits_.max_continuations);
  nghttp2_option_set_max_outbound_ack(opt.get(), limits_.max_outbound_ack);
  nghttp2_option_set_max_settings(opt.get(), limits_.max_settings);
  nghttp2_option_set_max_deflate_dynamic_table_size(opt.get(), limits_.hpack_table_size);
  nghttp2_session* s = nullptr;
  if (nghttp2_session_client_new2(&s, cbs.get(), this, opt.get()) != 0) throw std::bad_alloc();
  session_.reset(s);

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, limits_.hpack_table_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, uint32_t(limits_.fields.max_list_size)},
  };
  // Only NOMEM can fail these, on a session that has just been made.
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
                                        int32_t(limits_.connection_window));
}

ClientCodec::~ClientCodec() = default;

bool ClientCodec::Terminating() const {
  // A connection error nghttp2 found (a bad frame) queues its GOAWAY, which alone tells of it
  // until Send writes it: no request is allowed any more.
  return !goaway_received_ && !owner_goaway_ &&
         !nghttp2_session_check_request_allowed(session_.get()) &&
         nghttp2_session_get_next_stream_id(session_.get()) <= uint32_t(INT32_MAX);
}

uint32_t ClientCodec::peer_max_concurrent_streams() const {
  return nghttp2_session_get_remote_settings(session_.get(),
                                             NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
}

bool ClientCodec::CanOpenStream() const {
  if (failed_ || owner_goaway_ || goaway_received_) return false;
  const size_t cap = std::min(peer_max_concurrent_streams(), limits_.max_concurrent_streams);
  return open_streams_ < cap && nghttp2_session_check_request_allowed(session_.get()) &&
         nghttp2_session_get_next_stream_id(session_.get()) <= uint32_t(INT32_MAX);
}

ClientCodec::Stream* ClientCodec::StreamOf(int32_t stream) const {
  // At most max_concurrent_streams slots, most of them open: a scan beats a map here.
  for (const auto& s : streams_) {
    if (s->id == stream && stream != 0) return s.get();
  }
  return nullptr;
}

int32_t ClientCodec::SubmitRequest(const http::RequestHead& head, std::string_view scheme,
                                   bool has_body) {
  if (!CanOpenStream() || head.method == http::Method::kConnect) return -1;
  if (free_.empty()) {
    streams_.push_back(std::make_unique<Stream>(limits_.fields));
    free_.push_back(streams_.back().get());
  }
  head_fields_.BuildRequest(head, scheme);
  nghttp2_data_provider body{};
  body.read_callback = ReadBody;
  const int32_t id =
      nghttp2_submit_request(session_.get(), nullptr, head_fields_.data(), head_fields_.size(),
                             has_body ? &body : nullptr, nullptr);
  if (id < 0) return -1;
  Stream* s = free_.back();
  free_.pop_back();
  s->Reset(id);
  ++open_streams_;
  return id;
}

void ClientCodec::ResumeData(int32_t stream) {
  // Before its HEADERS is sent nghttp2 has no stream to resume; the body is read then anyway.
  if (!failed_ && StreamOf(stream) != nullptr) nghttp2_session_resume_data(session_.get(), stream);
}

void ClientCodec::FinishRequest(int32_t stream) {
  Stream* s = failed_ ? nullptr : StreamOf(stream);
  if (s == nullptr) return;
  s->body_end.ends = true;
  ResumeData(stream);
}

void ClientCodec::SubmitTrailers(int32_t stream, std::span<const http::Header> trailers) {
  Stream* s = failed_ ? nullptr : StreamOf(stream);
  if (s == nullptr) return;
  s->body_end.SetTrailers(trailers);
  ResumeData(stream);
}

void ClientCodec::Consume(int32_t stream, size_t size) {
  Stream* s = failed_ ? nullptr : StreamOf(stream);
  if (s == nullptr) return;
  size = std::min(size, s->unconsumed);
  s->unconsumed -= size;
  nghttp2_session_consume(session_.get(), stream, size);
}

void ClientCodec::ResetStream(int32_t stream, uint32_t code) {
  Stream* s = failed_ ? nullptr : StreamOf(stream);
  if (s == nullptr) return;
  s->owner_reset = true;
  // A request still queued is cancelled and closed with `code` when its turn comes.
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream, code);
}

void ClientCodec::Ping() {
  if (!failed_) nghttp2_submit_ping(session_.get(), NGHTTP2_FLAG_NONE, nullptr);
}

bool ClientCodec::Retryable(const Stream& s, uint32_t code) const {
  if (s.response_started) return false;
  return code == NGHTTP2_REFUSED_STREAM || (goaway_received_ && s.id > goaway_last_id_);
}

void ClientCodec::Release(Stream& s, uint32_t code) {
  const int32_t id = s.id;
  const bool retryable = Retryable(s, code);
  s.Reset(0);  // first: the owner's calls for `id` from inside the callback find no stream
  --open_streams_;
  free_.push_back(&s);
  callbacks_.OnStreamClose(id, code, retryable);
}

void ClientCodec::CloseAll(uint32_t code) {
  // By index: a callback may submit a request, which can grow streams_.
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (streams_[i]->id != 0) Release(*streams_[i], code);
  }
}

// ---- nghttp2 callbacks (static, `user_data` is the codec) ----

int ClientCodec::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  // A PUSH_PROMISE names its associated stream: its fields are not that stream's.
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  if (Stream* s = Self(user_data)->StreamOf(frame->hd.stream_id)) {
    s->fields.Clear();
    s->status = 0;
    s->response_started = true;
  }
  return 0;
}

int ClientCodec::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                          void* user_data) {
  Stream* s = Self(user_data)->StreamOf(frame->hd.stream_id);
  if (s == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  if (n == ":status") {
    // nghttp2's HTTP messaging checks have made it three digits, once, in a response head.
    std::from_chars(v.data(), v.data() + v.size(), s->status);
    return 0;
  }
  // Past its limits the section keeps nothing: an HPACK bomb costs decoding, not memory.
  s->fields.Add(n, v);
  return 0;
}

void ClientCodec::HeadersDone(Stream& s, bool end_stream) {
  if (s.reset_sent) return;
  if (s.fields.over_limit()) {
    s.reset_sent = true;
    ++stats_.headers_too_large;
    ChargeLocalReset();
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, s.id, NGHTTP2_ENHANCE_YOUR_CALM);
    return;
  }
  const std::span<const http::Header> fields = s.fields.Finish();
  if (s.final_head) {  // trailers (nghttp2 requires END_STREAM on them)
    callbacks_.OnResponseEnd(s.id, fields);
    return;
  }
  http::ResponseHead& head = s.head;
  head = http::ResponseHead{};
  head.status = s.status;
  head.headers.assign(fields.begin(), fields.end());
  head.body = end_stream || s.status < 200 ? http::BodyKind::kNone : http::BodyKind::kChunked;
  for (const http::Header& h : fields) {
    // nghttp2 has checked the value is 1*DIGIT and every copy agrees.
    if (!http::fields::NameIs(h.name, "content-length")) continue;
    std::from_chars(h.value.data(), h.value.data() + h.value.size(), head.content_length);
    if (head.body == http::BodyKind::kChunked) head.body = http::BodyKind::kContentLength;
  }
  s.final_head = s.status >= 200;
  callbacks_.OnResponseHead(s.id, head, end_stream);
}

int ClientCodec::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  ClientCodec* self = Self(user_data);
  const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  Stream* const s = self->StreamOf(frame->hd.stream_id);
  if (end && s != nullptr) s->response_ended = true;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (s != nullptr) self->HeadersDone(*s, end);
      break;
    case NGHTTP2_DATA:
      self->CountEmptyData(*frame);
      if (s != nullptr && end && s->final_head && !s->over_window && !s->reset_sent) {
        self->callbacks_.OnResponseEnd(s->id, {});
      }
      break;
    case NGHTTP2_RST_STREAM:
      if (frame->rst_stream.error_code == NGHTTP2_REFUSED_STREAM) ++self->stats_.streams_refused;
      // Only a reset that ends a live exchange is budgeted. RST_STREAM NO_ERROR after a whole
      // response just stops a request body the backend does not need (RFC 9113 §8.1), and
      // one for a stream already closed ends nothing: nginx sends one of these after every
      // answer it gives without reading the body, and charged, they ended a busy connection
      // every 1,000 answers (scripts/bench --h2's gRPC backend).
      if (s != nullptr &&
          (frame->rst_stream.error_code != NGHTTP2_NO_ERROR || !s->response_ended)) {
        self->ChargePeerReset();
      }
      break;
    case NGHTTP2_GOAWAY:
      // nghttp2 closes the streams above last_stream_id right after this returns.
      self->goaway_received_ = true;
      self->goaway_last_id_ = frame->goaway.last_stream_id;
      self->callbacks_.OnGoaway(frame->goaway.last_stream_id, frame->goaway.error_code);
      break;
    case NGHTTP2_PING:
      if (frame->hd.flags & NGHTTP2_FLAG_ACK) ++self->pings_acked_;
      break;
    default:
      break;
  }
  return self->CallbackResult();
}

int ClientCodec::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream, const uint8_t* data,
                             size_t len, void* user_data) {
  ClientCodec* self = Self(user_data);
  Stream* s = self->StreamOf(stream);
  if (s == nullptr || !s->final_head || s->reset_sent) {
    // Nobody will consume these: give the window back now.
    nghttp2_session_consume(session, stream, len);
    return 0;
  }
  if (self->PastWindow(stream, s->unconsumed, len, s->over_window)) return 0;
  s->unconsumed += len;
  self->callbacks_.OnResponseData(stream, data, len);
  return 0;
}

int ClientCodec::OnStreamClosed(nghttp2_session* session, int32_t stream, uint32_t error_code,
                                void* user_data) {
  ClientCodec* self = Self(user_data);
  Stream* s = self->StreamOf(stream);
  if (s == nullptr) return 0;
  // The owner will not consume a closed stream's bytes: return them to the connection.
  if (s->unconsumed > 0) nghttp2_session_consume_connection(session, s->unconsumed);
  self->Release(*s, error_code);
  return 0;
}

int ClientCodec::OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  ClientCodec* self = Self(user_data);
  if (frame->hd.type == NGHTTP2_RST_STREAM) {
    Stream* s = self->StreamOf(frame->hd.stream_id);
    // A reset nghttp2 sent on the backend's account (a malformed response): MadeYouReset.
    const bool charged = s != nullptr && (s->owner_reset || s->reset_sent);
    if (frame->rst_stream.error_code != NGHTTP2_NO_ERROR && !charged) self->ChargeLocalReset();
  } else if (frame->hd.type == NGHTTP2_GOAWAY) {
    self->GoawaySent(*frame);
  }
  return self->CallbackResult();
}

ssize_t ClientCodec::ReadBody(nghttp2_session* session, int32_t stream, uint8_t*, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* user_data) {
  ClientCodec* self = Self(user_data);
  Stream* s = self->StreamOf(stream);
  if (s == nullptr) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return ReadBufferedBody(session, stream, self->callbacks_.RequestBody(stream), length, flags,
                          s->body_end);
}

int ClientCodec::SendBody(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                          size_t length, nghttp2_data_source*, void* user_data) {
  ClientCodec* self = Self(user_data);
  return SendBufferedBody(self->callbacks_.RequestBody(frame->hd.stream_id), self->out_, framehd,
                          length, self->high_water_);
}

}  // namespace outrigger::http2
