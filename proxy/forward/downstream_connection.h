// DownstreamConnection: one client connection and, one at a time, the exchange it has with
// a backend. It reads a request head, routes it, picks a backend, streams the request body
// up and the response back, then reads the next request (keep-alive, pipelining in order).
// A 101 answer to a WebSocket upgrade turns both connections into a byte tunnel.
//
// Memory stays bounded whatever the body size: when the side being written to holds more
// than kHighWater unsent bytes, the side being read from stops reading until it drains.
//
// Loop affinity: its worker's loop. Owned by the Worker; it asks to be destroyed with
// Worker::Retire, which frees it after the current callback returns.
//
// Its member functions live in files by concern: downstream_connection.cc (the client side:
// heads, timeouts, local answers, closing), request_dispatch.cc (routing to a pool),
// downstream_plugins.cc, downstream_attempt.cc (caps, connecting, sending the request,
// failures and retries), downstream_response.cc (response heads and bodies),
// downstream_tunnel.cc, downstream_metrics.cc, downstream_log.cc, downstream_tls.cc. The try at
// a backend itself is an UpstreamAttempt (upstream_attempt.h), which reports here through
// AttemptCallbacks.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "proxy/forward/exchange.h"
#include "proxy/forward/upstream_attempt.h"
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

class DownstreamConnection final : private AttemptCallbacks {
 public:
  DownstreamConnection(Worker& worker, size_t listener_index, evutil_socket_t fd,
                       const net::SocketAddress& peer);
  ~DownstreamConnection();
  DownstreamConnection(const DownstreamConnection&) = delete;
  DownstreamConnection& operator=(const DownstreamConnection&) = delete;

  // The worker is draining: close now if idle, else close after the current response.
  void OnDrain();
  // Frees the socket buffers an idle connection (waiting for a request, nothing buffered)
  // keeps from its last request; they come back with its next one. Called once a second.
  void TrimIdle();

  // The listener it was accepted on, as an index into the worker's current snapshot.
  size_t listener_index() const { return listener_index_; }
  bool listener_gone() const { return listener_gone_; }
  // At a snapshot swap: the listener's index in the new snapshot, or nullopt when the new
  // snapshot removed it (then: like OnDrain, and the index is no longer used).
  void MoveListener(std::optional<size_t> index);

  uint32_t slot = 0;  // its index in the Worker's connections (Worker::Accept, Retire)

 private:
  enum class State : uint8_t {
    kHead,      // waiting for (the rest of) a request head
    kExchange,  // a request is with a backend
    kPlugin,    // a plugin waits for a store's answer (reading off, the head still in input)
    kTunnel,    // upgraded: bytes flow both ways untouched
    kClosing,   // flushing a last response, then closing
    kClosed,    // retired; no callback does anything any more
  };

  // Client side.
  static void OnClientRead(void* self);
  static void OnClientWrite(void* self);
  static void OnClientEvent(short what, void* self);
  static void OnTimer(evutil_socket_t, short, void* self);
  void ProcessClientInput();
  // Keeps reading the client unless it holds kHighWater bytes it has not yet been served for.
  void ReadClientWhileRoom();
  // Sends what the callback queued on either side, one writev each. Every loop callback ends
  // with it (FlushOnReturn), so a request or response goes out once, whole, per event.
  void Flush();
  struct FlushOnReturn {
    explicit FlushOnReturn(DownstreamConnection* c) : conn(c) {}
    ~FlushOnReturn() { conn->Flush(); }
    FlushOnReturn(const FlushOnReturn&) = delete;
    FlushOnReturn& operator=(const FlushOnReturn&) = delete;
    DownstreamConnection* conn;
  };
  // Returns true when a request was taken (or answered) and the loop may look for another.
  bool TryReadHead();
  void HandleRequest();
  // After routing and the plugins: to the route's pool (view_'s listener, ex().route).
  void ForwardRequest(std::string_view client_ip);
  void SendLocalResponse(int status, std::string_view detail, bool close,
                         std::string_view extra_headers = {});
  // After an answer made here went to the client: close, or wait for the next request.
  void AfterLocalAnswer(bool close);
  // downstream_plugins.cc: the route's plugins' request phase; true when the request is
  // theirs for now: answered (and the answer sent), or waiting for a store (kPlugin, then
  // OnPluginResume).
  bool RunRequestPlugins(std::string_view client_ip);
  bool AfterPluginVerdict(plugins::Plugin::Verdict verdict);
  static void OnPluginResume(void* self);
  // kPlugin, reading off: the client's socket is watched (closed_watch_) so that a client
  // that resets ends its request, which then never reaches a backend.
  void WatchClientWhileWaiting(short what, const timeval* every);
  static void OnClientWhileWaiting(evutil_socket_t fd, short what, void* self);
  void SendPluginAnswer();
  // The route's plugins' response edits, on an answer the proxy made after they ran (a 502,
  // a 504): nginx's `add_header ... always`.
  void EditLocalAnswer();
  void AwaitNextRequest();
  void CloseAfterFlush();
  void Close();
  // The timer for what the client stream's own timeouts cannot express: the wait for a
  // pending slot, the linger after a last response, the tunnel's idle limit. Made on first
  // use and freed when the connection next waits for a request, so an idle keep-alive
  // connection has none: its idle and header timeouts are the client stream's read timeout.
  void ArmTimer(std::chrono::milliseconds after);
  void StopTimer();
  // kHead: the client's read timeout is the keep-alive idle timeout until the next request's
  // first byte, then the time left to the header deadline (re-armed at each read, since the
  // stream restarts it at each read).
  void AwaitHead(bool started);
  void ArmHeaderDeadline();

  // Upstream side.
  static void OnUpstreamRead(void* self);
  static void OnUpstreamWrite(void* self);
  static void OnUpstreamEvent(short what, void* self);
  // Picks a backend for the current request (ex().pick) from view_'s policy for its pool,
  // admitted past its circuit breaker; or none, and why.
  UpstreamAttempt::PickResult PickBackend();
  // Sends the current request to attempt_'s backend (begun): on an idle pooled connection, a
  // new one, or, at the backend's max_connections, after waiting for one (RecheckPending).
  void StartAttempt();
  void RecheckPending();
  // With one of the backend's in-use slots reserved under max_connections: sends on an idle
  // pooled connection or a new one, which then counts itself, and frees the reservation.
  void SendInSlot();
  void ShedOverLimit();
  // Whether the attempt that just failed with `outcome` may be sent again (safety and the
  // attempts limit; the budget is Retry's).
  bool MayRetry(upstream::Outcome outcome) const;
  // Sends the request to another backend within the pool's retry budget. False (nothing
  // changed) when the budget is spent or no other backend can take it.
  // `answered` is the status of the failed attempt's response (a 5xx), 0 when it had none.
  bool Retry(int answered = 0);
  void Connect();
  void SendRequest();
  void PumpRequestBody();
  // AttemptCallbacks (downstream_response.cc; OnAttemptFailed: downstream_attempt.cc). The
  // owner's decisions: relay or refuse each head, retry, tunnel, keep-alive, the body's end.
  bool OnAttemptHead(http::ResponseHead& head) override;
  // Also called when the client drained its output (OnClientWrite), to read on.
  bool OnAttemptBody(evbuffer* in) override;
  void OnAttemptDone(bool connection_reusable) override;
  // A pooled connection found stale is replaced once, unseen; else the breaker hears of it,
  // then a retry, a 502/504, or, once the response started, a cut.
  void OnAttemptFailed(upstream::Outcome outcome, int status, std::string_view detail) override;
  // A response body a plugin encodes (response_encoding.cc): the framing fields for it, then
  // what the decoded body gave the encoder, framed as chunks; false when the connection
  // was closed on an encoder failure.
  void StartResponseEncoding();
  bool EncodeResponseBody(bool last);
  // The response body's bytes that went to the client so far (encoded, when it is).
  uint64_t ResponseBodyBytesSent() const;
  void FinishExchange();
  // Ends the attempt, whatever its phase: the client went, or a local answer replaces it.
  void DropUpstream();
  void StartTunnel();
  void PumpTunnel();

  // Metrics (design.md §6), into the shard of the request's view (the worker's current one
  // before a request is routed). Each is called once at the event it names.
  metrics::Shard& shard() const;
  // A response went to the client: counted against its listener as the shard's own layout
  // numbers it, view_'s (the number the listener had when the request began; a reload may
  // renumber or remove it meanwhile) or, before a request holds a view, the worker's current
  // one; not at all when a reload removed the listener and no view still has its series.
  // Returns the monotonic instant it read (0: metrics are off), for the access line.
  int64_t CountResponse(int status);
  // An attempt at attempt_'s backend begins: a connection is at hand or being opened (not
  // while pending).
  void BeginAttempt();
  // The attempt ends: with a response status, a transport failure (`outcome`), or abandoned
  // (status 0, no failure) when the client went away or nothing was sent.
  void EndAttempt(int status, upstream::Outcome outcome = upstream::Outcome::kDownstreamReset);
  // The client's response is decided (sent, cut, or never: 499): ends the pool request.
  void EndClientRequest(int status);

  // Request ids and the access log (downstream_log.cc). The head is parsed: gives the
  // request its id and, when its listener logs, starts its record (log_open).
  void BeginRequestLog(const config::ListenerConfig& listener);
  // The client address the listener decided on (after trusted_proxies), for `client`.
  void NoteClient(std::string_view client_ip);
  // An answer to a head that never parsed (400, 408, 431): a record and an id of its own.
  void BeginBareRequestLog();
  // The request's id under its listener's header, for the heads the proxy writes ({} when
  // the listener has request ids off).
  http::SetField RequestIdField() const;
  // The final response head arrived: upstream_header_ms.
  void NoteResponseHead();
  // A failed attempt ends the exchange: its `termination`.
  void NoteFailure(upstream::Outcome outcome);
  // The proxy's own answer in ex().scratch went out.
  void LogLocalAnswer(int status);
  // The connection closes with the exchange unfinished (the client went, or a cut response).
  void LogUnfinished();
  // The exchange ended with `status` having sent `bytes_out` bytes: writes its line, once,
  // if its listener logs and sampling keeps it (WriteAccessLine), then runs the plugins'
  // log phase, once, if plugins ran for it. `now_ns`: the monotonic clock read a moment ago
  // (CountResponse's), or 0 to read it.
  void LogExchange(int status, uint64_t bytes_out, int64_t now_ns = 0);
  void WriteAccessLine(int status, uint64_t bytes_out, int64_t now_ns);
  // The listener of the request being served, in the view it holds; null once a reload
  // removed it from the worker's current one with no request view.
  const ListenerRuntime* RequestListener(log::LogBuffer** buffer) const;
  // The TLS version and server name of the connection, into the request's log record.
  void NoteTls();
  // A pool with `tls:`: a new upstream stream gets its TLS session (downstream_tls.cc).
  void UseUpstreamTls(net::Stream& stream);
  // redirect_https: 301/308 to the same host and target over HTTPS (downstream_tls.cc).
  void RedirectToHttps(uint16_t port);
  // The tls::HandshakeObserver callback: counts the handshake (downstream_tls.cc).
  static void OnHandshake(void* self, bool ok, std::string_view version, tls::HandshakeFailure why);

  // The per-request state (see exchange.h): taken from the worker when a request begins and
  // given back when the connection waits for its next one with nothing buffered.
  Exchange& ex() {
    if (ex_ == nullptr) [[unlikely]]
      return TakeExchange();
    return *ex_;
  }
  Exchange& TakeExchange();  // out of line, so that ex() stays small enough to inline
  const Exchange& ex() const { return *ex_; }  // REQUIRES: ex_ (a request is being served)

  // Largest first, flags last: an idle keep-alive connection is mostly this object.
  Worker& worker_;
  net::Stream client_;
  // The client's TLS session, owned by client_ as its filter (null: plain HTTP).
  tls::ServerSession* tls_session_ = nullptr;
  net::EventPtr timer_;         // see ArmTimer
  net::EventPtr closed_watch_;  // kPlugin: OnClientWhileWaiting (made on first use)
  const std::string peer_ip_;
  size_t head_scan_ = 0;          // input bytes already searched for the end of the head
  int64_t head_deadline_ns_ = 0;  // kHead, head_started_: the header timeout expires then

  // The request being served (valid from HandleRequest to FinishExchange); the rest of its
  // state is in ex(). These stay here: teardown reads them whether or not a request is held.
  std::shared_ptr<WorkerView> view_;
  const PoolRuntime* pool_ = nullptr;
  int64_t request_start_ns_ = 0;  // the request head was complete (0: none, or no metrics)
  std::unique_ptr<Exchange> ex_;  // see ex()
  // The try at a backend, one at a time (a retry begins it again); idle between requests.
  UpstreamAttempt attempt_;

  uint32_t listener_index_;        // into the worker's current snapshot's listeners
  uint32_t request_listener_ = 0;  // HandleRequest: listener_index_ in view_'s snapshot
  bool listener_gone_ = false;     // a reload removed it: finish the request in flight, close
  State state_ = State::kHead;
  bool head_started_ = true;  // kHead: a request's first byte came (header, not idle, timeout)
  bool client_keep_alive_ = true;
  bool client_eof_ = false;          // tunnel: the client half-closed; passed on upstream
  bool client_asked_close_ = false;  // the last request said Connection: close (or HTTP/1.0)
  bool client_half_closed_ = false;  // the client sent EOF after a whole request; it still reads
};

}  // namespace outrigger::forward
