// BalancingPolicy: which backend of a pool takes the next request.
//
// A policy is pure: no event loop, no sockets, no clock of its own (time comes in the
// context), randomness from a generator seeded through PolicyOptions so tests are exact.
// Thread contract: one instance per worker thread (built from the same members), so
// per-pick state such as smooth round robin's current weights needs no synchronisation;
// process-wide load is read from the Backends' atomics. Pick() must not allocate.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/upstream/backend.h"

namespace outrigger::balance {

struct Member {
  upstream::Backend* backend;  // outlives the policy (the snapshot holds it)
  uint32_t weight;             // >= 1, as configured
};

struct PickContext {
  int64_t now_ns = 0;                          // MonoNanos() at the pick
  std::string_view hash_key;                   // ip_hash: the client key (ip, header or cookie)
  const upstream::Backend* exclude = nullptr;  // a retry avoids the backend that just failed
};

struct PolicyOptions {
  std::chrono::milliseconds slow_start{0};  // 0: no ramp
  uint64_t seed = 0;                        // for policies that draw random numbers
};

class BalancingPolicy {
 public:
  virtual ~BalancingPolicy() = default;

  // Returns a backend that is Available() and not ctx.exclude, or nullptr when none is.
  // (When only ctx.exclude is available, it may be returned rather than nothing.)
  virtual upstream::Backend* Pick(const PickContext& ctx) = 0;
};

using PolicyFactory = std::unique_ptr<BalancingPolicy> (*)(std::span<const Member> members,
                                                           const PolicyOptions& options);

}  // namespace outrigger::balance
