// ClientCodec: the proxy's side of one HTTP/2 backend connection, over nghttp2; the mirror of
// ServerCodec. Bytes in, bytes out, one event per stream change to a ClientCodecCallbacks; it
// knows nothing of sockets, TLS or pools (the owner moves bytes and matches streams to
// exchanges). nghttpx's backend session is the model: many requests multiplexed on one
// connection, each a stream, so gRPC calls are balanced per call, not per connection.
//
// Requests: SubmitRequest turns an HTTP/1-style head into HTTP/2 (ResponseFields::
// BuildRequest: pseudo-fields first, connection-specific fields and Host dropped, "te:
// trailers" kept). A body moves from the owner's evbuffer (RequestBody) into `out` without a
// copy, and a stream whose buffer is empty waits for ResumeData, as in ServerCodec.
//
// Flow control follows backpressure: automatic WINDOW_UPDATE is off. Response DATA handed to
// OnResponseData stays charged to the stream's and the connection's windows
// (CodecLimits::stream_window / connection_window) until the owner calls Consume as its client
// takes the bytes, so a slow client stops the backend at the window, never grows a buffer.
//
// Concurrency: CanOpenStream() is false once streams_in_flight() reaches the smaller of the
// peer's SETTINGS_MAX_CONCURRENT_STREAMS and CodecLimits::max_concurrent_streams (or after a
// GOAWAY, or once stream ids run out), so a pool opens another connection instead.
//
// Retrying: OnStreamClose's `retryable` is true when the backend never processed the request
// (RFC 9113 §8.7): it was refused (RST_STREAM REFUSED_STREAM), or its id is above a GOAWAY's
// last stream id, or it was never sent because a GOAWAY came first; and no response byte was
// received. Such a request may be sent again, on another connection, whatever its method.
//
// Limits, as ServerCodec counts them in CodecStats (the backend may be hostile or broken):
// response head and trailer list size / field count (the stream is reset ENHANCE_YOUR_CALM,
// headers_too_large), CONTINUATION frames per block, peer resets (rapid_resets) and resets the
// peer makes us send (local_reset_floods), queued control-frame replies, empty DATA frames,
// SETTINGS entries, HPACK errors, other protocol errors. A connection error (nghttp2's or a
// budget of ours) makes Receive return false; every open stream then gets its OnStreamClose
// with the GOAWAY's code, once Send writes that GOAWAY (CodecCore, shared with ServerCodec).
//
// Callbacks are made from inside Receive and Send only. From a callback the owner may call
// Consume, SubmitRequest, ResumeData, FinishRequest, SubmitTrailers, ResetStream and Goaway,
// never Receive or Send (nghttp2 is not reentrant), and must not destroy the codec. Not
// thread-safe; one loop. Destroying the codec calls nothing: the owner forgets its streams.
#pragma once

#include <event2/buffer.h>
#include <nghttp2/nghttp2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"
#include "proxy/http2/codec_common.h"
#include "proxy/http2/codec_core.h"
#include "proxy/http2/nghttp2_handles.h"
#include "proxy/http2/request_trailers.h"

namespace outrigger::http2 {

// What the codec tells its owner. Every stream SubmitRequest opened gets exactly one
// OnStreamClose, last; its id means nothing to the codec afterwards.
class ClientCodecCallbacks {
 public:
  // A response head: 1xx interim heads (any number, `end_stream` false), then one final head.
  // `head` (status and fields, views into the codec) is valid during the call only; its
  // body is kNone with `end_stream`, kContentLength when the backend declared one, else
  // kChunked. `end_stream`: no body and no trailers follow (no OnResponseEnd either).
  virtual void OnResponseHead(int32_t stream, const http::ResponseHead& head, bool end_stream) = 0;
  // Response body bytes, charged to the windows until Consume(stream, size).
  virtual void OnResponseData(int32_t stream, const uint8_t* data, size_t size) = 0;
  // The response ended, with trailers (views valid during the call) or none.
  virtual void OnResponseEnd(int32_t stream, std::span<const http::Header> trailers) = 0;
  // nghttp2 forgot the stream: NGHTTP2_NO_ERROR after a complete exchange, otherwise the
  // RST_STREAM code (the backend's, the owner's or the codec's) or the GOAWAY's. `retryable`:
  // see the contract above.
  virtual void OnStreamClose(int32_t stream, uint32_t error_code, bool retryable) = 0;
  // The backend sent GOAWAY: no new stream may be opened. Streams above `last_stream_id`
  // were never processed and are closed (retryable) right after this call; those at or
  // below it finish, unless `error_code` is not NO_ERROR (the backend is about to close).
  virtual void OnGoaway(int32_t last_stream_id, uint32_t error_code) = 0;
  // The evbuffer holding `stream`'s request body, owned by the owner; asked for whenever
  // DATA may be sent. REQUIRES: non-null for a stream submitted with has_body.
  virtual evbuffer* RequestBody(int32_t stream) = 0;

 protected:
  ~ClientCodecCallbacks() = default;
};

class ClientCodec : public CodecCore {
 public:
  // Queues the connection preface, our SETTINGS (no push) and the connection window's
  // WINDOW_UPDATE for Send.
  ClientCodec(ClientCodecCallbacks& callbacks, const CodecLimits& limits);
  ~ClientCodec();
  // Receive (backend bytes), Send, WantsRead, WantsWrite, Goaway and stats are
  // CodecCore's. Goaway(NO_ERROR) lets open streams finish and opens no new one.

  // A new stream may be opened now (see the contract above).
  bool CanOpenStream() const;
  size_t streams_in_flight() const { return open_streams_; }
  // The backend's SETTINGS_MAX_CONCURRENT_STREAMS (unbounded until its SETTINGS arrive).
  uint32_t peer_max_concurrent_streams() const;

  // Opens a stream for `head` (`scheme`: "http" or "https", for :scheme). With `has_body`,
  // DATA comes from RequestBody(stream) until FinishRequest or SubmitTrailers; without, the
  // HEADERS frame ends the request. Returns the stream id, or -1 (CanOpenStream() false, or a
  // CONNECT head). The frames go out with the next Send.
  int32_t SubmitRequest(const http::RequestHead& head, std::string_view scheme, bool has_body);
  // More body bytes are in RequestBody(stream).
  void ResumeData(int32_t stream);
  // The body ends when RequestBody(stream) runs empty: with END_STREAM, or with trailers.
  void FinishRequest(int32_t stream);
  void SubmitTrailers(int32_t stream, std::span<const http::Header> trailers);

  // The owner has taken `size` response body bytes of `stream`: reopens that much of the
  // stream's and the connection's windows. No-op once the stream closed.
  void Consume(int32_t stream, size_t size);
  // RST_STREAM `code` (CANCEL when the client went away): the owner's, not charged to the
  // codec's reset budget. OnStreamClose follows once it is sent.
  void ResetStream(int32_t stream, uint32_t code = NGHTTP2_CANCEL);
  // Queues a PING; pings_acked() counts the answers, for a liveness check.
  void Ping();
  uint64_t pings_acked() const { return pings_acked_; }

 private:
  struct Stream;
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

  Stream* StreamOf(int32_t stream) const;
  void HeadersDone(Stream& s, bool end_stream);
  bool Retryable(const Stream& s, uint32_t code) const;
  void Release(Stream& s, uint32_t code);
  void CloseAll(uint32_t code) override;
  bool Terminating() const override;

  ClientCodecCallbacks& callbacks_;
  std::vector<std::unique_ptr<Stream>> streams_;  // grows to the most ever open at once
  std::vector<Stream*> free_;
  size_t open_streams_ = 0;
  bool goaway_received_ = false;
  int32_t goaway_last_id_ = 0;
  uint64_t pings_acked_ = 0;
  ResponseFields head_fields_;  // scratch for SubmitRequest (nghttp2 copies the fields)
};

}  // namespace outrigger::http2
