// Stores: what one worker's plugins ask and hear back from later: its connections to shared
// stores (rate_limit's `store: redis://`) and its password checker (basic_auth), made on
// first use and kept for the worker's life, so that a reload does not reconnect or forget. One per
// worker: a plugin, shared by every worker, reaches its worker's through the request's Context.
//
// Thread contract: the worker loop's thread only. Declared before the worker's connections,
// so it outlives every request that may be waiting on it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>

#include "plugins/compress/body_encoder.h"
#include "plugins/store/password_checker.h"
#include "plugins/store/redis_client.h"

namespace outrigger::plugins {

class Stores {
 public:
  explicit Stores(event_base* base) : base_(base) {}

  // The worker's client for `host:port` with this timeout.
  RedisClient& Redis(const std::string& host, uint16_t port, std::chrono::milliseconds timeout) {
    std::unique_ptr<RedisClient>& c = redis_[{host, port, timeout.count()}];
    if (c == nullptr) c = std::make_unique<RedisClient>(base_, host, port, timeout);
    return *c;
  }

  // compress's encoders, kept between responses.
  EncoderPool& encoders() { return encoders_; }

  PasswordChecker& passwords() {
    if (passwords_ == nullptr) passwords_ = std::make_unique<PasswordChecker>(base_);
    return *passwords_;
  }

 private:
  event_base* const base_;
  EncoderPool encoders_;
  std::unique_ptr<PasswordChecker> passwords_;
  std::map<std::tuple<std::string, uint16_t, int64_t>, std::unique_ptr<RedisClient>> redis_;
};

}  // namespace outrigger::plugins
