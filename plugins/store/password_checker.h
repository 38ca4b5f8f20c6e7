// PasswordChecker: one worker's checks of passwords against crypt(3) hashes (bcrypt,
// SHA-crypt, yescrypt, from basic_auth's users file), on a thread of its own: a bcrypt check
// takes tens of milliseconds of CPU, which on the loop would stall every connection of the
// worker, and a client sending wrong passwords could do it at will.
//
// A password that matched is remembered (its SHA-256 with the hash it matched; kCacheSize at
// most), so a client sending the same credentials on each request pays the check once per
// worker. Only the enqueueing takes a lock, and only for a check not remembered; at most
// kMaxQueued wait, after which Check says kBusy.
//
// Thread contract: Check, Forget and destruction on the loop's thread; the answer comes on
// it too, through a Mailbox.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <array>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "plugins/store/store_wait.h"
#include "proxy/net/event.h"
#include "proxy/net/mailbox.h"

namespace outrigger::plugins {

class PasswordChecker final : public WaitOwner {
 public:
  explicit PasswordChecker(event_base* base) : mailbox_(base) {}
  ~PasswordChecker();
  PasswordChecker(const PasswordChecker&) = delete;
  PasswordChecker& operator=(const PasswordChecker&) = delete;

  enum class Result : uint8_t {
    kMatch,    // remembered as matching: no wait
    kPending,  // `wait` hears the verdict (reply().allowed) later
    kBusy,     // kMaxQueued checks wait already; `wait` untouched
  };
  Result Check(std::string_view password, const std::string& hash, StoreWait* wait);

  static constexpr size_t kMaxQueued = 64;
  static constexpr size_t kCacheSize = 4096;

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Job {
    uint64_t seq;
    std::string password;
    std::string hash;
    Digest digest;
  };

  void Forget(uint64_t seq) override;
  void Run();                                                 // the checking thread
  void Done(uint64_t seq, const Digest& digest, bool match);  // on the loop

  // Loop thread only.
  absl::flat_hash_set<std::string> matched_;           // digests (as bytes) of matching checks
  std::deque<std::pair<uint64_t, StoreWait*>> waits_;  // by seq, oldest first
  uint64_t next_seq_ = 0;

  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stop_ = false;      // guarded by mu_
  std::thread thread_;     // started with the first check
  net::Mailbox mailbox_;
};

}  // namespace outrigger::plugins
