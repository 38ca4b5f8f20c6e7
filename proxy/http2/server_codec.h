// ServerCodec: the server side of one HTTP/2 client connection, over nghttp2. Bytes in,
// bytes out, one event per stream change to a ServerCodecCallbacks; it knows nothing of
// sockets, TLS or backends (the owner, Http2Session, moves bytes and serves streams).
//
// Why nghttp2 and not our own framing: HPACK, flow control and the stream state machine are
// large and subtle, and nghttp2's are fuzzed and deployed (nghttpx, curl). What nghttp2 does
// not do, this class adds: RFC 9113 §8.2.2 request checks and the 431 limits (through
// RequestFields), backpressure-driven flow control, and the reset budgets below.
//
// Flow control follows backpressure, never the codec's own buffering:
//   - input: automatic WINDOW_UPDATE is off. Request DATA handed to OnStreamData stays
//     charged to the stream's 64 KiB and the connection's 1 MiB window until the owner calls
//     Consume as the upstream takes it, so a client can never make the proxy hold more than
//     its windows.
//   - output: Send produces frames only while `out` holds less than its high-water mark;
//     response DATA moves from the stream's body evbuffer (ResponseBody) into `out` without
//     a copy (evbuffer_remove_buffer), and a stream whose body buffer is empty is deferred
//     until ResumeData.
//
// Limits (CodecLimits, codec_common.h), each counted in CodecStats; those marked GOAWAY end the
// connection:
//   concurrent streams 100 (SETTINGS; the 101st is refused)   streams_refused
//     (REFUSED_STREAM; once the client has acknowledged our SETTINGS, nghttp2 makes it a
//     connection error: GOAWAY PROTOCOL_ERROR, counted in protocol_errors)
//   header list 32 KiB / 100 fields (431; for trailers, the     headers_too_large
//     stream is reset ENHANCE_YOUR_CALM)
//   CONTINUATION frames 8 per header block (GOAWAY)             continuation_floods
//   peer resets: burst 1000, 33/s (Rapid Reset; GOAWAY)         rapid_resets
//   resets the codec sends (MadeYouReset; GOAWAY)               local_reset_floods
//   queued control-frame replies 1000 (PING/SETTINGS; GOAWAY)   control_floods
//   consecutive empty DATA frames 1, as Envoy (GOAWAY)          empty_frame_floods
//   SETTINGS entries per frame 32 (GOAWAY)                      settings_floods
//   HPACK table 4 KiB both ways; decoding errors (GOAWAY)       hpack_errors
//   any other connection error, the client preface included    protocol_errors
// The connection half (Receive, Send, Goaway, the GOAWAY after a fatal error or a spent
// budget) is CodecCore's, shared with ClientCodec.
//
// Stream state lives in a fixed table of max_concurrent_streams slots, allocated once; a
// slot (its RequestFields and RequestHead included) is reused by the next stream.
//
// Callbacks are made from inside Receive and Send only. From a callback the owner may call
// Consume, Submit*, ResumeData, FinishResponse, ResetStream and Goaway, never Receive or Send
// (nghttp2 is not reentrant), and must not destroy the codec. Not thread-safe; one loop.
#pragma once

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "proxy/http/message.h"
#include "proxy/http2/codec_common.h"
#include "proxy/http2/codec_core.h"
#include "proxy/http2/nghttp2_handles.h"
#include "proxy/http2/request_fields.h"
#include "proxy/http2/request_trailers.h"
#include "proxy/http2/reset_budget.h"
#include "proxy/http2/response_fields.h"

namespace outrigger::http2 {

// What the codec tells its owner. Every stream that got OnStreamHead gets exactly one
// OnStreamClose, last; its id means nothing to the codec afterwards.
class ServerCodecCallbacks {
 public:
  // A request head that passed RequestFields. `head` (views into the codec) stays valid until
  // OnStreamClose. `end_stream`: no body and no trailers follow (no OnStreamEnd either).
  virtual void OnStreamHead(int32_t stream, http::RequestHead& head, bool end_stream) = 0;
  // Request body bytes, charged to the windows until Consume(stream, size).
  virtual void OnStreamData(int32_t stream, const uint8_t* data, size_t size) = 0;
  // The request ended, with trailers (views valid until OnStreamClose) or none.
  virtual void OnStreamEnd(int32_t stream, std::span<const http::Header> trailers) = 0;
  // nghttp2 forgot the stream: NGHTTP2_NO_ERROR after a complete exchange, otherwise the
  // RST_STREAM code (the client's, the owner's or the codec's) or the GOAWAY's.
  virtual void OnStreamClose(int32_t stream, uint32_t error_code) = 0;
  // The evbuffer holding `stream`'s response body, owned by the owner; asked for whenever
  // DATA may be sent. REQUIRES: non-null for a stream submitted with has_body.
  virtual evbuffer* ResponseBody(int32_t stream) = 0;

 protected:
  ~ServerCodecCallbacks() = default;
};

class ServerCodec : public CodecCore {
 public:
  // Queues the server's SETTINGS and the connection window's WINDOW_UPDATE for Send.
  ServerCodec(ServerCodecCallbacks& callbacks, const CodecLimits& limits);
  ~ServerCodec();
  // Receive (client bytes, the preface first), Send, WantsRead, WantsWrite, Goaway and
  // stats are CodecCore's; after Goaway with an error code, every open stream gets
  // OnStreamClose(error_code) once Send has written the GOAWAY.

  // The owner has taken `size` body bytes of `stream` off the codec's hands: reopens that much
  // of the stream's and the connection's windows. No-op once the stream closed (its bytes
  // were returned to the connection then).
  void Consume(int32_t stream, size_t size);

  // A response head (1xx: informational, any number before the final one). HTTP/1 fields
  // become HTTP/2 ones: lowercase, connection-specific ones (and those Connection names)
  // dropped, :status first. With `has_body`, DATA comes from ResponseBody(stream) until
  // FinishResponse or SubmitTrailers. False if the stream is gone, a final head was already
  // submitted, or the call is invalid.
  bool SubmitResponse(int32_t stream, const http::ResponseHead& head, bool has_body);
  // More body bytes are in ResponseBody(stream).
  void ResumeData(int32_t stream);
  // The body ends when ResponseBody(stream) runs empty: with END_STREAM, or with trailers.
  void FinishResponse(int32_t stream);
  void SubmitTrailers(int32_t stream, std::span<const http::Header> trailers);
  // RST_STREAM `code` (the owner's: not charged to the codec's reset budget).
  void ResetStream(int32_t stream, uint32_t code);
  size_t open_streams() const { return open_streams_; }

 private:
  struct Slot;
  // The slot of a stream the owner was given (OnStreamHead) and not yet closed: an id it was
  // never given, such as one the codec is refusing, is no stream to it.
  Slot* OwnedSlot(int32_t stream) const;
  bool SubmitHead(Slot& slot, const http::ResponseHead& head, bool has_body);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t*, size_t,
                      const uint8_t*, size_t, uint8_t, void*);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame*, void*);
  static int OnDataChunk(nghttp2_session*, uint8_t, int32_t, const uint8_t*, size_t, void*);
  static int OnStreamClosed(nghttp2_session*, int32_t, uint32_t, void*);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame*, void*);
  static ssize_t ReadBody(nghttp2_session*, int32_t, uint8_t*, size_t, uint32_t*,
                          nghttp2_data_source*, void*);
  static int SendBody(nghttp2_session*, nghttp2_frame*, const uint8_t*, size_t,
                      nghttp2_data_source*, void*);

  Slot* SlotOf(int32_t stream) const;
  void HeadersDone(Slot& slot, bool end_stream);
  void Refuse(Slot& slot, int status);
  // Each stream the owner was given gets its OnStreamClose(`code`).
  void CloseAll(uint32_t code) override;

  ServerCodecCallbacks& callbacks_;
  std::vector<Slot> slots_;  // fixed size: max_concurrent_streams
  std::vector<Slot*> free_;
  size_t open_streams_ = 0;
  ResponseFields head_fields_;  // scratch for SubmitResponse (nghttp2 copies the fields)
};

}  // namespace outrigger::http2
