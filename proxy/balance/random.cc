// Weighted random: each pick independently takes a member with probability weight / Σ weight
// (slow start's points during a ramp) among the eligible ones. Stateless between picks, so
// workers need no coordination and nothing herds, at the price of short-term unevenness that
// round robin avoids. The draw is an alias table (Vose 1991) with rejection of ineligible
// members, falling back to a reservoir scan when most of the pool is down (sampler.h).
// O(1) expected per pick, O(n) worst case; no allocation.
#include <memory>

#include "proxy/balance/eligible.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/sampler.h"
#include "proxy/base/prng.h"

namespace outrigger::balance {
namespace {

class Random final : public BalancingPolicy {
 public:
  Random(std::span<const Member> members, const PolicyOptions& options)
      : sampler_(members, options), rng_(options.seed) {}

  // BalancingPolicy
  upstream::Backend* Pick(const PickContext& ctx) override {
    size_t i = sampler_.Draw(ctx, rng_);
    if (i == EligibleSampler::kNone) i = sampler_.Scan(ctx, rng_);
    if (i == EligibleSampler::kNone) return ExcludedOrNone(sampler_.members(), ctx);
    return sampler_.members()[i].backend;
  }

 private:
  const EligibleSampler sampler_;
  base::Rng rng_;
};

}  // namespace

std::unique_ptr<BalancingPolicy> MakeRandom(std::span<const Member> members,
                                            const PolicyOptions& options) {
  return std::make_unique<Random>(members, options);
}

}  // namespace outrigger::balance
