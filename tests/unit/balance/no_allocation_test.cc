// Pick() must not allocate (policy.h): it runs on every request of every worker. This test
// replaces the global operator new to count allocations made while picking.
#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "pool_fixture.h"
#include "proxy/balance/peak_ewma.h"

namespace {

// The replaced operator new is process-wide by definition, so its counter must be too; it
// exists only in this test binary.
std::atomic<long> allocations{0};

void* Allocate(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) { return Allocate(size); }
void* operator new[](std::size_t size) { return Allocate(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace outrigger::balance {
namespace {

// Guards against a vacuous pass: the replacement is really in use.
TEST(AllocationCounterTest, CountsAnAllocation) {
  const long before = allocations.load();
  std::vector<std::string> grown(3, std::string(64, 'x'));
  EXPECT_GT(allocations.load() - before, 0);
  EXPECT_EQ(grown.size(), 3u);
}

class NoAllocationTest : public ::testing::TestWithParam<std::string_view> {};

TEST_P(NoAllocationTest, PicksTenThousandTimesWithoutAllocating) {
  Pool pool;
  for (int i = 0; i < 100; ++i) {
    upstream::Backend& b = pool.Add("b" + std::to_string(i), 1 + i % 5);
    b.SetUnavailable(upstream::Backend::kDead, i % 7 == 0);
    if (i % 3 == 0) b.set_available_since_ns(kT0);  // ramping
    if (i % 2 == 0) ObserveLatency(b, (1 + i % 9) * kMs, kT0);
  }
  std::vector<std::string> keys;
  for (int i = 0; i < 1'000; ++i) keys.push_back("192.0.2." + std::to_string(i));
  PolicyOptions options;
  options.slow_start = std::chrono::seconds(30);
  options.seed = 3;
  auto policy = pool.Make(GetParam(), options);
  upstream::Backend& excluded = pool["b1"];

  const long before = allocations.load();
  for (int i = 0; i < 10'000; ++i) {
    const PickContext ctx =
        At(kT0 + i * kMs, keys[i % keys.size()], i % 4 == 0 ? &excluded : nullptr);
    upstream::Backend* b = policy->Pick(ctx);
    if (b != nullptr && i % 5 == 0) b->AddActive(1);
  }
  const long during = allocations.load() - before;
  EXPECT_EQ(during, 0) << GetParam();
}

INSTANTIATE_TEST_SUITE_P(EveryPolicy, NoAllocationTest, ::testing::ValuesIn(PolicyNames()),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace outrigger::balance
