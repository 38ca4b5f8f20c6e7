// UpstreamAttempt: one try of a request at one backend (Envoy's UpstreamRequest). It owns
// what a try holds — the backend and its breaker admission, the pending slot while it waits
// for a connection under max_connections, the upstream connection, the bytes it queued, its
// timings — and reads the backend's response heads, which it hands to its owner to decide on.
// A retry is a new try on the same object (Begin again); the owner's request outlives it.
//
// Its life is one Phase at a time:
//
//   kIdle ──Admit: kWait──► kPending ──RecheckPending: kSend or kShed──► kIdle
//   kIdle ──SetConnection(pooled)──► kSending ──OnRequestQueued──► kAwaitingHead
//   kIdle ──SetConnection(new)──► kConnecting ──OnConnected──► kSending or kAwaitingHead
//   kSending, kAwaitingHead ──a final head the owner takes──► kBody
//   any ──End──► kIdle
//
// (SetConnection enters kAwaitingHead at once when the request has no body left to send.)
//
// A response head may come while the request is still being sent (kSending): a backend may
// answer early (a 413), and the answer is relayed as in kAwaitingHead. After a 101 the
// owner's tunnel uses the connection where it is, in the phase it was in, until End.
//
// Reporting: it calls its owner through AttemptCallbacks, one virtual call each, so the
// owner may end the attempt or begin the next one (a retry, the next request's) from inside
// any of them. After OnAttemptDone, OnAttemptFailed, or a callback that returns false (the
// attempt is no longer current), the attempt touches nothing more: no stream, no buffer, no
// field. This replaces comparing stream pointers after the fact.
//
// The owner keeps the stream's callbacks (its loop events end with its own flush) and passes
// the upstream events on: OnReadable, OnStreamEvent, OnConnected. The request body and the
// response body are pumped by the owner (they touch the client); OnRequestQueued and
// OnAttemptBody are where the two meet.
//
// Breaker pairing: a Pick that returns a backend has been admitted by its breaker
// (AllowRequest); the attempt then owes that breaker exactly one ReportOutcome or Abandon,
// and End() abandons an admission still owed.
//
// Loop affinity: its owner's worker loop. Allocates nothing itself; the connection is the
// worker's ConnectionPool's or a new one the owner opens.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "proxy/balance/policy.h"
#include "proxy/http/message.h"
#include "proxy/metrics/shard.h"
#include "proxy/upstream/backend.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/outcome.h"
#include "proxy/upstream/upstream_connection.h"

namespace outrigger::forward {

class Exchange;

// What an attempt tells the one serving the request (Envoy's RouterFilterInterface). Each
// returns, where it returns a bool, whether the attempt is still current afterwards.
class AttemptCallbacks {
 public:
  // A response head parsed: a 1xx, a 101, or the final one. Its views point into the
  // attempt's input, whose first head.head_size bytes it is, until the call returns.
  // True: the owner took it (relayed it); the attempt drops it from its input and reads on,
  // in kBody after a final (>= 200) head. False: the owner ended or replaced the attempt (a
  // 101's tunnel, which drops the head itself; a retry; a 502).
  virtual bool OnAttemptHead(http::ResponseHead& head) = 0;
  // kBody: response body bytes are in `in`, the attempt's input.
  virtual bool OnAttemptBody(evbuffer* in) = 0;
  // The backend closed after a response whose body ends at its close (kCloseDelimited): the
  // response is complete; the connection cannot be reused.
  virtual void OnAttemptDone(bool connection_reusable) = 0;
  // The attempt failed; `status` is what the client would be answered (502, 504) and `why`
  // the detail for the log and the error page.
  virtual void OnAttemptFailed(upstream::Outcome outcome, int status, std::string_view why) = 0;

 protected:
  ~AttemptCallbacks() = default;
};

class UpstreamAttempt {
 public:
  enum class Phase : uint8_t {
    kIdle,          // no try in progress (none begun, or ended)
    kPending,       // holds one of the backend's pending slots: waits for a connection
    kConnecting,    // a new connection is being opened; the request is queued on it
    kSending,       // connected; the request (its body) is still being queued
    kAwaitingHead,  // the whole request is queued; no final response head yet
    kBody,          // the final head went to the client; its body is being relayed
  };

  // A pick: the backend, admitted by its breaker, or null and why none could take it.
  struct PickResult {
    upstream::Backend* backend = nullptr;
    metrics::ShedReason shed = metrics::ShedReason::kNoBackend;  // when backend is null
  };

  // Admit's and RecheckPending's verdict.
  enum class Admission : uint8_t {
    kSend,  // one of the backend's in-use slots is reserved: send (SetConnection)
    kWait,  // kPending: look again with RecheckPending (the owner's timer)
    kShed,  // over the backend's caps (or the wait timed out): answer 503 over_limit
  };

  explicit UpstreamAttempt(AttemptCallbacks& owner) : owner_(owner) {}
  // Releases a pending slot still held and uncounts an active request, as End does, but
  // leaves a breaker admission unsettled: the owner Ends a try it can still account for.
  ~UpstreamAttempt();
  UpstreamAttempt(const UpstreamAttempt&) = delete;
  UpstreamAttempt& operator=(const UpstreamAttempt&) = delete;

  // Picks a backend for `ctx` from `policy` and admits it past its breaker. A half-open
  // backend whose trial is out is excluded and the pick tried again, as many times as `ctx`
  // remembers exclusions. `backends` (the pool's) are scanned only when nothing is picked, to
  // say why: one that is available was passed over for its caps (kOverLimit); else an open
  // circuit keeps them out (kCircuitOpen); else none is up (kNoBackend).
  // `panic`: balancing panic disregards the probes' verdicts (never open circuits).
  static PickResult Pick(balance::BalancingPolicy& policy, balance::PickContext& ctx, bool panic,
                         std::span<const std::shared_ptr<upstream::Backend>> backends);

  // A new try of `ex`'s request at `backend` (a Pick's, so admitted by its breaker); counts
  // it active on the backend until End. REQUIRES: kIdle, no backend held.
  void Begin(Exchange& ex, upstream::Backend* backend);
  // The try is over: drops the connection (the owner has pooled it if reusable), releases a
  // pending slot, abandons a breaker admission still owed, and uncounts the backend's active
  // request. Safe when nothing was begun.
  void End();

  // Whether the backend's caps (upstream/caps.h CheckCaps) let the try go now, wait for a
  // connection, or not at all. kSend reserves one in-use slot exactly (TryAcquire), which the
  // owner frees once the connection counts itself (ReleaseInUseSlot). kWait takes a pending
  // slot and enters kPending, giving up `wait_ns` after `now_ns`, which starts the try.
  // The backend's active count includes this try (Begin), so its own request is not held
  // against max_requests. REQUIRES: kIdle, a backend (Begin).
  Admission Admit(const upstream::BackendCaps& caps, int64_t now_ns, int64_t wait_ns);
  // kPending: a connection slot freed up (kSend: pending slot released, in-use slot reserved),
  // the deadline passed at `now_ns` (kShed: pending slot released), or wait on (kWait).
  // kSend restarts the try's clock at `now_ns`: the wait is not the backend's time.
  Admission RecheckPending(const upstream::BackendCaps& caps, int64_t now_ns);
  // A stream on an h2 connection the worker holds already: it takes no connection slot, so
  // only max_requests applies (kSend reserves nothing, or kShed). From kIdle, or from kPending
  // (its pending slot is released). Starts the try's clock at `now_ns`.
  Admission AdmitStream(const upstream::BackendCaps& caps, int64_t now_ns);
  void ReleaseInUseSlot() { upstream::Release(backend_->connections_in_use()); }

  // The connection the request goes on: a pooled one (kSending) or one being opened
  // (kConnecting). Queues the request's bytes: `replay` when it holds the bytes a failed try
  // never sent, else the upstream head; the body follows through the owner's pump.
  void SetConnection(std::unique_ptr<upstream::UpstreamConnection> conn, bool connecting,
                     evbuffer* replay, int64_t now_ns);
  // A new connection completed (its queued bytes went out): kSending, or kAwaitingHead when
  // the request was queued whole.
  void OnConnected(int64_t now_ns);
  // The request's body ended: the whole request is queued (kSending -> kAwaitingHead).
  void OnRequestQueued();
  // Drops the connection of a try that goes on without it (a stale pooled one), keeping the
  // backend, admission and timings.
  void DropConnection() { conn_.reset(); }
  // The connection, for the owner to pool once the response is complete (then End).
  std::unique_ptr<upstream::UpstreamConnection> TakeConnection() { return std::move(conn_); }

  // Bytes from the backend: parses heads and hands them to the owner, then body bytes.
  // Returns whether the attempt is still current.
  bool OnReadable();
  // The connection's timeout, EOF or error (net::Stream events): a failure, or the end of a
  // close-delimited body. Returns whether the attempt is still current.
  bool OnStreamEvent(short what);

  // Tells the backend's breaker how the admitted try ended, once per admission: a failure
  // when CountsAsFailure(outcome), nothing about its health for kDownstreamReset (the client
  // went first), a success otherwise.
  void ReportOutcome(upstream::Outcome outcome);
  // Nothing was tried, or the client went: the admission is given back without a verdict.
  void Abandon();

  // Whether any byte of the request reached the backend: what was queued on this connection
  // (head or replay, then the body since Begin) is more than what still waits in its output.
  bool RequestBytesSent() const;

  Phase phase() const { return phase_; }
  upstream::Backend* backend() const { return backend_; }
  upstream::UpstreamConnection* connection() const { return conn_.get(); }
  bool breaker_admitted() const { return breaker_admitted_; }
  // The connection may go back to the pool after the response (framing and keep-alive allow).
  bool reusable() const { return reusable_; }
  void set_reusable(bool reusable) { reusable_ = reusable; }
  // A stale pooled connection was replaced once already in this try.
  bool retried_stale() const { return retried_stale_; }
  void set_retried_stale() { retried_stale_ = true; }
  int64_t start_ns() const { return start_ns_; }  // the try began (busy seconds, latency)
  // Its first request byte went to the backend (0: not yet, or metrics are off).
  int64_t sent_ns() const { return sent_ns_; }
  int64_t deadline_ns() const { return deadline_ns_; }

 private:
  enum class HeadRead : uint8_t { kMore, kHead, kFailed };
  HeadRead ReadHead(evbuffer* in, size_t* head_len);
  void Fail(upstream::Outcome outcome, int status, std::string_view why);

  // Grouped by lifetime, as in circuit_breaker.h.
  AttemptCallbacks& owner_;
  // Per try: set by Begin, cleared by End.
  Exchange* ex_ = nullptr;  // the request being tried (its heads, body pump, method)
  upstream::Backend* backend_ = nullptr;
  std::unique_ptr<upstream::UpstreamConnection> conn_;
  // What this connection was queued (head or replay) and the body's moved() count when it
  // was; what is queued but no longer in the output buffer reached the backend.
  uint64_t queued_ = 0;
  uint64_t body_start_ = 0;
  size_t head_scan_ = 0;  // input bytes already searched for a head's end
  int64_t start_ns_ = 0;
  int64_t sent_ns_ = 0;
  int64_t deadline_ns_ = 0;  // kPending gives up then (the connect timeout)
  Phase phase_ = Phase::kIdle;
  bool breaker_admitted_ = false;  // owes its backend's breaker a verdict
  bool reusable_ = false;
  bool retried_stale_ = false;
};

}  // namespace outrigger::forward
