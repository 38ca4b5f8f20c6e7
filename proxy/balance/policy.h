// BalancingPolicy: which backend of a pool takes the next request.
//
// A policy is pure: no event loop, no sockets, no clock of its own (time comes in the
// context), randomness from a generator seeded through PolicyOptions so tests are exact.
// Thread contract: one instance per worker thread (built from the same members), so
// per-pick state such as smooth round robin's current weights needs no synchronisation;
// process-wide load is read from the Backends' atomics. Pick() must not allocate.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "proxy/upstream/backend.h"
#include "proxy/upstream/caps.h"

namespace outrigger::balance {

struct Member {
  upstream::Backend* backend;  // outlives the policy (the snapshot holds it)
  uint32_t weight;             // >= 1, as configured
};

struct PickContext {
  int64_t now_ns = 0;         // MonoNanos() at the pick
  std::string_view hash_key;  // ip_hash: the client key (ip, header or cookie)
  // Backends this request already failed on (the latest kMaxExcluded): a retry avoids them.
  // Unused slots are null.
  static constexpr size_t kMaxExcluded = 4;
  std::array<const upstream::Backend*, kMaxExcluded> exclude{};
  // Backend::Unavailable reasons to disregard: balancing panic spreads over backends that
  // probes took out (never over open circuits or draining ones).
  uint32_t ignore = 0;
  // Per-backend caps: a backend at one is skipped. Null: no caps.
  const upstream::BackendCaps* caps = nullptr;
  // h2 pools: where a backend at its connection caps may still take the request as a stream
  // (this worker's H2Pool). Null: every request needs a connection slot.
  const upstream::StreamRoom* streams = nullptr;

  // Adds `backend` to exclude, forgetting the oldest when full.
  void Exclude(const upstream::Backend* backend) {
    for (size_t i = kMaxExcluded - 1; i > 0; --i) exclude[i] = exclude[i - 1];
    exclude[0] = backend;
  }
};

struct PolicyOptions {
  std::chrono::milliseconds slow_start{0};  // 0: no ramp
  uint64_t seed = 0;                        // for policies that draw random numbers
  // What the policy's PolicyPreparer built for these same members, shared read-only by every
  // worker's instance; null: the policy builds its own.
  std::shared_ptr<const void> prepared;
};

class BalancingPolicy {
 public:
  virtual ~BalancingPolicy() = default;

  // Returns a backend that is Usable() (eligible.h) and not in ctx.exclude, or nullptr when
  // none is. (When only excluded ones are usable, one may be returned rather than nothing.)
  virtual upstream::Backend* Pick(const PickContext& ctx) = 0;
};

using PolicyFactory = std::unique_ptr<BalancingPolicy> (*)(std::span<const Member> members,
                                                           const PolicyOptions& options);

// Builds, once per snapshot and pool on the control thread, immutable state that every
// worker's instance can share (PolicyOptions::prepared) rather than build its own: ip_hash's
// lookup table.
using PolicyPreparer = std::shared_ptr<const void> (*)(std::span<const Member> members);

}  // namespace outrigger::balance
