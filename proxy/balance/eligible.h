// What every policy means by "may take this pick", kept in one place.
#pragma once

#include <algorithm>
#include <span>

#include "proxy/balance/policy.h"

namespace outrigger::balance {

// May take a new request: no unavailability reason beyond those ctx.ignore disregards, and
// under every cap. A backend at max_connections still counts as usable while its queue of
// pending requests has room (the request waits for a connection), or while the request can go
// as a stream on a connection held already (ctx.streams), under max_requests.
inline bool Usable(const upstream::Backend* backend, const PickContext& ctx) {
  if ((backend->unavailable() & ~ctx.ignore) != 0) return false;
  if (ctx.caps == nullptr) return true;
  upstream::BackendLoad load{backend->connections_in_use(), backend->pending(),
                             backend->active_requests()};
  if (!upstream::OverCaps(load, *ctx.caps)) return true;
  return ctx.streams != nullptr && load.requests < ctx.caps->max_requests &&
         ctx.streams->CanOpenStream(backend);
}

// REQUIRES: backend is not null (null marks unused slots).
inline bool Excluded(const upstream::Backend* backend, const PickContext& ctx) {
  return std::find(ctx.exclude.begin(), ctx.exclude.end(), backend) != ctx.exclude.end();
}

// Usable() and not a backend a retry is avoiding.
inline bool Eligible(const upstream::Backend* backend, const PickContext& ctx) {
  return Usable(backend, ctx) && !Excluded(backend, ctx);
}

// The answer when no member is Eligible(): an excluded member that is still usable (a retry
// on a one-backend pool beats no answer), else nullptr. O(n), and only on that rare path.
inline upstream::Backend* ExcludedOrNone(std::span<const Member> members, const PickContext& ctx) {
  if (ctx.exclude[0] == nullptr) return nullptr;
  for (const Member& m : members) {
    if (Excluded(m.backend, ctx) && Usable(m.backend, ctx)) return m.backend;
  }
  return nullptr;
}

}  // namespace outrigger::balance
