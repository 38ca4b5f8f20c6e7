// RedisClient: one worker's connection to a rate_limit store (`store: redis://HOST:PORT`),
// with hiredis' asynchronous API on the worker's loop.
//
// One round trip per decision: a Lua script runs GCRA on the key in Redis (its TIME, so the
// replicas' clocks do not matter), atomically, and answers allowed or not. A local lease of
// tokens would save the round trip but lets each replica overshoot by its lease, and the
// limits this serves (100 per 15 minutes per client) are exactly the ones where that shows.
//
// Never stalls a request for long: a question waits at most `timeout`; at most kMaxInFlight
// are out at once; while the connection is down (refused, reset, a name that does not
// resolve) questions fail at once, and it reconnects in the background with a backoff; a
// new connection serves only once Redis answered a PING on it. Each
// failure is the caller's to count (StoreReply::ok false); the client logs the outage once
// and the recovery once.
//
// Thread contract: the loop's thread only (construction, calls, callbacks, destruction).
// Outlives every StoreWait of its worker (Worker declares its stores before its connections).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/store/store_wait.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

struct redisAsyncContext;

namespace outrigger::net {
class DnsResolver;
}

namespace outrigger::plugins {

class RedisClient final : public WaitOwner {
 public:
  // `host`: an IP literal or a name (resolved with c-ares on the loop at each connect).
  RedisClient(event_base* base, std::string host, uint16_t port, std::chrono::milliseconds timeout);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Asks for one GCRA decision on `key`: one request every `interval_us`, `tolerance_us`
  // ((burst - 1) intervals) of them at once. True: `wait` hears the reply later. False: the
  // store cannot be asked now (down, or kMaxInFlight out); `wait` is untouched.
  bool Gcra(std::string_view key, int64_t interval_us, int64_t tolerance_us, StoreWait* wait);

  bool connected() const { return connected_; }
  static constexpr size_t kMaxInFlight = 4096;

 private:
  struct Op {
    StoreWait* wait = nullptr;  // null once answered by a timeout or cancelled
    int64_t deadline_ns = 0;
    bool probe = false;  // the PING that tells a new connection after a failure is served
  };

  void Connect();
  void ConnectTo(const std::string& ip);
  void ScheduleReconnect(std::string_view why);
  void Forget(uint64_t seq) override;  // StoreWait::Cancel
  void OnReply(void* reply);
  void ArmTimeout();
  void WatchForStall();
  static void OnReplyThunk(redisAsyncContext* ac, void* reply, void* self);
  static void OnConnected(const redisAsyncContext* ac, int status);
  static void OnDisconnected(const redisAsyncContext* ac, int status);
  static void OnTimer(evutil_socket_t, short, void* self);
  static void OnRetry(evutil_socket_t, short, void* self);

  event_base* const base_;
  const std::string host_;
  const uint16_t port_;
  const int64_t timeout_ns_;
  const std::string label_;                     // redis://host:port, for the log
  std::unique_ptr<net::DnsResolver> resolver_;  // when host_ is a name
  redisAsyncContext* ac_ = nullptr;             // hiredis frees it itself after a disconnect
  bool connected_ = false;
  // False from a failure until Redis answers on a new connection: questions fail at once.
  bool healthy_ = true;
  bool down_logged_ = false;  // the outage is logged once, and its end
  bool closing_ = false;      // the destructor runs: replies are dropped
  bool bad_reply_logged_ = false;
  std::chrono::milliseconds backoff_{0};
  net::EventPtr timeout_timer_;
  int64_t timer_at_ns_ = 0;  // when timeout_timer_, if pending, fires
  net::EventPtr retry_timer_;
  // The questions out, oldest first: Redis answers in order, so the reply in hand is always
  // ring_[first_ % size]. Slots from first_ to next_.
  std::vector<Op> ring_;
  uint64_t first_ = 0;
  uint64_t next_ = 0;
};

}  // namespace outrigger::plugins
