// CircuitBreaker: stops sending requests to a backend that keeps failing, then probes it with
// a few trial requests instead of the full load.
//
//   closed ──(consecutive_failures failures in a row)──► open
//   open ──(open time elapsed; AllowRequest)──► half_open, admitting up to half_open_trials
//   half_open ──(a success)──► closed, open time back to open_for
//   half_open ──(a failure)──► open, open time doubled (at most 8×, and at most max_open_for
//                               unless open_for itself is longer)
//
// Outcomes are attributed to the state at the time they are reported, not to the state the
// request was admitted in: a straggler admitted while closed that fails during half_open
// reopens the breaker, which is evidence enough. While open, outcomes change nothing.
//
// Thread contract: one breaker per Backend, shared by every worker; all methods may be called
// concurrently and none blocks or allocates. The whole state is one 64-bit word changed by
// compare-exchange, so each transition has exactly one winner and only the winner reports it
// (OnFailure returns kOpened once per opening). The word publishes no other memory, and
// read-modify-writes of one atomic object are totally ordered whatever their memory order,
// which is all a single-winner transition needs; transitions are seq_cst only so that
// SyncCircuitFlag can order them against Backend::kCircuitOpen. A reader may see a
// slightly old state, as it may with Backend's other relaxed facts. Backend::kCircuitOpen is
// derived from the word by SyncCircuitFlag (below), never set from a transition's result.
//
// Time is injected (MonoNanos() in production) and must be >= 0. The open deadline is kept
// in milliseconds, rounded up, so a breaker never half-opens early but may do so up to 1 ms
// late.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "proxy/upstream/backend.h"

namespace outrigger::upstream {

enum class CircuitChange : uint8_t {
  kUnchanged,
  kOpened,  // from closed, or again from half_open: call SyncCircuitFlag
  kClosed,  // from half_open: the backend is trusted again; call SyncCircuitFlag
};

enum class FlagSync : uint8_t { kUnchanged, kSet, kCleared };

class CircuitBreaker {
 public:
  enum class State : uint8_t { kClosed, kOpen, kHalfOpen };

  struct Options {
    // Failures in a row that open a closed breaker. Clamped to [1, 1023].
    uint32_t consecutive_failures = 5;
    // First open time; each failed trial doubles it. Negative counts as 0.
    std::chrono::nanoseconds open_for = std::chrono::seconds(30);
    // Ceiling for the doubled open time (never below open_for).
    std::chrono::nanoseconds max_open_for = std::chrono::minutes(5);
    // Requests admitted at once while half-open. One trial is the least load on a backend
    // that may still be sick; more find a recovered backend sooner on a busy pool. Clamped to
    // [1, 63].
    uint32_t half_open_trials = 1;
    // A half-open trial that has reported nothing for this long is presumed lost (a bug in
    // the caller, say) and its slot goes to a new trial, so a missing report cannot wedge the
    // breaker half-open. Set it to the longest a request can take (the pool's connect + read
    // timeouts; the default is design.md's 5 s + 60 s); a shorter value lets more than
    // half_open_trials trials overlap.
    std::chrono::nanoseconds trial_timeout = std::chrono::seconds(65);
  };

  // The open time doubles at most this many times: 8× open_for.
  static constexpr uint32_t kMaxBackoffDoublings = 3;

  explicit CircuitBreaker(const Options& options);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // New options (a reload), keeping the state: a failure streak or an open time under way
  // goes on under the new values from the next transition (a streak already at or past a
  // lower consecutive_failures opens on the next failure; a running open deadline stands).
  void Reconfigure(const Options& options);

  // Whether a request may go to the backend now. Closed: always. Open: no, until the open
  // time has elapsed; then the caller becomes the first half-open trial. Half-open: yes while
  // fewer than half_open_trials trials are outstanding (see trial_timeout).
  // REQUIRES: every `true` is followed by exactly one OnSuccess, OnFailure or OnAbandoned.
  bool AllowRequest(int64_t now_ns);

  // The backend answered well. Closes a half-open breaker; in closed, ends a failure streak.
  // Cheap when nothing changes (a load, no write), as on most requests.
  CircuitChange OnSuccess(int64_t now_ns);

  // The backend failed (an Outcome for which CountsAsFailure() holds).
  CircuitChange OnFailure(int64_t now_ns);

  // The request ended without saying anything about the backend (the client went away):
  // frees its half-open trial slot, changes nothing else.
  void OnAbandoned();

  // The state as of now_ns: an open breaker whose open time has elapsed reads half_open, even
  // before AllowRequest has moved it there.
  State state(int64_t now_ns) const;

  // While open: the first instant a trial is admitted (for a timer that clears kCircuitOpen so
  // the balancer offers the backend again). nullopt in closed and half_open.
  std::optional<int64_t> trial_at_ns() const;

  // Whether the breaker keeps its backend out of picks at now_ns: open, and the open time not
  // yet over (after it, the balancer must offer the backend so AllowRequest can admit a trial).
  bool Excludes(int64_t now_ns) const { return Excludes(word(), now_ns); }

 private:
  friend FlagSync SyncCircuitFlag(Backend&, int64_t, void (*)(void*), void*);

  uint64_t word() const { return word_.load(std::memory_order_seq_cst); }
  static bool Excludes(uint64_t word, int64_t now_ns);

  // The fields packed into word_ (layout in circuit_breaker.cc).
  struct Fields {
    State state = State::kClosed;
    uint32_t doublings = 0;   // of open_for, in [0, kMaxBackoffDoublings]
    uint32_t trials = 0;      // half_open: trials outstanding
    uint32_t failures = 0;    // closed: failures in a row, < consecutive_failures_
    int64_t deadline_ms = 0;  // open: half-open from; half_open: outstanding trials expire
  };
  static uint64_t Pack(const Fields& f);
  static Fields Unpack(uint64_t word);

  int64_t OpenTimeNs(uint32_t doublings) const;
  static int64_t DeadlineMs(int64_t now_ns, int64_t duration_ns);

  // Options (Reconfigure), relaxed: each is read once per transition, and a transition racing
  // a reload may mix old and new values, as a request racing a reload may.
  std::atomic<uint32_t> consecutive_failures_;
  std::atomic<uint32_t> half_open_trials_;
  std::atomic<int64_t> open_for_ns_;
  std::atomic<int64_t> max_open_for_ns_;
  std::atomic<int64_t> trial_timeout_ns_;

  // Shared by every worker; relaxed (see the thread contract above).
  std::atomic<uint64_t> word_;
  static_assert(std::atomic<uint64_t>::is_always_lock_free);
};

// Makes backend.unavailable() & kCircuitOpen equal to backend.breaker()->Excludes(now_ns), and
// says whether it changed the bit. Call it after every transition (the CircuitChange is not
// kUnchanged) and from the control thread's tick, which clears the bit once the open time is
// over. Setting the bit from a transition's result instead loses races: worker A opens the
// breaker; the open time passes and worker B's trial closes it and clears the bit; A then
// sets the bit on a closed breaker, which nothing would ever clear.
//
// Any number of threads may sync one backend at once. Each writes the bit its reading of the
// state word implies, then reads the word again and starts over if it changed; the word and
// the bit are accessed seq_cst, so the last writer of the bit saw the word as it still is, or
// the thread that changed the word later syncs after it. Only the time-dependent part may
// lag: a thread whose now_ns is before the open deadline can set the bit just after the tick
// cleared it, and the next tick clears it again.
//
// `between` (tests only; may be null) runs with `arg` after the word is read and before the
// bit is written, to replay an interleaving deterministically.
// REQUIRES: backend.breaker() is not null.
FlagSync SyncCircuitFlag(Backend& backend, int64_t now_ns, void (*between)(void*) = nullptr,
                         void* arg = nullptr);

}  // namespace outrigger::upstream
