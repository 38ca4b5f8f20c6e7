// Http2Session: one HTTP/2 client connection (h2 by ALPN, or h2c by prior knowledge) — its
// ClientSession (client_session.h) for every stream at once. A ServerCodec (proxy/http2/
// server_codec.h) turns the client's bytes into stream events; each request head goes to an
// Exchange of its own, served exactly as an HTTP/1 request is (route, plugins, pick,
// attempts), and what the Exchange sends comes back here to be framed as HTTP/2.
//
// Flow control is backpressure: request DATA stays charged to the client's windows until its
// upstream takes it (ServerCodec::Consume), and a response body is read from its backend only
// while the stream's body buffer and the client's output hold less than kHighWater.
//
// The request body reaches the Exchange framed as HTTP/1 (chunked when the client declared no
// length, its trailers in the last chunk), so that its BodyPump checks max_body and frames the
// upstream request as for an HTTP/1 client; response bodies come unframed (ClientFacts::
// unframed_bodies: the backend's chunk framing is removed by the Exchange's pump, and with
// it, for now, the backend's response trailers).
//
// Tunnels are refused: an Upgrade field is malformed on HTTP/2 (RFC 9113 §8.6, RequestFields
// answers 400) and CONNECT is answered 501.
//
// Ownership: made by the Http1Session that accepted the connection (the `carrier`) once it
// saw ALPN h2 or the h2c preface; the carrier keeps the socket (its net::Stream) and its
// place in the Worker, and passes the Worker's calls (drain, trim, snapshot swaps) on.
// Closing goes through the carrier (Worker::Retire). Loop affinity: the worker's loop.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/forward/client_session.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/limit_counters.h"
#include "proxy/http2/server_codec.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"

namespace outrigger::forward {

class Http1Session;
class Worker;

class Http2Session final : public ClientSession, private http2::ServerCodecCallbacks {
 public:
  // Takes `client`'s callbacks; the bytes already in its input are the client's first.
  Http2Session(Worker& worker, Http1Session& carrier, net::Stream& client,
               const ClientFacts& facts);
  ~Http2Session();
  Http2Session(const Http2Session&) = delete;
  Http2Session& operator=(const Http2Session&) = delete;

  // Reads what the client sent before the handover. REQUIRES: called once, after construction.
  void Start();
  // Worker calls through the carrier. Drain: GOAWAY NO_ERROR, open streams finish, then close.
  void OnDrain();
  void TrimIdle();
  void MoveListener(std::optional<size_t> index);

  // ClientSession's (also the carrier's): runs the codec's output and the streams' upstreams
  // once the loop has run every callback that is ready, so that the answers of all the
  // streams whose backends spoke in one loop iteration leave in one write (HAProxy does the
  // same), not one write per stream. The session's own client callbacks flush at once.
  void Flush() override;

  size_t open_streams() const { return codec_.open_streams(); }
  const http2::CodecStats& codec_stats() const { return codec_.stats(); }

 private:
  // One stream the codec gave a head, in a slot of a fixed table (max_concurrent_streams),
  // reused by later streams with its buffers.
  struct StreamSlot {
    Http2Session* session = nullptr;
    int32_t id = 0;                // 0: free
    std::unique_ptr<Exchange> ex;  // until the exchange ends (or the stream closes first)
    net::EvBufferPtr request;      // request body framed as HTTP/1, for ex->request_body
    net::EvBufferPtr response;     // response body for the codec (ResponseBody)
    std::string trailers;          // the backend's response trailers, HTTP/1 lines
    std::vector<http::Header> trailer_fields;  // views into `trailers`, for the codec
    uint64_t unconsumed = 0;                   // DATA bytes the codec charged and not yet Consume'd
    bool chunked = false;                      // the request body is framed chunked
    bool request_ended = false;                // OnStreamEnd came (or the head ended the stream)
    bool paused = false;                       // PauseRequestBody: the upstream holds kHighWater
    bool backed_up = false;                    // ResponseBackedUp said so: OnClientDrained is owed
    bool has_body = false;                     // the final response head was submitted with a body
    bool plugin_wait = false;                  // a plugin waits for a store's answer
  };

  // ClientSession (http2_streams.cc; see client_session.h for each contract).
  void ReleaseRequestHead(Exchange&) override {}  // the head's bytes are the codec's slot's
  BodyPump::Result PullRequestBody(Exchange& ex, evbuffer* to) override;
  void PauseRequestBody(Exchange& ex) override;
  void ResumeRequestBody(Exchange& ex) override;
  bool ClientGone(Exchange& ex) override;
  size_t SendResponseHead(Exchange& ex, http::ResponseHead& head) override;
  BodyPump::Result PushResponseBody(Exchange& ex, evbuffer* in) override;
  uint64_t PushEncodedBody(Exchange& ex, evbuffer* data, bool last) override;
  bool ResponseBackedUp(Exchange& ex) override;
  void SendLocalReply(Exchange& ex, int status, std::string_view detail, bool close,
                      std::string_view extra_headers) override;
  void EndExchange(Exchange& ex) override;
  void ResetClient(Exchange& ex) override;
  void StartTunnel(Exchange& ex) override;

  // ServerCodecCallbacks (http2_session.cc).
  void OnStreamHead(int32_t stream, http::RequestHead& head, bool end_stream) override;
  void OnStreamData(int32_t stream, const uint8_t* data, size_t size) override;
  void OnStreamEnd(int32_t stream, std::span<const http::Header> trailers) override;
  void OnStreamClose(int32_t stream, uint32_t error_code) override;
  evbuffer* ResponseBody(int32_t stream) override;

  static void OnClientRead(void* self);
  static void OnClientWrite(void* self);
  static void OnClientEvent(short what, void* self);
  static void OnPluginResume(void* slot);
  struct FlushOnReturn {
    explicit FlushOnReturn(Http2Session* s) : session(s) {}
    ~FlushOnReturn() { session->FlushNow(); }
    FlushOnReturn(const FlushOnReturn&) = delete;
    FlushOnReturn& operator=(const FlushOnReturn&) = delete;
    Http2Session* session;
  };

  void FlushNow();
  static void OnDeferredFlush(evutil_socket_t, short, void* self);

  StreamSlot* SlotOf(int32_t stream);
  StreamSlot& SlotOf(Exchange& ex);
  // The request to its Exchange: route, plugins, pool (http2_streams.cc).
  void ServeRequest(StreamSlot& s);
  void ForwardRequest(StreamSlot& s, std::string_view client_ip);
  bool AfterPluginVerdict(StreamSlot& s, plugins::Plugin::Verdict verdict);
  // Any answer of the proxy's on `s`: `head_and_body` holds an HTTP/1 response (an error
  // page, a plugin's answer), re-read and submitted as an HTTP/2 one.
  void SubmitHttp1Response(StreamSlot& s, const std::string& head_and_body, bool head_only);
  // Ends the slot's exchange, whatever it was doing (the client left, the connection ends).
  void AbandonExchange(StreamSlot& s);
  void ReturnExchange(StreamSlot& s);
  // The response's end with the backend's trailers (s.trailers) as a trailer HEADERS frame.
  void SubmitTrailers(StreamSlot& s);
  // Reopens the client's windows for request bytes the upstream took from `s.request`.
  void ConsumeTaken(StreamSlot& s);
  void UpdateReadTimeout();
  // The codec's CodecStats since the last call, into the worker's HTTP/2 limit counters.
  void CountCodecStats();
  // The connection is over once its output is sent: its last frames out (a GOAWAY), it
  // half-closes and reads what the client still sends for kLinger, discarding it, so that
  // unread bytes make no reset that would destroy the GOAWAY before the client read it.
  void Linger();
  static void OnLingerOver(evutil_socket_t, short, void* self);
  void Close();
  // Brings this session's share of the listener's open connection and stream gauges
  // (/status) up to date: itself while `open`, with its open streams; nothing once closed.
  void ReportOpen(bool open);

  Worker& worker_;
  Http1Session& carrier_;
  net::Stream& client_;
  http2::ServerCodec codec_;
  std::vector<StreamSlot> slots_;  // fixed: the codec's max_concurrent_streams
  http::ResponseHead reply_head_;  // scratch: a local answer's head, re-read (its capacity kept)
  net::EventPtr linger_timer_;     // see Linger
  net::EventPtr flush_event_;      // made active by Flush; runs FlushNow later in the iteration
  bool flush_pending_ = false;     // flush_event_ is active
  http2::CodecStats counted_;      // the part of codec_.stats() already counted
  LimitCounters* open_counters_ = nullptr;  // where ReportOpen adds; fixed at construction
  int64_t reported_streams_ = 0;            // open streams ReportOpen has added there
  bool in_codec_ = false;  // inside Receive or Send: no Flush (nghttp2 is not reentrant)
  bool closed_ = false;
  bool draining_ = false;
  bool failed_ = false;  // the codec failed the connection: its GOAWAY goes out, then Linger
  bool lingering_ = false;
  bool half_closed_ = false;  // lingering, all sent: SHUT_WR done
  // Until the first stream opens, the preface and its request must come by this deadline
  // (MonoNanos, from Start), however the client spreads its bytes.
  int64_t first_request_deadline_ns_ = 0;
  bool opened_stream_ = false;
};

}  // namespace outrigger::forward
