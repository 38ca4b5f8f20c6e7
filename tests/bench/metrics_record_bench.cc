// Cost the request path pays to record into its worker's metric shard: one backend attempt
// (OnRequestStart + OnRequestEnd), and one whole client request (pool and backend, both
// ends). Latencies cycle through every bucket so the bucket lookup is not predicted away.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <memory>

#include "proxy/metrics/shard.h"

namespace outrigger::metrics {
namespace {

constexpr int64_t kT0 = int64_t{1'000'000'000'000};

std::shared_ptr<const MetricLayout> BenchLayout() {
  auto layout = std::make_shared<MetricLayout>();
  layout->pools = {"bench"};
  for (int i = 0; i < 8; ++i) layout->backends.push_back({0, "10.0.0." + std::to_string(i)});
  return layout;
}

constexpr std::array<int64_t, 16> kLatenciesNs = {
    400'000,       1'700'000,      3'000'000,   7'000'000,   20'000'000,    40'000'000,
    90'000'000,    200'000'000,    400'000'000, 800'000'000, 2'000'000'000, 4'000'000'000,
    9'000'000'000, 12'000'000'000, 900'000,     6'000'000};

void BM_RecordBackendAttempt(benchmark::State& state) {
  Shard shard(BenchLayout());
  int64_t now = kT0;
  uint32_t i = 0;
  for (auto _ : state) {
    const BackendId backend = i & 7;
    const int64_t latency = kLatenciesNs[i & 15];
    shard.OnRequestStart(backend, now);
    now += 1'000;
    shard.OnRequestEnd(backend, now, 200, latency);
    ++i;
  }
  benchmark::DoNotOptimize(shard.Read(now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordBackendAttempt);

void BM_RecordClientRequest(benchmark::State& state) {
  Shard shard(BenchLayout());
  int64_t now = kT0;
  uint32_t i = 0;
  for (auto _ : state) {
    const BackendId backend = i & 7;
    const int64_t latency = kLatenciesNs[i & 15];
    shard.OnPoolRequestStart(0, now);
    shard.OnRequestStart(backend, now);
    now += 1'000;
    shard.OnRequestEnd(backend, now, 200, latency);
    shard.OnPoolRequestEnd(0, now, 200, latency, PoolOutcome::kOk);
    ++i;
  }
  benchmark::DoNotOptimize(shard.Read(now));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_RecordClientRequest);

}  // namespace
}  // namespace outrigger::metrics
