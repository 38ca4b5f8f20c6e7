#include "plugins/store/password_checker.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

namespace outrigger::plugins {
namespace {

// The cache's key: SHA-256 of the hash and the password, so that the password is not kept,
// and a user whose hash changed in the file (a new password) is checked again.
std::array<uint8_t, 32> DigestOf(std::string_view password, const std::string& hash) {
  std::array<uint8_t, 32> out{};
  std::string both = hash;
  both.push_back('\0');  // no ambiguity at the seam: a hash has no NUL
  both.append(password);
  unsigned int len = 0;
  EVP_Digest(both.data(), both.size(), out.data(), &len, EVP_sha256(), nullptr);
  OPENSSL_cleanse(both.data(), both.size());
  return out;
}

absl::string_view AsKey(const std::array<uint8_t, 32>& d) {
  return {reinterpret_cast<const char*>(d.data()), d.size()};
}

}  // namespace

PasswordChecker::~PasswordChecker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  for (auto& [seq, wait] : waits_) {
    if (wait != nullptr) wait->Orphan();
  }
}

PasswordChecker::Result PasswordChecker::Check(std::string_view password, const std::string& hash,
                                               StoreWait* wait) {
  const Digest digest = DigestOf(password, hash);
  if (matched_.contains(AsKey(digest))) return Result::kMatch;
  if (waits_.size() >= kMaxQueued) return Result::kBusy;
  const uint64_t seq = next_seq_++;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(Job{seq, std::string(password), hash, digest});
  }
  if (!thread_.joinable()) thread_ = std::thread(&PasswordChecker::Run, this);
  wake_.notify_one();
  waits_.emplace_back(seq, wait);
  wait->Start(this, seq);
  return Result::kPending;
}

void PasswordChecker::Forget(uint64_t seq) {
  // A check still queued is dropped (its client left: no CPU for it, and a drain does not
  // wait behind it); one under way finishes, unheard.
  bool dropped = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->seq == seq) {
        OPENSSL_cleanse(it->password.data(), it->password.size());
        queue_.erase(it);
        dropped = true;
        break;
      }
    }
  }
  for (auto it = waits_.begin(); it != waits_.end(); ++it) {
    if (it->first != seq) continue;
    if (dropped) {
      waits_.erase(it);
    } else {
      it->second = nullptr;
    }
    return;
  }
}

void PasswordChecker::Run() {
  // crypt_r's scratch is 32 KiB: one for the thread's life, zeroed once as it asks.
  auto scratch = std::make_unique<crypt_data>();
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const char* out = crypt_r(job.password.c_str(), job.hash.c_str(), scratch.get());
    // crypt_r answers a bad setting with a string starting with '*', never the hash itself.
    const bool match = out != nullptr && out[0] != '*' && std::strlen(out) == job.hash.size() &&
                       CRYPTO_memcmp(out, job.hash.data(), job.hash.size()) == 0;
    OPENSSL_cleanse(job.password.data(), job.password.size());
    mailbox_.Post([this, seq = job.seq, digest = job.digest, match] { Done(seq, digest, match); });
  }
}

void PasswordChecker::Done(uint64_t seq, const Digest& digest, bool match) {
  if (match) {
    if (matched_.size() >= kCacheSize) matched_.clear();  // rare: many users, or an attack
    matched_.insert(std::string(AsKey(digest)));
  }
  // Checks finish in the order they were queued (one thread), less those dropped (Forget
  // erased their waits): the answer is the oldest's.
  if (waits_.empty() || waits_.front().first != seq) return;
  StoreWait* wait = waits_.front().second;
  waits_.pop_front();
  if (wait == nullptr) return;  // its request went
  StoreReply reply;
  reply.ok = true;
  reply.allowed = match;
  wait->Finish(reply);
}

}  // namespace outrigger::plugins
