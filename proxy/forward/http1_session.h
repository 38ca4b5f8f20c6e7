// Http1Session: one HTTP/1 client connection — its ClientSession (client_session.h). It
// reads request heads (limits, timeouts), routes each and hands it to an Exchange, which
// serves it from the pool on; it frames what the Exchange sends (heads, bodies, local
// answers), keeps the connection alive between requests (pipelining in order), half-closes
// and lingers. A 101 answer to a WebSocket upgrade turns both connections into a byte tunnel
// (here until the tunnel is a class of its own).
//
// Memory stays bounded whatever the body size: when the side being written to holds more
// than kHighWater unsent bytes, the side being read from stops reading until it drains. An
// idle keep-alive connection holds no Exchange (its request state and upstream attempt).
//
// Loop affinity: its worker's loop. Owned by the Worker; it asks to be destroyed with
// Worker::Retire, which frees it after the current callback returns.
//
// Its member functions live in files by concern: http1_session.cc (the client side: heads,
// timeouts, closing), http1_dispatch.cc (routing), http1_codec.cc (the ClientSession
// operations: HTTP/1 framing of what the Exchange sends, local answers), http1_plugins.cc
// (a route's plugins' request phase and answers), http1_tunnel.cc, http1_tls.cc.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/forward/client_session.h"
#include "proxy/forward/exchange.h"
#include "proxy/forward/http2_session.h"
#include "proxy/forward/worker.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/limits.h"
#include "proxy/http/message.h"
#include "proxy/metrics/shard.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"
#include "proxy/tls/session.h"
#include "proxy/upstream/outcome.h"
#include "proxy/upstream/upstream_connection.h"

namespace outrigger::forward {

class Http1Session final : public ClientSession {
 public:
  Http1Session(Worker& worker, size_t listener_index, evutil_socket_t fd,
               const net::SocketAddress& peer);
  ~Http1Session();
  Http1Session(const Http1Session&) = delete;
  Http1Session& operator=(const Http1Session&) = delete;

  // The worker is draining: close now if idle, else close after the current response.
  void OnDrain();
  // Frees the socket buffers an idle connection (waiting for a request, nothing buffered)
  // keeps from its last request; they come back with its next one. Called once a second.
  void TrimIdle();

  // The listener it was accepted on, as an index into the worker's current snapshot.
  size_t listener_index() const { return facts_.listener_index; }
  bool listener_gone() const { return facts_.listener_gone; }
  // At a snapshot swap: the listener's index in the new snapshot, or nullopt when the new
  // snapshot removed it (then: like OnDrain, and the index is no longer used).
  void MoveListener(std::optional<size_t> index);

  uint32_t slot = 0;  // its index in the Worker's connections (Worker::Accept, Retire)

  // The connection speaks HTTP/2 (ALPN h2, or the h2c preface at its start): its
  // Http2Session, which holds the client stream's callbacks from then on; null otherwise.
  Http2Session* http2() const { return h2_.get(); }
  // The Http2Session is done with the connection: closes it (Worker::Retire).
  void Http2Closed() { Close(); }

 private:
  enum class State : uint8_t {
    kHead,      // waiting for (the rest of) a request head
    kExchange,  // a request is with its Exchange (from its pool on)
    kPlugin,    // a plugin waits for a store's answer (reading off, the head still in input)
    kTunnel,    // upgraded: bytes flow both ways untouched
    kClosing,   // flushing a last response, then closing
    kHttp2,     // handed over to h2_ (http1_http2.cc)
    kClosed,    // retired; no callback does anything any more
  };

  // ClientSession (http1_codec.cc, Flush in http1_session.cc; see client_session.h for each
  // contract).
  void Flush() override;
  void ReleaseRequestHead(Exchange& ex) override;
  BodyPump::Result PullRequestBody(Exchange& ex, evbuffer* to) override;
  void PauseRequestBody(Exchange& ex) override;
  void ResumeRequestBody(Exchange& ex) override;
  // Whether the client reset its connection (TCP state CLOSE): a client that only
  // half-closed (CLOSE_WAIT) may still read its answer.
  bool ClientGone(Exchange& ex) override;
  // Interim heads go to HTTP/1.1 clients only; a final head says whether the connection
  // stays open (client_keep_alive_, decided here) and carries the request id and the
  // plugins' edits; an encoded body is reframed as chunked.
  size_t SendResponseHead(Exchange& ex, http::ResponseHead& head) override;
  BodyPump::Result PushResponseBody(Exchange& ex, evbuffer* in) override;
  uint64_t PushEncodedBody(Exchange& ex, evbuffer* data, bool last) override;
  bool ResponseBackedUp(Exchange& ex) override;
  void SendLocalReply(Exchange& ex, int status, std::string_view detail, bool close,
                      std::string_view extra_headers) override;
  void EndExchange(Exchange& ex) override;
  void ResetClient(Exchange&) override { Close(); }
  void StartTunnel(Exchange& ex) override;

  // Client side.
  static void OnClientRead(void* self);
  static void OnClientWrite(void* self);
  static void OnClientEvent(short what, void* self);
  static void OnTimer(evutil_socket_t, short, void* self);
  void ProcessClientInput();
  // Keeps reading the client unless it holds kHighWater bytes it has not yet been served for.
  void ReadClientWhileRoom();
  // Every loop callback ends with Flush (one writev each side), so a request or response
  // goes out once, whole, per event.
  struct FlushOnReturn {
    explicit FlushOnReturn(Http1Session* c) : conn(c) {}
    ~FlushOnReturn() { conn->Flush(); }
    FlushOnReturn(const FlushOnReturn&) = delete;
    FlushOnReturn& operator=(const FlushOnReturn&) = delete;
    Http1Session* conn;
  };
  // Returns true when a request was taken (or answered) and the loop may look for another.
  bool TryReadHead();
  // http1_dispatch.cc: the parsed head to the Exchange: its route (Exchange::Route), its
  // route's plugins, then its pool (ForwardRequest).
  void HandleRequest();
  void ForwardRequest(std::string_view client_ip);
  // Any answer the proxy makes itself, the Exchange's (SendLocalReply) included.
  void SendLocalResponse(int status, std::string_view detail, bool close,
                         std::string_view extra_headers = {});
  // After an answer made here went to the client: close, or wait for the next request.
  void AfterLocalAnswer(bool close);
  // http1_plugins.cc: the route's plugins' request phase; true when the request is theirs
  // for now: answered (and the answer sent), or waiting for a store (kPlugin, then
  // OnPluginResume).
  bool RunRequestPlugins(std::string_view client_ip);
  bool AfterPluginVerdict(plugins::Plugin::Verdict verdict);
  static void OnPluginResume(void* self);
  // kPlugin, reading off: the client's socket is watched (closed_watch_) so that a client
  // that resets ends its request, which then never reaches a backend.
  void WatchClientWhileWaiting(short what, const timeval* every);
  static void OnClientWhileWaiting(evutil_socket_t fd, short what, void* self);
  void SendPluginAnswer();
  void AwaitNextRequest();
  void CloseAfterFlush();
  void Close();
  // The timer for what the client stream's own timeouts cannot express: the linger after a
  // last response, the tunnel's idle limit, a pipelined request after a local answer. Made
  // on first use and freed when the connection next waits for a request idle, so an idle
  // keep-alive connection has none: its idle and header timeouts are the stream's.
  void ArmTimer(std::chrono::milliseconds after);
  void StopTimer();
  // kHead: the client's read timeout is the keep-alive idle timeout until the next request's
  // first byte, then the time left to the header deadline (re-armed at each read, since the
  // stream restarts it at each read).
  void AwaitHead(bool started);
  void ArmHeaderDeadline();

  // http1_http2.cc: whether the connection's first bytes ask for HTTP/2 (ALPN h2, or the
  // h2c preface on a listener with h2c); `wait`: not enough bytes yet to tell.
  bool WantsHttp2(bool* wait);
  void StartHttp2();

  // The tunnel (http1_tunnel.cc): the upstream stream's callbacks once a 101 went out.
  static void OnTunnelRead(void* self);
  static void OnTunnelWrite(void* self);
  static void OnTunnelEvent(short what, void* self);
  void PumpTunnel();

  // The tls::HandshakeObserver callback (http1_tls.cc): counts the handshake.
  static void OnHandshake(void* self, bool ok, std::string_view version, tls::HandshakeFailure why);

  // The request's state (see exchange.h): taken from the worker when a request begins and
  // given back when the connection waits for its next one with nothing buffered.
  Exchange& ex() {
    if (ex_ == nullptr) [[unlikely]]
      return TakeExchange();
    return *ex_;
  }
  Exchange& TakeExchange();  // out of line, so that ex() stays small enough to inline
  // Gives the exchange back to the worker (null is ignored).
  void ReturnExchange();

  // Largest first, flags last: an idle keep-alive connection is mostly this object (and
  // ClientSession's facts_: peer address, TLS session, listener index).
  Worker& worker_;
  net::Stream client_;
  net::EventPtr timer_;               // see ArmTimer
  net::EventPtr closed_watch_;        // kPlugin: OnClientWhileWaiting (made on first use)
  size_t head_scan_ = 0;              // input bytes already searched for the end of the head
  int64_t head_deadline_ns_ = 0;      // kHead, head_started_: the header timeout expires then
  std::unique_ptr<Exchange> ex_;      // see ex()
  std::unique_ptr<Http2Session> h2_;  // kHttp2; after client_, which it uses

  State state_ = State::kHead;
  bool head_started_ = true;  // kHead: a request's first byte came (header, not idle, timeout)
  bool client_keep_alive_ = true;
  bool client_eof_ = false;          // tunnel: the client half-closed; passed on upstream
  bool client_asked_close_ = false;  // the last request said Connection: close (or HTTP/1.0)
  bool client_half_closed_ = false;  // the client sent EOF after a whole request; it still reads
  bool first_head_ = true;           // no request taken yet: HTTP/2 may still begin
};

}  // namespace outrigger::forward
