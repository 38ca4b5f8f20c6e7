// Test helpers for the balancing policies: a pool of real Backends on 127.0.0.1, its Members,
// and counters and small simulations so each test reads as a specification.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proxy/balance/policy.h"
#include "proxy/balance/registry.h"
#include "proxy/net/address.h"
#include "proxy/upstream/backend.h"

namespace outrigger::balance {

// Time origin of the tests' clocks: positive, as MonoNanos() is, so that
// available_since_ns() > 0 means "ramping".
inline constexpr int64_t kT0 = int64_t{1'000'000'000'000};
inline constexpr int64_t kMs = 1'000'000;
inline constexpr int64_t kSecond = 1'000'000'000;

// A pick at now_ns for the client `key`, avoiding `exclude`.
inline PickContext At(int64_t now_ns, std::string_view key = {},
                      const upstream::Backend* exclude = nullptr) {
  PickContext ctx;
  ctx.now_ns = now_ns;
  ctx.hash_key = key;
  if (exclude != nullptr) ctx.Exclude(exclude);
  return ctx;
}

class Pool {
 public:
  // A backend labelled `label` at 127.0.0.1:(9000 + its index), in the pool with `weight`.
  upstream::Backend& Add(const std::string& label, uint32_t weight = 1) {
    const std::string address = "127.0.0.1:" + std::to_string(9000 + backends_.size());
    backends_.emplace_back("pool", net::ParseNumericAddress(address).value(), label);
    members_.push_back({&backends_.back(), weight});
    return backends_.back();
  }

  upstream::Backend& operator[](const std::string& label) {
    for (upstream::Backend& b : backends_) {
      if (b.label() == label) return b;
    }
    ADD_FAILURE() << "no backend " << label;
    return backends_.front();
  }

  // Takes the member out of the pool (as a reload or DNS would); its Backend lives on.
  void Remove(const std::string& label) {
    std::erase_if(members_, [&](const Member& m) { return m.backend->label() == label; });
  }

  const std::vector<Member>& members() const { return members_; }

  std::unique_ptr<BalancingPolicy> Make(std::string_view policy, PolicyOptions options = {}) {
    PolicyFactory factory = FindPolicy(policy);
    EXPECT_NE(factory, nullptr) << policy;
    return factory(members_, options);
  }

 private:
  std::deque<upstream::Backend> backends_;
  std::vector<Member> members_;
};

// Picks `n` times at `ctx`, each request completing before the next, and counts by label
// ("" for nullptr).
inline std::map<std::string, int> CountPicks(BalancingPolicy& policy, int n,
                                             const PickContext& ctx = At(kT0)) {
  std::map<std::string, int> counts;
  for (int i = 0; i < n; ++i) {
    upstream::Backend* b = policy.Pick(ctx);
    ++counts[b == nullptr ? "" : b->label()];
  }
  return counts;
}

// The largest difference, in percentage points, between each member's share of `counts` and
// its share of the pool's weight; prints both that and the largest relative error.
inline double MaxShareErrorPoints(const Pool& pool, const std::map<std::string, int>& counts,
                                  const char* what) {
  double total_weight = 0;
  double total_picks = 0;
  for (const Member& m : pool.members()) total_weight += m.weight;
  for (const auto& [label, n] : counts) total_picks += n;
  double worst_points = 0;
  double worst_relative = 0;
  for (const Member& m : pool.members()) {
    const double expected = m.weight / total_weight;
    const auto it = counts.find(m.backend->label());
    const double got = it == counts.end() ? 0 : it->second / total_picks;
    worst_points = std::max(worst_points, 100 * std::abs(got - expected));
    worst_relative = std::max(worst_relative, 100 * std::abs(got - expected) / expected);
  }
  std::printf("[measure] %s: max share error %.3f pp, %.3f%% relative\n", what, worst_points,
              worst_relative);
  return worst_points;
}

// A discrete-time load simulation over ticks [from, to) (time kT0 + tick ms): each tick,
// `arrivals` requests are picked and each
// holds its backend's active_requests() for service_ms(backend, tick) ticks, then completes
// and, when `observe` is set, reports its latency to observe(backend, latency_ns, now_ns).
// Requests still in flight at `to` complete unobserved. Returns picks by label.
template <typename ServiceMs, typename Observe>
std::map<std::string, int> Simulate(BalancingPolicy& policy, int from, int to, int arrivals,
                                    ServiceMs service_ms, Observe observe) {
  struct Flight {
    upstream::Backend* backend;
    int64_t started_ns;
  };
  std::map<int, std::vector<Flight>> completions;  // tick → requests completing then
  std::map<std::string, int> counts;
  for (int tick = from; tick < to; ++tick) {
    const int64_t now = kT0 + tick * kMs;
    if (auto it = completions.find(tick); it != completions.end()) {
      for (const Flight& f : it->second) {
        f.backend->AddActive(-1);
        observe(*f.backend, now - f.started_ns, now);
      }
      completions.erase(it);
    }
    for (int a = 0; a < arrivals; ++a) {
      upstream::Backend* b = policy.Pick(At(now));
      if (b == nullptr) continue;
      b->AddActive(1);
      completions[tick + service_ms(*b, tick)].push_back({b, now});
      ++counts[b->label()];
    }
  }
  for (auto& [tick, flights] : completions) {
    for (const Flight& f : flights) f.backend->AddActive(-1);
  }
  return counts;
}

inline double Share(const std::map<std::string, int>& counts, const std::string& label) {
  double total = 0;
  for (const auto& [l, n] : counts) total += n;
  const auto it = counts.find(label);
  return it == counts.end() || total == 0 ? 0 : it->second / total;
}

}  // namespace outrigger::balance
