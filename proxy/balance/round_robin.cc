// Smooth weighted round robin (nginx's ngx_http_upstream_get_peer): every pick adds each
// eligible member's weight to its current score, takes the highest, and subtracts the sum of
// weights from the winner. For weights {5,1,1} the sequence is a a b a c a a: interleaved,
// never bursts of one backend. O(n) per pick, no allocation.
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/balance/policy.h"

namespace outrigger::balance {
namespace {

class RoundRobin final : public BalancingPolicy {
 public:
  explicit RoundRobin(std::span<const Member> members)
      : members_(members.begin(), members.end()), current_(members.size(), 0) {}

  // BalancingPolicy
  upstream::Backend* Pick(const PickContext& ctx) override {
    int64_t total = 0;
    size_t best = members_.size();
    size_t fallback = members_.size();
    for (size_t i = 0; i < members_.size(); ++i) {
      upstream::Backend* b = members_[i].backend;
      if (!b->Available()) continue;
      if (b == ctx.exclude) {
        fallback = i;
        continue;
      }
      current_[i] += members_[i].weight;
      total += members_[i].weight;
      if (best == members_.size() || current_[i] > current_[best]) best = i;
    }
    if (best == members_.size()) {
      return fallback == members_.size() ? nullptr : members_[fallback].backend;
    }
    current_[best] -= total;
    return members_[best].backend;
  }

 private:
  const std::vector<Member> members_;
  std::vector<int64_t> current_;
};

}  // namespace

std::unique_ptr<BalancingPolicy> MakeRoundRobin(std::span<const Member> members,
                                                const PolicyOptions&) {
  return std::make_unique<RoundRobin>(members);
}

}  // namespace outrigger::balance
