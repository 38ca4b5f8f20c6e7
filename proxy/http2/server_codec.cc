#include "proxy/http2/server_codec.h"

#include <algorithm>

namespace outrigger::http2 {
namespace {

ServerCodec* Self(void* user_data) { return static_cast<ServerCodec*>(user_data); }

}  // namespace

struct ServerCodec::Slot {
  explicit Slot(RequestFields::Limits l) : fields(l), trailers(l) {}
  void Reset(int32_t stream) {
    id = stream;
    fields.Clear();
    trailers.Clear();
    unconsumed = 0;
    delivered = refused = owner_reset = over_window = false;
    final_submitted = false;
    body_end.Clear();
  }

  int32_t id = 0;
  RequestFields fields;
  http::RequestHead head;
  RequestTrailers trailers;
  size_t unconsumed = 0;         // body bytes given to the owner and not yet consumed
  bool delivered = false;        // OnStreamHead was called: OnStreamClose is owed
  bool refused = false;          // the codec answered the head itself
  bool owner_reset = false;      // ResetStream: not the codec's reset
  bool over_window = false;      // DATA came past the stream's window: deliver no more
  bool final_submitted = false;  // a final (non-1xx) response head was submitted
  BodyEnd body_end;              // of the response
};

ServerCodec::ServerCodec(ServerCodecCallbacks& callbacks, const CodecLimits& limits)
    : CodecCore(limits), callbacks_(callbacks) {
  slots_.reserve(limits_.max_concurrent_streams);
  for (uint32_t i = 0; i < limits_.max_concurrent_streams; ++i) slots_.emplace_back(limits.fields);
  for (Slot& s : slots_) free_.push_back(&s);

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
  // nghttp2's own reset limiter stays on as a backstop; ours (OnFrameRecv) counts first.
  nghttp2_option_set_stream_reset_rate_limit(opt.get(), limits_.peer_reset_burst + 1,
                                             limits_.peer_reset_per_second);
  nghttp2_option_set_max_outbound_ack(opt.get(), limits_.max_outbound_ack);
  nghttp2_option_set_max_settings(opt.get(), limits_.max_settings);
  // Our encoder keeps no dynamic table, as HAProxy's keeps none: fields that change with
  // every response (date, x-request-id) churn it, and searching it cost more per response
  // than the few bytes it saved (scripts/bench --h2 --counts).
  nghttp2_option_set_max_deflate_dynamic_table_size(opt.get(), 0);
  nghttp2_session* s = nullptr;
  if (nghttp2_session_server_new2(&s, cbs.get(), this, opt.get()) != 0) throw std::bad_alloc();
  session_.reset(s);

  const nghttp2_settings_entry settings[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window},
      {NGHTTP2_SETTINGS_HEADER_TABLE_SIZE, limits_.hpack_table_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, uint32_t(limits_.fields.max_list_size)},
  };
  // Only NOMEM can fail these, on a session that has just been made.
  nghttp2_submit_settings(s, NGHTTP2_FLAG_NONE, settings, std::size(settings));
  nghttp2_session_set_local_window_size(s, NGHTTP2_FLAG_NONE, 0,
                                        int32_t(limits_.connection_window));
}

ServerCodec::~ServerCodec() = default;

ServerCodec::Slot* ServerCodec::SlotOf(int32_t stream) const {
  return static_cast<Slot*>(nghttp2_session_get_stream_user_data(session_.get(), stream));
}

ServerCodec::Slot* ServerCodec::OwnedSlot(int32_t stream) const {
  Slot* slot = failed_ ? nullptr : SlotOf(stream);
  return slot != nullptr && slot->delivered ? slot : nullptr;
}

void ServerCodec::Consume(int32_t stream, size_t size) {
  Slot* slot = OwnedSlot(stream);
  if (slot == nullptr) return;
  size = std::min(size, slot->unconsumed);
  slot->unconsumed -= size;
  nghttp2_session_consume(session_.get(), stream, size);
}

bool ServerCodec::SubmitResponse(int32_t stream, const http::ResponseHead& head, bool has_body) {
  Slot* slot = OwnedSlot(stream);
  return slot != nullptr && SubmitHead(*slot, head, has_body);
}

bool ServerCodec::SubmitHead(Slot& slot, const http::ResponseHead& head, bool has_body) {
  const int32_t stream = slot.id;
  if (failed_ || head.status < 100 || head.status > 999) return false;
  // After the final head nothing but DATA and trailers may follow (RFC 9113 §8.1); nghttp2
  // would send a second HEADERS the client must treat as malformed.
  if (slot.final_submitted) return false;
  head_fields_.Build(head.status, head.headers);
  if (head.status < 200) {
    return nghttp2_submit_headers(session_.get(), NGHTTP2_FLAG_NONE, stream, nullptr,
                                  head_fields_.data(), head_fields_.size(), nullptr) == 0;
  }
  nghttp2_data_provider body{};
  body.read_callback = ReadBody;
  slot.final_submitted =
      nghttp2_submit_response(session_.get(), stream, head_fields_.data(), head_fields_.size(),
                              has_body ? &body : nullptr) == 0;
  return slot.final_submitted;
}

void ServerCodec::ResumeData(int32_t stream) {
  if (OwnedSlot(stream) != nullptr) nghttp2_session_resume_data(session_.get(), stream);
}

void ServerCodec::FinishResponse(int32_t stream) {
  Slot* slot = OwnedSlot(stream);
  if (slot == nullptr) return;
  slot->body_end.ends = true;
  ResumeData(stream);
}

void ServerCodec::SubmitTrailers(int32_t stream, std::span<const http::Header> trailers) {
  Slot* slot = OwnedSlot(stream);
  if (slot == nullptr) return;
  slot->body_end.SetTrailers(trailers);
  ResumeData(stream);
}

void ServerCodec::ResetStream(int32_t stream, uint32_t code) {
  Slot* slot = OwnedSlot(stream);
  if (slot == nullptr) return;
  slot->owner_reset = true;
  nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, stream, code);
}

void ServerCodec::CloseAll(uint32_t code) {
  for (Slot& slot : slots_) {
    if (slot.id == 0) continue;
    const int32_t id = slot.id;
    const bool delivered = slot.delivered;
    nghttp2_session_set_stream_user_data(session_.get(), id, nullptr);
    slot.id = 0;
    --open_streams_;
    // The fields are reset after the callback, so the head's views stay valid through
    // OnStreamClose; with no user data and no id, the owner's calls for `id` from inside it
    // (a nested CloseAll included) find no stream.
    if (delivered) callbacks_.OnStreamClose(id, code);
    slot.Reset(0);
    free_.push_back(&slot);
  }
}

// ---- nghttp2 callbacks (static, `user_data` is the codec) ----

int ServerCodec::OnBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame,
                                void* user_data) {
  ServerCodec* self = Self(user_data);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  // nghttp2 refuses streams past SETTINGS_MAX_CONCURRENT_STREAMS before this, so a slot is
  // free; if not, the stream is reset rather than state allocated.
  if (self->free_.empty()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  Slot* slot = self->free_.back();
  self->free_.pop_back();
  slot->Reset(frame->hd.stream_id);
  ++self->open_streams_;
  nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, slot);
  return 0;
}

int ServerCodec::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name,
                          size_t namelen, const uint8_t* value, size_t valuelen, uint8_t,
                          void* user_data) {
  ServerCodec* self = Self(user_data);
  Slot* slot = self->SlotOf(frame->hd.stream_id);
  if (slot == nullptr) return 0;
  const std::string_view n(reinterpret_cast<const char*>(name), namelen);
  const std::string_view v(reinterpret_cast<const char*>(value), valuelen);
  // Past their limits both keep nothing: an HPACK bomb costs decoding, not memory.
  if (!slot->delivered) {
    slot->fields.Add(n, v);
  } else {
    slot->trailers.Add(n, v);
  }
  return 0;
}

void ServerCodec::HeadersDone(Slot& slot, bool end_stream) {
  if (slot.refused) return;
  if (!slot.delivered) {
    const http::ParseResult r = slot.fields.Finish(end_stream, &slot.head);
    if (r.status != http::ParseStatus::kDone) {
      Refuse(slot, r.http_status);
      return;
    }
    slot.delivered = true;
    callbacks_.OnStreamHead(slot.id, slot.head, end_stream);
    return;
  }
  // Trailers (nghttp2 requires END_STREAM on them).
  if (slot.trailers.over_limit()) {
    // Too late for a 431 (the request went on): the stream is reset instead.
    slot.refused = true;
    ++stats_.headers_too_large;
    ChargeLocalReset();
    nghttp2_submit_rst_stream(session_.get(), NGHTTP2_FLAG_NONE, slot.id,
                              NGHTTP2_ENHANCE_YOUR_CALM);
    return;
  }
  callbacks_.OnStreamEnd(slot.id, slot.trailers.Finish());
}

void ServerCodec::Refuse(Slot& slot, int status) {
  slot.refused = true;
  if (status == 431) {
    ++stats_.headers_too_large;
  } else {
    ++stats_.malformed_requests;
  }
  ChargeLocalReset();
  http::ResponseHead head;
  head.status = status;
  SubmitHead(slot, head, false);  // a body still coming is stopped once it is sent (OnFrameSend)
}

int ServerCodec::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
  ServerCodec* self = Self(user_data);
  const bool end = frame->hd.flags & NGHTTP2_FLAG_END_STREAM;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS:
      if (Slot* slot = self->SlotOf(frame->hd.stream_id)) self->HeadersDone(*slot, end);
      break;
    case NGHTTP2_DATA:
      self->CountEmptyData(*frame);
      if (Slot* slot = self->SlotOf(frame->hd.stream_id);
          slot && end && slot->delivered && !slot->over_window) {
        self->callbacks_.OnStreamEnd(slot->id, {});
      }
      break;
    case NGHTTP2_RST_STREAM:
      // Counted here, before nghttp2's own limiter sees it, so the GOAWAY is ours and counted.
      self->ChargePeerReset();
      break;
    default:
      break;
  }
  return self->CallbackResult();
}

int ServerCodec::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream, const uint8_t* data,
                             size_t len, void* user_data) {
  ServerCodec* self = Self(user_data);
  Slot* slot = self->SlotOf(stream);
  if (slot == nullptr || !slot->delivered) {
    // Nobody will consume these: give the window back now.
    nghttp2_session_consume(session, stream, len);
    return 0;
  }
  // nghttp2 answers DATA past the stream's window with RST_STREAM FLOW_CONTROL_ERROR.
  if (self->PastWindow(stream, slot->unconsumed, len, slot->over_window)) return 0;
  slot->unconsumed += len;
  self->callbacks_.OnStreamData(stream, data, len);
  return 0;
}

int ServerCodec::OnStreamClosed(nghttp2_session* session, int32_t stream, uint32_t error_code,
                                void* user_data) {
  ServerCodec* self = Self(user_data);
  Slot* slot = self->SlotOf(stream);
  if (slot == nullptr) return 0;
  // The owner will not consume a closed stream's bytes: return them to the connection.
  if (slot->unconsumed > 0) nghttp2_session_consume_connection(session, slot->unconsumed);
  nghttp2_session_set_stream_user_data(session, stream, nullptr);
  slot->id = 0;
  --self->open_streams_;
  // The fields are reset after the callback, as in CloseAll.
  if (slot->delivered) self->callbacks_.OnStreamClose(stream, error_code);
  slot->Reset(0);
  self->free_.push_back(slot);
  return 0;
}

int ServerCodec::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame,
                             void* user_data) {
  ServerCodec* self = Self(user_data);
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    // The answer is complete and the request is not: nobody reads the rest of its body (the
    // codec's own answer, or the owner's before the body's end), so RST_STREAM NO_ERROR tells
    // the client to stop sending it (RFC 9113 §8.1), as nginx and nghttpx do. Not before the
    // answer's end: nghttp2 drops a stream's queued frames once a reset is submitted.
    if (self->SlotOf(frame->hd.stream_id) != nullptr &&
        !nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id)) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
  } else if (frame->hd.type == NGHTTP2_RST_STREAM) {
    const uint32_t code = frame->rst_stream.error_code;
    if (code == NGHTTP2_REFUSED_STREAM) ++self->stats_.streams_refused;
    Slot* slot = self->SlotOf(frame->hd.stream_id);
    // A reset nghttp2 sent on the peer's account (a malformed frame, a refused stream): the
    // MadeYouReset budget. The owner's and the codec's own are charged where they are made.
    const bool charged = slot != nullptr && (slot->owner_reset || slot->refused);
    if (code != NGHTTP2_NO_ERROR && !charged) {
      self->ChargeLocalReset();
    }
  } else if (frame->hd.type == NGHTTP2_GOAWAY) {
    self->GoawaySent(*frame);
  }
  return self->CallbackResult();
}

ssize_t ServerCodec::ReadBody(nghttp2_session* session, int32_t stream, uint8_t*, size_t length,
                              uint32_t* flags, nghttp2_data_source*, void* user_data) {
  ServerCodec* self = Self(user_data);
  // Only the owner's streams have its body; the codec's own answers (Refuse) have none.
  Slot* slot = self->SlotOf(stream);
  if (slot == nullptr || !slot->delivered) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  return ReadBufferedBody(session, stream, self->callbacks_.ResponseBody(stream), length, flags,
                          slot->body_end);
}

int ServerCodec::SendBody(nghttp2_session*, nghttp2_frame* frame, const uint8_t* framehd,
                          size_t length, nghttp2_data_source*, void* user_data) {
  ServerCodec* self = Self(user_data);
  return SendBufferedBody(self->callbacks_.ResponseBody(frame->hd.stream_id), self->out_, framehd,
                          length, self->high_water_);
}

}  // namespace outrigger::http2
