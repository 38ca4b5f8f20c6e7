// H2Connection: one HTTP/2 connection from a worker to a backend of a `protocol: h2` pool: a
// net::Stream (h2c, or TLS with ALPN h2 when the caller set a filter) and a ClientCodec, and
// the H2StreamOwner that holds each open stream. Many requests share it, one stream each, up
// to the backend's SETTINGS_MAX_CONCURRENT_STREAMS (ClientCodec::CanOpenStream), so gRPC
// calls are balanced per call, not per connection (nghttpx's backend http2_session).
//
// Counting: it is one connection in use on its Backend from construction to destruction,
// whatever its streams (circuit_breaker.max_connections caps connections, not streams).
//
// Owners: Open gives a stream to an owner, which then hears of it through H2StreamOwner until
// OnH2Close (exactly once, last) or until it Cancels the stream (then nothing more). Owner
// callbacks run inside the connection's own loop callbacks; from one, an owner may call any
// public method of this or another H2Connection (Open, ResumeData, FinishRequest, Consume,
// Cancel), never destroy one. Those methods never call an owner back: what they queue is sent
// from a loop callback of the connection's own (an event made active, so later in the same
// loop iteration), where owners may hear of anything.
//
// Death: the backend closing, a transport error, a codec connection error, or a GOAWAY after
// which no stream is left, makes it dead(): every owner still holding a stream gets OnH2Close
// (a transport loss: INTERNAL_ERROR, not retryable, for the request may have been processed,
// unless the connection never connected: then retryable),
// then `on_dead(this)` runs as the connection's last act, and whoever owns it (H2Pool) may
// destroy it there. An idle connection (no stream) reads with the pool's idle timeout; with
// streams open it has no read timeout of its own: each request keeps its own deadline.
//
// Loop affinity: the worker loop that created it.
#pragma once

#include <event2/buffer.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proxy/http/message.h"
#include "proxy/http2/client_codec.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"
#include "proxy/upstream/backend.h"

namespace outrigger::upstream {

// The one a stream of an H2Connection serves (an attempt at the backend).
class H2StreamOwner {
 public:
  // A response head (1xx any number of times, then one final); views valid during the call.
  virtual void OnH2Head(const http::ResponseHead& head, bool end_stream) = 0;
  // Response body bytes, charged to the stream's window until H2Connection::Consume.
  virtual void OnH2Data(const uint8_t* data, size_t size) = 0;
  // The response ended, with trailers (views valid during the call) or none.
  virtual void OnH2End(std::span<const http::Header> trailers) = 0;
  // The stream is over: NO_ERROR after a complete exchange, else the RST_STREAM or GOAWAY
  // code. `retryable`: the backend never processed the request (ClientCodec's contract).
  virtual void OnH2Close(uint32_t code, bool retryable) = 0;
  // The evbuffer holding the request body still to send (non-null while the stream is open).
  virtual evbuffer* H2RequestBody() = 0;
  // The connection sent what H2RequestBody() held: room for more (the owner's backpressure
  // on its client lifts here).
  virtual void OnH2BodyDrained() {}

 protected:
  ~H2StreamOwner() = default;
};

class H2Connection final : private http2::ClientCodecCallbacks {
 public:
  using OnDead = std::function<void(H2Connection*)>;

  // `stream`: connecting or connected to `backend` (with its TLS filter for an https pool:
  // `scheme` "https"). Queues the connection preface at once.
  H2Connection(event_base* base, std::unique_ptr<net::Stream> stream,
               std::shared_ptr<Backend> backend, const http2::CodecLimits& limits,
               std::string scheme, std::chrono::milliseconds idle_timeout, OnDead on_dead);
  ~H2Connection();
  H2Connection(const H2Connection&) = delete;
  H2Connection& operator=(const H2Connection&) = delete;

  // A new stream may be opened now: alive, no GOAWAY, under the concurrency limits.
  bool CanOpenStream() const { return !dead_ && codec_.CanOpenStream(); }
  // Opens a stream for `head` (an HTTP/1-style head: Host becomes :authority) served by
  // `owner`; returns its id, or -1 (CanOpenStream() false, or a head HTTP/2 cannot carry).
  int32_t Open(const http::RequestHead& head, bool has_body, H2StreamOwner* owner);
  // More body bytes are in the owner's H2RequestBody().
  void ResumeData(int32_t stream);
  // The body ends once H2RequestBody() runs empty (END_STREAM), or with `trailers`.
  void FinishRequest(int32_t stream);
  void FinishRequestWithTrailers(int32_t stream, std::span<const http::Header> trailers);
  // The owner's client took `size` body bytes: the windows reopen by as much.
  void Consume(int32_t stream, size_t size);
  // The owner's exchange is complete: it hears nothing more of the stream, which ends as the
  // codec sees fit (no reset).
  void Release(int32_t stream);
  // The owner leaves (its client went, or it gave up): RST_STREAM `code`, and the owner hears
  // nothing more of the stream.
  void Cancel(int32_t stream, uint32_t code = NGHTTP2_CANCEL);
  // No new stream; open ones finish (drain, a reload dropping the backend).
  void Shutdown();

  Backend* backend() const { return backend_.get(); }
  bool dead() const { return dead_; }
  // The TCP connect (and TLS handshake) never completed: nothing reached the backend.
  bool never_connected() const { return !connected_; }
  size_t streams() const { return owners_.size(); }
  const http2::CodecStats& stats() const { return codec_.stats(); }
  // Where the codec's limit hits go (metrics): `sink(i, n)`, i indexing
  // http2::kCodecStatFields, at the end of each loop callback in which they grew.
  using StatsSink = std::function<void(size_t index, uint64_t n)>;
  void set_stats_sink(StatsSink sink) { stats_sink_ = std::move(sink); }

 private:
  static void OnRead(void* self);
  static void OnDrained(void* self);
  static void OnEvent(short what, void* self);
  static void OnSendSoon(evutil_socket_t, short, void* self);

  // ClientCodecCallbacks: to the stream's owner.
  void OnResponseHead(int32_t stream, const http::ResponseHead& head, bool end_stream) override;
  void OnResponseData(int32_t stream, const uint8_t* data, size_t size) override;
  void OnResponseEnd(int32_t stream, std::span<const http::Header> trailers) override;
  void OnStreamClose(int32_t stream, uint32_t error_code, bool retryable) override;
  void OnGoaway(int32_t last_stream_id, uint32_t error_code) override;
  evbuffer* RequestBody(int32_t stream) override;

  H2StreamOwner* OwnerOf(int32_t stream) const;
  // Has the codec's frames sent from a loop callback of ours: at its end when one is
  // running, else from send_soon_.
  void SendSoon();
  // Codec frames into the stream's output and out to the socket; false on a fatal error.
  bool SendNow();
  // The connection can do no more: every owner left hears OnH2Close, then on_dead.
  void Die();
  // Ends a loop callback: sends, then, if the connection can do nothing more, fails the
  // streams left and reports it dead (its last act: `on_dead` may destroy it).
  void Settle(bool transport_ok);
  void UpdateTimeout();

  std::unique_ptr<net::Stream> stream_;
  net::EventPtr send_soon_;
  std::shared_ptr<Backend> backend_;  // alive as long as the connection, past a reload
  http2::ClientCodec codec_;
  std::string scheme_;
  std::chrono::milliseconds idle_timeout_;
  OnDead on_dead_;
  StatsSink stats_sink_;
  http2::CodecStats counted_;  // the part of codec_.stats() given to stats_sink_
  absl::flat_hash_map<int32_t, H2StreamOwner*> owners_;
  std::vector<int32_t> drained_;  // streams whose body ran empty in this Send
  net::EvBufferPtr empty_;        // a cancelled stream's body: nghttp2 may still ask for it
  bool in_callback_ = false;
  bool connected_ = false;
  bool dead_ = false;
  bool idle_timer_ = false;  // the idle read timeout is set
};

}  // namespace outrigger::upstream
