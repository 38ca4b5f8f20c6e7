#include "proxy/balance/registry.h"

#include <array>
#include <utility>

namespace outrigger::balance {

std::unique_ptr<BalancingPolicy> MakeRoundRobin(std::span<const Member>, const PolicyOptions&);

namespace {

constexpr std::array<std::pair<std::string_view, PolicyFactory>, 1> kPolicies = {{
    {"round_robin", &MakeRoundRobin},
}};

}  // namespace

PolicyFactory FindPolicy(std::string_view name) {
  for (const auto& [n, f] : kPolicies) {
    if (n == name) return f;
  }
  return nullptr;
}

std::vector<std::string_view> PolicyNames() {
  std::vector<std::string_view> names;
  for (const auto& [n, f] : kPolicies) names.push_back(n);
  return names;
}

}  // namespace outrigger::balance
