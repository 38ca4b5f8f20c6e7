// StoreWait: a request's wait for a shared store's answer (rate_limit's `store: redis://`).
// The exchange owns one per request (plugins::Context) and says what to call when the answer
// comes; the store holds a pointer to it while the question is out. Either side may go
// first: a reply for a wait that was cancelled (its client left) is dropped, and a wait whose
// store is gone never hears back (a store outlives its worker's exchanges).
#pragma once

#include <cstdint>

namespace outrigger::plugins {

class RedisClient;

// One GCRA decision from the store (times in microseconds).
struct StoreReply {
  bool ok = false;  // false: no answer (store down, slow past its timeout, bad reply)
  bool allowed = false;
  int64_t retry_after_us = 0;  // !allowed: when the next request would be
  uint32_t remaining = 0;      // allowed: requests still allowed at once after this one
  int64_t reset_us = 0;        // until the bucket is full again
};

class StoreWait {
 public:
  using Callback = void (*)(void* arg);

  StoreWait() = default;
  ~StoreWait() { Cancel(); }
  StoreWait(const StoreWait&) = delete;
  StoreWait& operator=(const StoreWait&) = delete;

  // Who hears the answer: `done(arg)`, once per question, never from inside the call that
  // asked it.
  void SetCallback(Callback done, void* arg) {
    done_ = done;
    arg_ = arg;
  }
  bool waiting() const { return client_ != nullptr; }
  // The store forgets this wait: no callback comes for the question out.
  void Cancel();
  const StoreReply& reply() const { return reply_; }

 private:
  friend class RedisClient;
  // The store's side: the answer (or failure) is in; clears the link, then calls back.
  void Finish(const StoreReply& reply) {
    client_ = nullptr;
    reply_ = reply;
    if (done_ != nullptr) done_(arg_);
  }

  RedisClient* client_ = nullptr;  // set while a question is out
  uint64_t seq_ = 0;               // its number at that client
  StoreReply reply_;
  Callback done_ = nullptr;
  void* arg_ = nullptr;
};

}  // namespace outrigger::plugins
