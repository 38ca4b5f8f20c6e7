#include "proxy/balance/sampler.h"

#include "proxy/balance/eligible.h"

namespace outrigger::balance {

EligibleSampler::EligibleSampler(std::span<const Member> members, const PolicyOptions& options)
    : members_(members.begin(), members.end()), table_(members), slow_start_(options.slow_start) {}

size_t EligibleSampler::Draw(const PickContext& ctx, base::Rng& rng, size_t avoid) const {
  if (members_.empty()) return kNone;
  for (int attempt = 0; attempt < kDrawAttempts; ++attempt) {
    const size_t i = table_.Draw(rng);
    if (i == avoid || !Eligible(members_[i].backend, ctx)) continue;
    const uint64_t full = SlowStart::FullPoints(members_[i]);
    const uint64_t points = slow_start_.Points(members_[i], ctx.now_ns);
    if (points < full && rng.Below(full) >= points) continue;
    return i;
  }
  return kNone;
}

size_t EligibleSampler::Scan(const PickContext& ctx, base::Rng& rng, size_t avoid) const {
  // Keeping member i with probability points_i / (Σ points so far) leaves each member chosen
  // with probability points_i / Σ points at the end.
  uint64_t total = 0;
  size_t chosen = kNone;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i == avoid || !Eligible(members_[i].backend, ctx)) continue;
    const uint64_t points = slow_start_.Points(members_[i], ctx.now_ns);
    total += points;
    if (rng.Below(total) < points) chosen = i;
  }
  return chosen;
}

}  // namespace outrigger::balance
