#include "proxy/balance/registry.h"

#include <array>
#include <utility>

namespace outrigger::balance {

// Each policy's file defines its factory; this table is the only place that names them all.
std::unique_ptr<BalancingPolicy> MakeRoundRobin(std::span<const Member>, const PolicyOptions&);
std::unique_ptr<BalancingPolicy> MakeLeastConn(std::span<const Member>, const PolicyOptions&);
std::unique_ptr<BalancingPolicy> MakeIpHash(std::span<const Member>, const PolicyOptions&);
std::unique_ptr<BalancingPolicy> MakeP2cEwma(std::span<const Member>, const PolicyOptions&);
std::unique_ptr<BalancingPolicy> MakeRandom(std::span<const Member>, const PolicyOptions&);
std::shared_ptr<const void> PrepareIpHash(std::span<const Member>);

namespace {

constexpr std::array<std::pair<std::string_view, PolicyFactory>, 5> kPolicies = {{
    {"round_robin", &MakeRoundRobin},
    {"least_conn", &MakeLeastConn},
    {"ip_hash", &MakeIpHash},
    {"p2c_ewma", &MakeP2cEwma},
    {"random", &MakeRandom},
}};

}  // namespace

PolicyFactory FindPolicy(std::string_view name) {
  for (const auto& [n, f] : kPolicies) {
    if (n == name) return f;
  }
  return nullptr;
}

PolicyPreparer FindPreparer(std::string_view name) {
  return name == "ip_hash" ? &PrepareIpHash : nullptr;
}

std::vector<std::string_view> PolicyNames() {
  std::vector<std::string_view> names;
  for (const auto& [n, f] : kPolicies) names.push_back(n);
  return names;
}

}  // namespace outrigger::balance
