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
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>

#include "proxy/forward/exchange.h"
#include "proxy/forward/worker.h"
#include "proxy/http/limits.h"
#include "proxy/http/message.h"
#include "proxy/metrics/shard.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"
#include "proxy/upstream/outcome.h"
#include "proxy/upstream/upstream_connection.h"

namespace outrigger::forward {

class DownstreamConnection {
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

  std::list<std::unique_ptr<DownstreamConnection>>::iterator self;  // the Worker's handle

 private:
  enum class State : uint8_t {
    kHead,      // waiting for (the rest of) a request head
    kExchange,  // a request is with a backend
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
  void SendLocalResponse(int status, std::string_view detail, bool close,
                         std::string_view extra_headers = {});
  void AwaitNextRequest();
  void CloseAfterFlush();
  void Close();
  void ArmTimer(std::chrono::milliseconds after);

  // Upstream side.
  static void OnUpstreamRead(void* self);
  static void OnUpstreamWrite(void* self);
  static void OnUpstreamEvent(short what, void* self);
  // Picks a backend for the current request (pick_) and admits it past its circuit breaker
  // (sets breaker_admitted_); null when none can take it.
  upstream::Backend* PickBackend();
  // Sends the current request to backend_: on an idle pooled connection, a new one, or, at
  // the backend's max_connections, after waiting for one (RecheckPending).
  void StartAttempt();
  void RecheckPending();
  void ReleasePendingSlot();
  void ShedOverLimit();
  // Whether the attempt that just failed with `outcome` may be sent again (safety and the
  // attempts limit; the budget is Retry's). Any byte of the request reached the backend:
  bool RequestBytesSent() const;
  bool MayRetry(upstream::Outcome outcome) const;
  // Sends the request to another backend within the pool's retry budget. False (nothing
  // changed) when the budget is spent or no other backend can take it.
  // `answered` is the status of the failed attempt's response (a 5xx), 0 when it had none.
  bool Retry(int answered = 0);
  void Connect();
  void SendRequest();
  void PumpRequestBody();
  void ReadResponse();
  bool TryReadResponseHead();
  void PumpResponseBody();
  void FinishExchange();
  void UpstreamFailed(int status, std::string_view detail, upstream::Outcome outcome);
  void DropUpstream();
  // Tells the backend's circuit breaker how the admitted attempt ended (once per attempt).
  void ReportOutcome(bool failure);
  void StartTunnel();
  void PumpTunnel();

  // Metrics (design.md §6), into the shard of the request's view (the worker's current one
  // before a request is routed). Each is called once at the event it names.
  metrics::Shard& shard() const;
  // An attempt at backend_ begins: a connection is at hand or being opened (not while pending).
  void BeginAttempt();
  // The attempt ends: with a response status, a transport failure (`outcome`), or abandoned
  // (status 0, no failure) when the client went away or nothing was sent.
  void EndAttempt(int status, upstream::Outcome outcome = upstream::Outcome::kDownstreamReset);
  // The client's response is decided (sent, cut, or never: 499): ends the pool request.
  void EndClientRequest(int status);
  // Why the pool has no backend for the request (outrigger_pool_shed_requests_total{reason}).
  metrics::ShedReason ShedReasonNow() const;

  // The per-request state (see exchange.h): taken from the worker when a request begins and
  // given back when the connection waits for its next one with nothing buffered.
  Exchange& ex() {
    if (!ex_) ex_ = worker_.TakeExchange();
    return *ex_;
  }
  const Exchange& ex() const { return *ex_; }  // REQUIRES: ex_ (a request is being served)

  Worker& worker_;
  size_t listener_index_;       // into the worker's current snapshot's listeners
  bool listener_gone_ = false;  // a reload removed it: finish the request in flight, close
  std::unique_ptr<net::Stream> client_;
  net::EventPtr timer_;
  const std::string peer_ip_;
  State state_ = State::kHead;
  bool timer_is_header_ = true;  // the armed timer is the header timeout (else keep-alive idle)
  size_t head_scan_ = 0;         // input bytes already searched for the end of the head
  http::HeadLimits limits_;

  // The request being served (valid from HandleRequest to FinishExchange).
  std::shared_ptr<WorkerView> view_;
  const PoolRuntime* pool_ = nullptr;
  size_t pool_index_ = 0;
  upstream::Backend* backend_ = nullptr;
  std::unique_ptr<upstream::UpstreamConnection> upstream_;
  http::Method method_ = http::Method::kGet;
  int client_minor_ = 1;
  uint64_t max_body_ = 0;  // the route's max_body for the request being served
  bool client_keep_alive_ = true;
  bool upgrade_requested_ = false;
  bool connecting_ = false;
  bool response_started_ = false;  // the response head went to the client: no more 5xx
  bool upstream_reusable_ = false;
  bool retried_stale_ = false;
  bool breaker_admitted_ = false;    // the breaker admitted this attempt and awaits its outcome
  bool client_eof_ = false;          // tunnel: the client closed; flushing its last bytes upstream
  bool client_asked_close_ = false;  // the last request said Connection: close (or HTTP/1.0)
  bool client_half_closed_ = false;  // the client sent EOF after a whole request; it still reads
  bool has_body_ = false;            // the current request has a (non-empty) body
  bool pending_slot_ = false;        // holds one of backend_'s pending slots (waiting to connect)
  uint32_t retries_ = 0;             // retries of the current request so far
  int64_t wait_deadline_ns_ = 0;     // a pending request gives up then (connect timeout)
  // This attempt's bytes queued upstream: its head (or replay), and the body's moved() count
  // when it began; what is queued but no longer in the output buffer reached the backend.
  uint64_t attempt_queued_ = 0;
  uint64_t attempt_body_start_ = 0;
  net::EvBufferPtr replay_;  // request bytes the failed attempt never sent, for the next one
  size_t response_scan_ = 0;
  int64_t exchange_start_ns_ = 0;
  int64_t request_start_ns_ = 0;  // the request head was complete (0: none, or no metrics)
  metrics::BackendId metric_backend_ = 0;
  bool attempt_open_ = false;       // BeginAttempt recorded, its end not yet
  bool pool_request_open_ = false;  // OnPoolRequestStart recorded, its end not yet
  bool tunnel_open_ = false;        // OnTunnelOpened recorded, its close not yet
  int64_t last_activity_ns_ = 0;    // tunnel idle timeout
  std::unique_ptr<Exchange> ex_;    // see ex()
};

}  // namespace outrigger::forward
