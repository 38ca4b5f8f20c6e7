// StoreWait: a request's wait for an answer a plugin cannot give at once: a shared store's
// (rate_limit's `store: redis://`) or a slow check's (basic_auth's bcrypt, off the loop).
// The exchange owns one per request (plugins::Context) and says what to call when the answer
// comes; the answerer (a WaitOwner) holds a pointer to it while the question is out. Either
// side may go first: a reply for a wait that was cancelled (its client left) is dropped, and
// a wait whose answerer is gone never hears back (answerers outlive their worker's exchanges).
#pragma once

#include <cstdint>

namespace outrigger::plugins {

// What answers waits: told when one is cancelled, so that it drops the answer.
class WaitOwner {
 public:
  virtual void Forget(uint64_t seq) = 0;

 protected:
  ~WaitOwner() = default;
};

// One GCRA decision from the store (times in microseconds), or a password check's verdict
// (`allowed`).
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
  bool waiting() const { return owner_ != nullptr; }
  // The answerer forgets this wait: no callback comes for the question out.
  void Cancel() {
    if (owner_ != nullptr) owner_->Forget(seq_);
    owner_ = nullptr;
  }
  const StoreReply& reply() const { return reply_; }

  // The answerer's side. Start: the question `seq` is out. Finish: the answer (or failure)
  // is in; clears the link, then calls back. Orphan: the answerer is going away.
  void Start(WaitOwner* owner, uint64_t seq) {
    owner_ = owner;
    seq_ = seq;
  }
  void Finish(const StoreReply& reply) {
    owner_ = nullptr;
    reply_ = reply;
    if (done_ != nullptr) done_(arg_);
  }
  void Orphan() { owner_ = nullptr; }

 private:
  WaitOwner* owner_ = nullptr;  // set while a question is out
  uint64_t seq_ = 0;            // its number at that answerer
  StoreReply reply_;
  Callback done_ = nullptr;
  void* arg_ = nullptr;
};

}  // namespace outrigger::plugins
