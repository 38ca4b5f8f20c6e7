// Cost of one Pick() per policy for pools of 3, 100 and 1,000 backends, all available, with
// light load on the Backends and a client key per pick (ip_hash).
#include <benchmark/benchmark.h>

#include <deque>
#include <string>
#include <vector>

#include "proxy/balance/peak_ewma.h"
#include "proxy/balance/registry.h"
#include "proxy/net/address.h"

namespace outrigger::balance {
namespace {

constexpr int64_t kNow = int64_t{1'000'000'000'000};

void BM_Pick(benchmark::State& state, std::string_view policy_name) {
  const int n = static_cast<int>(state.range(0));
  std::deque<upstream::Backend> backends;
  std::vector<Member> members;
  for (int i = 0; i < n; ++i) {
    const std::string address =
        "127.0.0." + std::to_string(1 + i / 250) + ":" + std::to_string(9000 + i % 250);
    backends.emplace_back("bench", net::ParseNumericAddress(address).value(), address);
    backends.back().AddActive(i % 4);
    ObserveLatency(backends.back(), (5 + i % 10) * 1'000'000, kNow);
    members.push_back({&backends.back(), static_cast<uint32_t>(1 + i % 3)});
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 4096; ++i)
    keys.push_back("198.51." + std::to_string(i / 256) + "." + std::to_string(i % 256));
  PolicyOptions options;
  options.seed = 1;
  auto policy = FindPolicy(policy_name)(members, options);
  PickContext ctx;
  ctx.now_ns = kNow;
  size_t i = 0;
  for (auto _ : state) {
    ctx.hash_key = keys[i++ & 4095];
    benchmark::DoNotOptimize(policy->Pick(ctx));
  }
}

BENCHMARK_CAPTURE(BM_Pick, round_robin, "round_robin")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, least_conn, "least_conn")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, ip_hash, "ip_hash")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, p2c_ewma, "p2c_ewma")->Arg(3)->Arg(100)->Arg(1000);
BENCHMARK_CAPTURE(BM_Pick, random, "random")->Arg(3)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace outrigger::balance
