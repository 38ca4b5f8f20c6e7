// Weighted least connections (nginx's ngx_http_upstream_get_least_conn_peer): take the member
// with the fewest requests in flight per unit of weight, active / weight, the load being
// Backend::active_requests() and so counted across every worker. Ratios are compared by
// cross-multiplication, exactly, without floats. Members tied at the minimum share the pick
// by smooth weighted round robin (round_robin.cc), so ties neither herd onto the first member
// nor ignore weights.
//
// Why active/weight and not (active + 1)/weight: with the +1, an idle pool (every request done
// before the next arrives) compares 1/5 against 1/1 and sends *everything* to the heaviest
// member; without it the idle members tie and the round robin among them honours the weights
// exactly, while under load both keys equalise in-flight per unit of weight the same way.
// Weights are slow start's points, so a ramping member holds proportionally fewer requests.
// Reference: nginx src/http/modules/ngx_http_upstream_least_conn_module.c.
// O(n) per pick (two passes over the members), no allocation.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "proxy/balance/eligible.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/slow_start.h"

namespace outrigger::balance {
namespace {

class LeastConn final : public BalancingPolicy {
 public:
  LeastConn(std::span<const Member> members, const PolicyOptions& options)
      : members_(members.begin(), members.end()),
        seen_(members.size()),
        current_(members.size(), 0),
        slow_start_(options.slow_start) {}

  // BalancingPolicy
  upstream::Backend* Pick(const PickContext& ctx) override {
    // Pass 1: snapshot each eligible member's load once (other workers move it meanwhile),
    // find the minimum and whether it is shared.
    size_t best = members_.size();
    size_t tied = 0;
    for (size_t i = 0; i < members_.size(); ++i) {
      Seen& s = seen_[i];
      s.eligible = Eligible(members_[i].backend, ctx);
      if (!s.eligible) continue;
      s.active =
          static_cast<uint64_t>(std::max<int64_t>(0, members_[i].backend->active_requests()));
      s.points = slow_start_.Points(members_[i], ctx.now_ns);
      const int order = best == members_.size() ? -1 : Compare(s, seen_[best]);
      if (order < 0) {
        best = i;
        tied = 1;
      } else if (order == 0) {
        ++tied;
      }
    }
    if (best == members_.size()) return ExcludedOrNone(members_, ctx);
    if (tied == 1) return members_[best].backend;

    // Pass 2: smooth weighted round robin among the tied.
    int64_t total = 0;
    size_t chosen = members_.size();
    const Seen minimum = seen_[best];
    for (size_t i = 0; i < members_.size(); ++i) {
      if (!seen_[i].eligible || Compare(seen_[i], minimum) != 0) continue;
      current_[i] += static_cast<int64_t>(seen_[i].points);
      total += static_cast<int64_t>(seen_[i].points);
      if (chosen == members_.size() || current_[i] > current_[chosen]) chosen = i;
    }
    current_[chosen] -= total;
    return members_[chosen].backend;
  }

 private:
  struct Seen {
    bool eligible;
    uint64_t active;
    uint64_t points;
  };

  // Sign of a.active / a.points − b.active / b.points. Points < 2^42 and active < 2^63, so
  // the products fit 128 bits.
  static int Compare(const Seen& a, const Seen& b) {
    const unsigned __int128 lhs = static_cast<unsigned __int128>(a.active) * b.points;
    const unsigned __int128 rhs = static_cast<unsigned __int128>(b.active) * a.points;
    return lhs < rhs ? -1 : (lhs > rhs ? 1 : 0);
  }

  const std::vector<Member> members_;
  std::vector<Seen> seen_;        // per-pick scratch, sized once so Pick() never allocates
  std::vector<int64_t> current_;  // round robin scores among ties, in points
  const SlowStart slow_start_;
};

}  // namespace

std::unique_ptr<BalancingPolicy> MakeLeastConn(std::span<const Member> members,
                                               const PolicyOptions& options) {
  return std::make_unique<LeastConn>(members, options);
}

}  // namespace outrigger::balance
