// Smooth weighted round robin (nginx's ngx_http_upstream_get_peer): every pick adds each
// eligible member's weight to its current score, takes the highest, and subtracts the sum of
// weights from the winner. For weights {5,1,1} the sequence is a a b a c a a: interleaved,
// never bursts of one backend. Weights are slow start's points (slow_start.h), so a ramping
// backend takes its reduced share in the same interleaved way.
// Reference: nginx src/http/ngx_http_upstream_round_robin.c; O(n) per pick, no allocation.
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/balance/eligible.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/slow_start.h"

namespace outrigger::balance {
namespace {

class RoundRobin final : public BalancingPolicy {
 public:
  RoundRobin(std::span<const Member> members, const PolicyOptions& options)
      : members_(members.begin(), members.end()),
        current_(members.size(), 0),
        slow_start_(options.slow_start) {}

  // BalancingPolicy
  upstream::Backend* Pick(const PickContext& ctx) override {
    int64_t total = 0;
    size_t best = members_.size();
    for (size_t i = 0; i < members_.size(); ++i) {
      if (!Eligible(members_[i].backend, ctx)) continue;
      const auto weight = static_cast<int64_t>(slow_start_.Points(members_[i], ctx.now_ns));
      current_[i] += weight;
      total += weight;
      if (best == members_.size() || current_[i] > current_[best]) best = i;
    }
    if (best == members_.size()) return ExcludedOrNone(members_, ctx);
    current_[best] -= total;
    return members_[best].backend;
  }

 private:
  const std::vector<Member> members_;
  std::vector<int64_t> current_;  // nginx's current_weight, in points
  const SlowStart slow_start_;
};

}  // namespace

std::unique_ptr<BalancingPolicy> MakeRoundRobin(std::span<const Member> members,
                                                const PolicyOptions& options) {
  return std::make_unique<RoundRobin>(members, options);
}

}  // namespace outrigger::balance
