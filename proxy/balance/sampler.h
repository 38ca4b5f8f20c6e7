// EligibleSampler: draws a member with probability proportional to its slow-start points
// (slow_start.h) among the eligible ones (eligible.h), the weighted draw that random and
// p2c_ewma share.
//
// Draw(): rejection sampling over an alias table of the configured weights (alias_table.h):
// draw ∝ weight in O(1), then keep the member with probability points / full points, and
// redraw if it is ineligible. Keeping ∝ points/weight of a draw ∝ weight gives exactly ∝
// points. Expected O(1) while most weight is eligible; gives up after kDrawAttempts so a pool
// that is mostly down costs a bounded number of draws before Scan().
// Scan(): the same distribution in one O(n) pass (weighted reservoir sampling), always
// answers when some member is eligible.
// Neither allocates. Not thread-safe (the base::Rng is the caller's, one per worker).
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "proxy/balance/alias_table.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/slow_start.h"
#include "proxy/base/prng.h"

namespace outrigger::balance {

class EligibleSampler {
 public:
  static constexpr size_t kNone = static_cast<size_t>(-1);
  static constexpr int kDrawAttempts = 16;

  EligibleSampler(std::span<const Member> members, const PolicyOptions& options);

  // An eligible member's index other than `avoid`, or kNone after kDrawAttempts misses.
  size_t Draw(const PickContext& ctx, base::Rng& rng, size_t avoid = kNone) const;

  // An eligible member's index other than `avoid`, or kNone when there is none.
  size_t Scan(const PickContext& ctx, base::Rng& rng, size_t avoid = kNone) const;

  std::span<const Member> members() const { return members_; }
  const SlowStart& slow_start() const { return slow_start_; }

 private:
  const std::vector<Member> members_;
  const AliasTable table_;
  const SlowStart slow_start_;
};

}  // namespace outrigger::balance
