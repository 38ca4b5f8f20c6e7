// What every policy means by "may take this pick", kept in one place.
#pragma once

#include <span>

#include "proxy/balance/policy.h"

namespace outrigger::balance {

// Available() and not the backend a retry is avoiding.
inline bool Eligible(const upstream::Backend* backend, const PickContext& ctx) {
  return backend != ctx.exclude && backend->Available();
}

// The answer when no member is Eligible(): the excluded backend if it is one of `members` and
// still available (a retry on a one-backend pool beats no answer), else nullptr. O(n), and
// only ever on that rare path.
inline upstream::Backend* ExcludedOrNone(std::span<const Member> members, const PickContext& ctx) {
  if (ctx.exclude == nullptr || !ctx.exclude->Available()) return nullptr;
  for (const Member& m : members) {
    if (m.backend == ctx.exclude) return m.backend;
  }
  return nullptr;
}

}  // namespace outrigger::balance
