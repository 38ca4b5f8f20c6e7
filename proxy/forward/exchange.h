// Exchange: one client request with all its tries at the pool's backends, from the pool on
// to the response's end (design.md §8, style.md §6). It knows no codec: the ClientSession
// that made it (client_session.h) reads the request head, routes it, and writes whatever the
// Exchange decides to send; the Exchange picks a backend, drives its UpstreamAttempt (held
// here by value: an idle client connection holds no attempt), retries within the pool's
// budget, decides on each response head, and does the request's metrics and access log.
//
// The upstream stream's callbacks and the wait for a connection slot (its timer) are the
// Exchange's: each ends with its session's Flush. Its files: exchange.cc (the request to the
// pool, the end), exchange_attempt.cc (caps, connecting, sending, failures, retries),
// exchange_response.cc (response heads and bodies), exchange_encoding.cc, exchange_log.cc,
// exchange_metrics.cc.
//
// Lifetime: taken from its worker's spares when a session starts a request (Bind) and given
// back when the session has nothing of the request left (Worker::TakeExchange and
// ReturnExchange), so a busy connection reuses the same buffers request after request, with
// no allocation. The containers are set by the request that uses them and keep their
// capacity; the plain state (ExchangeState) starts from its defaults with every request.
// Loop affinity: its worker's loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/chain.h"
#include "proxy/balance/policy.h"
#include "proxy/forward/body_pump.h"
#include "proxy/forward/client_session.h"
#include "proxy/forward/upstream_attempt.h"
#include "proxy/http/grpc.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/message.h"
#include "proxy/log/access_log.h"
#include "proxy/log/log_sink.h"
#include "proxy/metrics/shard.h"
#include "proxy/net/event.h"
#include "proxy/upstream/h2_connection.h"
#include "proxy/upstream/outcome.h"

namespace outrigger::config {
struct ListenerConfig;
}

namespace outrigger::forward {

class Worker;
struct WorkerView;
struct PoolRuntime;
struct ListenerRuntime;

// Where serving one request has got to. The session sets the view, the listener, the method
// and the client's version once the head parsed; the rest is the Exchange's.
struct ExchangeState {
  // The worker's view the request began under (its snapshot, policies, shard): held to the
  // request's end, so a reload meanwhile changes nothing for it. Null before a head parsed.
  std::shared_ptr<WorkerView> view;
  const PoolRuntime* pool = nullptr;  // the route's pool in view's snapshot (ForwardRequest)
  int64_t request_start_ns = 0;       // the request head was complete (0: none, or no metrics)
  uint32_t listener = 0;              // the request's listener in view's snapshot
  size_t pool_index = 0;
  http::Method method = http::Method::kGet;
  int client_minor = 1;
  uint64_t max_body = 0;  // the route's max_body for the request being served
  bool upgrade_requested = false;
  bool response_started = false;          // the response head went to the client: no more 5xx
  bool has_body = false;                  // the current request has a (non-empty) body
  bool attempt_open = false;              // BeginAttempt recorded, its end not yet
  bool pool_request_open = false;         // OnPoolRequestStart recorded, its end not yet
  bool tunnel_open = false;               // OnTunnelOpened recorded, its close not yet
  bool log_begun = false;                 // `log` (its request id at least) is this request's
  bool log_open = false;                  // `log` describes this request, its line not yet written
  bool plugins_open = false;              // the route's plugins ran for it, their log phase not yet
  uint32_t retries = 0;                   // retries of the current request so far
  uint32_t route = 0;                     // its route in its listener (view's snapshot)
  const plugins::Chain* chain = nullptr;  // the route's plugins (the snapshot's), if any
  metrics::BackendId metric_backend = 0;
  net::EvBufferPtr replay;  // request bytes the failed attempt never sent, for the next one
  // A copy of the body bytes moved to a reused pooled connection, kept while they fit in
  // kResendLimit, so that an idempotent request can be resent whole should that connection
  // turn out stale (OnAttemptFailed). Null: nothing kept, or no longer all of it.
  net::EvBufferPtr resend;
  uint64_t encoded_bytes = 0;    // an encoded response's bytes to the client, chunk framing too
  uint8_t interim = 0;           // interim (1xx) responses to the request so far (kMaxInterim)
  int64_t last_activity_ns = 0;  // tunnel idle timeout
  // A gRPC call (an HTTP/2 client's request with content-type application/grpc*): the
  // proxy's own answers are Trailers-Only, and `grpc-timeout` set grpc_deadline_ns
  // (monotonic; 0: none), which ends an h2 try as a timeout when shorter than timeouts.read.
  bool grpc = false;
  int64_t grpc_deadline_ns = 0;
  bool grpc_deadline_passed = false;  // the try's timer fired at grpc_deadline_ns
  // The class of the grpc-status the client got (kNone: none so far), for the call's count.
  metrics::GrpcOutcome grpc_outcome = metrics::GrpcOutcome::kNone;
  uint64_t h2_body_pulled = 0;  // request body bytes pulled into the h2 stream's buffer
  // Set by a codec whose request may go on after its body's stated length (HTTP/2: trailers
  // may follow the last DATA, until END_STREAM), until it ends: an h2 pool finishes the
  // backend's stream only then, with the trailers KeepRequestTrailers kept.
  bool request_end_pending = false;
};

class Exchange final : public ExchangeState,
                       private AttemptCallbacks,
                       private upstream::H2StreamOwner {
 public:
  // `worker`: the one whose spares hold it (null only in tests of UpstreamAttempt alone,
  // which use its request fields and nothing else).
  explicit Exchange(Worker* worker = nullptr) : worker_(worker), attempt_(*this) {}
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Back to the defaults, keeping the containers' capacity (Worker::ReturnExchange).
  // REQUIRES: no attempt (idle()).
  // The body pumps too: a spare must not tell the next user that its last user's request
  // body is unfinished (a local answer would then linger rather than close).
  void ResetState() {
    static_cast<ExchangeState&>(*this) = ExchangeState{};
    h2_trailers_.clear();
    request_body.Start(http::BodyKind::kNone, 0);
    response_body.Start(http::BodyKind::kNone, 0);
  }
  // The session serving it, until the exchange goes back to the spares.
  void Bind(ClientSession& session) { session_ = &session; }
  // No try is in progress, nor a connection held (a tunnel's included).
  bool idle() const { return attempt_.backend() == nullptr && attempt_.connection() == nullptr; }

  // The request's head parsed, and the session set view, listener, method and client_minor:
  // its target is normalized, its route found and the route's checks passed (true; then
  // `route`, `chain`, `max_body`, `has_body` are set and `*client_ip` is the client as the
  // listener trusts it), or it was answered (false: 400, 404, 413, a redirect to HTTPS; the
  // exchange may have ended, see client_session.h) (exchange_route.cc).
  bool Route(std::string_view* client_ip);
  // The request, routed (Route, then the route's plugins, if any, let it through), goes to
  // the route's pool: a backend is picked and tried, or the client is answered 503 (none can
  // take it) or 500 (no pool). The request head is released on the way
  // (ClientSession::ReleaseRequestHead). `client_ip`: Route's. May end the exchange before
  // it returns (see client_session.h).
  void ForwardRequest(std::string_view client_ip);
  // The session has request body bytes (or room for them): on to the upstream, within its
  // high-water mark. May end the exchange (a body framing error: 400, 413, or a cut).
  void PumpRequestBody();
  // The request is not whole from the client yet (its body, or an HTTP/2 stream's end) and
  // every byte it sent has gone on toward the backend, which cannot answer what it has not
  // had: a read timeout now is the client's stall (408), not the backend's, and must not
  // count against its health (a client that stalls its uploads would open the breaker).
  bool WaitingOnClient() const;
  // Trailers a client's codec got outside the body's framing: an HTTP/2 request with a
  // Content-Length may still end with a trailer HEADERS frame. Only an h2 pool sends them on
  // (an HTTP/1 backend takes trailers after chunks only); they are kept from any time before
  // the request is forwarded.
  void KeepRequestTrailers(std::span<const http::Header> trailers);
  // The client's body broke its framing or max_body: counted, then 413/400, or a reset once
  // the response has started.
  void FailRequestBody();
  // The client drained its output: the response body reads on.
  void OnClientDrained();
  // Flushes the upstream stream, the request first (its answer takes longest); with
  // `body_paused` (the session stopped reading the client) and room upstream, the request
  // body resumes: the Stream reports only drains its loop made. May end the exchange.
  void FlushUpstream(bool body_paused);
  // Ends the attempt, whatever its phase: the client went, or a local answer replaces it.
  // Its metrics are closed as abandoned (499 for the pool request when no response began).
  void DropUpstream();
  // Before the session answers locally with `status` (an error page, a plugin's answer):
  // ends the pool request with it, drops the upstream, counts the response.
  void EndBeforeLocalAnswer(int status);
  // The upstream connection (a tunnel's too), or null.
  upstream::UpstreamConnection* upstream() const { return attempt_.connection(); }

  // Request ids and the access log (exchange_log.cc). The head parsed: gives the request its
  // id and, when its listener logs, starts its record (log_open).
  void BeginRequestLog(const config::ListenerConfig& listener);
  // The client address the listener decided on (after trusted_proxies), for `client`.
  void NoteClient(std::string_view client_ip);
  // An answer to a head that never parsed (400, 408, 431): a record and an id of its own.
  void BeginBareRequestLog();
  // The request's id under its listener's header, for the heads the session writes ({} when
  // the listener has request ids off).
  http::SetField RequestIdField() const;
  // The proxy's own answer in `scratch` went out.
  void LogLocalAnswer(int status);
  // The session closes with the exchange unfinished (the client went, or a cut response).
  void LogUnfinished();
  // The exchange ended with `status` having sent `bytes_out` bytes: writes its line, once,
  // if its listener logs and sampling keeps it, then runs the plugins' log phase, once, if
  // plugins ran for it. `now_ns`: the monotonic clock read a moment ago, or 0 to read it.
  void LogExchange(int status, uint64_t bytes_out, int64_t now_ns = 0);
  // The route's plugins' request phase (exchange_plugins.cc): the request's variables, then
  // the chain's verdict. kPending: a store's answer comes later, through `on_resume(arg)`
  // (the session's, which resumes the chain with chain->Resume). REQUIRES: chain.
  plugins::Plugin::Verdict RunRequestPlugins(std::string_view client_ip, void (*on_resume)(void*),
                                             void* arg);
  // A plugin answered (kAnswered): `response` becomes its answer's head, edited by the
  // chain's response phase; the session frames it and appends plugins.answer().body unless
  // this returns true (204, 304: no body). `close`: the connection closes after it.
  bool BuildPluginAnswerHead(bool close);
  // The response body's bytes that went to the client so far (encoded, when it is).
  uint64_t ResponseBodyBytesSent() const;

  // Metrics (design.md §6, exchange_metrics.cc), into the shard of the request's view (the
  // worker's current one before a request is routed).
  metrics::Shard& shard() const;
  // A response went to the client: counted against its listener as the shard's own layout
  // numbers it, view's (the number the listener had when the request began) or, before a
  // request holds a view, the worker's current one; not at all when a reload removed the
  // listener and no view still has its series. Returns the monotonic instant it read (0:
  // metrics are off), for the access line.
  int64_t CountResponse(int status);
  // gRPC calls (REQUIRES: grpc). The client's answer carries grpc-status `value`;
  // `from_backend`: the backend's answer relayed, counted against the attempt's backend too.
  void NoteGrpcStatus(std::string_view value, bool from_backend);
  // The client's answer is the proxy's own, with `status`.
  void NoteGrpcStatus(http::GrpcStatus status);
  // The call is over (its session gives the exchange back): counted once against its pool by
  // the last status noted, or as none; a call that reached no pool is not counted.
  void CountGrpcCall();

  balance::PickContext pick;    // kept across attempts: a retry avoids the backends that failed
  http::RequestHead request;    // its header vector keeps its capacity between requests
  http::ResponseHead response;  // likewise
  std::string upstream_head;    // kept until the first response byte, to resend on a fresh
                                // connection when a pooled one turns out stale
  std::string scratch;          // response heads and error pages
  std::string hash_key;         // pick.hash_key's bytes when they come from the request head
  std::string upgrade;          // an upgrade's requested protocols, to check its 101 against
  std::string target;           // request.path's bytes when normalization rewrote it
  BodyPump request_body;
  BodyPump response_body;
  // An encoded response's body (a plugin's encoder, plugins/compress/): the backend's data
  // without its framing, and the encoder's output before it is framed for the client.
  net::EvBufferPtr decoded_body;
  net::EvBufferPtr encoded_body;
  log::AccessRecord log;     // the request's id and access log record (exchange_log.cc)
  plugins::Context plugins;  // the route's plugins' view of this request (plugins/plugin.h)

 private:
  static void OnUpstreamRead(void* self);
  static void OnUpstreamWrite(void* self);
  static void OnUpstreamEvent(short what, void* self);
  static void OnTimer(evutil_socket_t, short, void* self);
  // Ends each of the Exchange's loop callbacks with its session's Flush. The session is
  // read at entry: the exchange may have gone back to the spares by the end.
  struct FlushOnReturn {
    explicit FlushOnReturn(Exchange* ex) : session(ex->session_) {}
    ~FlushOnReturn() { session->Flush(); }
    FlushOnReturn(const FlushOnReturn&) = delete;
    FlushOnReturn& operator=(const FlushOnReturn&) = delete;
    ClientSession* session;
  };
  // The wait for a connection slot (kPending): made on first use, kept with the Exchange.
  void ArmTimer(std::chrono::milliseconds after);
  void StopTimer();

  // The attempt (exchange_attempt.cc). Picks a backend for the request (pick) from view's
  // policy for its pool, admitted past its circuit breaker; or none, and why.
  UpstreamAttempt::PickResult PickBackend();
  // Sends the request to attempt_'s backend (begun): on an idle pooled connection, a new
  // one, or, at the backend's max_connections, after waiting for one (RecheckPending).
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
  // changed) when the budget is spent or no other backend can take it. `answered` is the
  // status of the failed attempt's response (a 5xx), 0 when it had none.
  bool Retry(int answered = 0);
  void Connect();
  void SendRequest();
  // Copies what the body pump just added to `up_out` (from offset `from`) into `resend`, or
  // gives the copy up once the body outgrows kResendLimit. A copy, not a reference: the
  // socket write frees those bytes. Bounded, and only for idempotent requests with a body on
  // a reused connection; HAProxy's l7 retries hold as much (one buffer).
  void KeepForResend(evbuffer* up_out, size_t from);
  static constexpr size_t kResendLimit = 16 * 1024;
  // redirect_https: 301/308 to the same host and target over HTTPS.
  void RedirectToHttps(uint16_t port);
  // A pool with `tls:`: a new upstream stream gets its TLS session.
  void UseUpstreamTls(net::Stream& stream);
  // An answer of the proxy's through the session (see SendLocalReply).
  void Reply(int status, std::string_view detail, bool close, std::string_view extra = {});

  // AttemptCallbacks (exchange_response.cc; OnAttemptFailed: exchange_attempt.cc): relay or
  // refuse each head, retry, tunnel, the body's end.
  bool OnAttemptHead(http::ResponseHead& head) override;
  bool OnAttemptBody(evbuffer* in) override;
  void OnAttemptDone(bool connection_reusable) override;
  // A pooled connection found stale is replaced once, unseen; else the breaker hears of it,
  // then a retry, a 502/504, or, once the response started, a cut.
  void OnAttemptFailed(upstream::Outcome outcome, int status, std::string_view detail) override;
  void BeginTunnel();

  // A try on a `protocol: h2` pool (exchange_h2.cc): a stream on one of the worker's
  // multiplexed connections instead of a connection of its own. The response comes back into
  // the same AttemptCallbacks, its body re-framed as HTTP/1 chunks (trailers included) in
  // h2_in_, and the stream's window reopens only as the client takes the bytes.
  bool OnH2Pool() const;
  // A stream on `conn`, which can take one (no connection slot held: SendOnH2Stream); or, null,
  // with a connection slot reserved (SendInSlot): a stream on a connection that can take one,
  // or on a new connection, which counts itself; the reservation is freed.
  void SendOnH2(upstream::H2Connection* conn);
  // On an h2 pool whose worker holds a connection to the try's backend that can take another
  // stream: the try goes there without a connection slot (max_connections caps connections,
  // not streams), from StartAttempt or a pending wait. False: not so, admit as for a connection.
  bool SendOnH2Stream();
  void PumpH2RequestBody();
  // The request body is all in h2_body_: it ends with the client's trailers (h2_trailers_)
  // as a trailing HEADERS frame, or with END_STREAM on its last DATA when it had none.
  void FinishH2Request();
  // Gives the stream up: reset (CANCEL) unless the exchange completed with the request sent.
  // `keep_body`: the request body pulled so far stays for a retry's stream.
  void LeaveH2(bool complete, bool keep_body = false);
  // Copies `n` body bytes just pulled into h2_body_ (from offset `from`) to h2_replay_ while
  // the body fits in kH2ResendLimit and no answer came, so that a retry can send it again
  // after the connection took them (a connect that failed, a refused stream). H2BodyWhole: a
  // retry can send the whole body so far.
  void KeepH2Replay(size_t from, size_t n);
  // Larger than kResendLimit: a refused stream is an HTTP/2 backend's ordinary answer at its
  // stream limit, whatever the body's size, and the copy is given up at the backend's answer.
  // Bounded, and no more than half again the stream's own buffer (kHighWater).
  static constexpr size_t kH2ResendLimit = 64 * 1024;
  bool H2BodyWhole() const;
  // What the client took of the response since the last call reopens the stream's window.
  void ConsumeH2();
  void RelayH2Body();
  // The h2 try's timer: timeouts.read of silence from now, or the call's deadline if sooner.
  void ArmH2Timer();
  void OnH2Head(const http::ResponseHead& head, bool end_stream) override;
  void OnH2Data(const uint8_t* data, size_t size) override;
  void OnH2End(std::span<const http::Header> trailers) override;
  void OnH2Close(uint32_t code, bool retryable) override;
  evbuffer* H2RequestBody() override { return h2_body_.get(); }
  void OnH2BodyDrained() override;
  // A response body a plugin encodes (exchange_encoding.cc): its buffers, then what the
  // decoded body gave the encoder, to the client; false when the client was reset on an
  // encoder failure.
  void StartResponseEncoding();
  bool EncodeResponseBody(bool last);
  void FinishExchange();

  // Metrics of the attempt and the pool request. An attempt at attempt_'s backend begins: a
  // connection is at hand or being opened (not while pending).
  void BeginAttempt();
  // The attempt ends: with a response status, a transport failure (`outcome`), or abandoned
  // (status 0, no failure) when the client went away or nothing was sent.
  void EndAttempt(int status, upstream::Outcome outcome = upstream::Outcome::kDownstreamReset);
  // The client's response is decided (sent, cut, or never: 499): ends the pool request.
  void EndClientRequest(int status);

  // Log notes (exchange_log.cc): the final response head arrived (`head_bytes` of it went
  // to the client); a failed attempt ends the exchange (its `termination`).
  void NoteResponseHead(size_t head_bytes);
  void NoteFailure(upstream::Outcome outcome);
  void NoteTls();
  void WriteAccessLine(int status, uint64_t bytes_out, int64_t now_ns);
  // The request's listener in the view it holds, else the worker's current one; null once a
  // reload removed it with no request view.
  const ListenerRuntime* RequestListener(log::LogBuffer** buffer) const;

  // Per exchange object (kept in the spares with it).
  Worker* const worker_;
  net::EventPtr timer_;  // see ArmTimer
  // Per request: its session (Bind) and its try at a backend, one at a time (a retry begins
  // it again).
  ClientSession* session_ = nullptr;
  UpstreamAttempt attempt_;
  // The h2 try's stream (null / -1: none), whether its close said the backend never had the
  // request, and response data bytes handed to the client's side but not yet consumed.
  upstream::H2Connection* h2_conn_ = nullptr;
  int32_t h2_id_ = -1;
  bool h2_retryable_ = false;
  bool h2_finished_ = false;           // FinishRequest was called for the try's stream
  bool h2_timer_at_deadline_ = false;  // the timer ArmH2Timer armed is the grpc-timeout's
  uint64_t h2_unconsumed_ = 0;
  http::RequestHead h2_head_;   // upstream_head read back, for the codec (views into it)
  net::EvBufferPtr h2_body_;    // request body bytes for DATA frames
  net::EvBufferPtr h2_replay_;  // a copy of the body pulled so far, while it is small
  net::EvBufferPtr h2_in_;      // the response body, framed as HTTP/1 for the response path
  // The client's request trailers (a chunked body's, as request_body kept them: HTTP/1 field
  // lines), for every try's stream; and their fields (views into it) for the codec.
  std::string h2_trailers_;
  std::vector<http::Header> h2_trailer_fields_;
};

}  // namespace outrigger::forward
