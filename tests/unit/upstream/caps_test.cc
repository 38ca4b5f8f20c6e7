#include "proxy/upstream/caps.h"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <thread>
#include <vector>

namespace outrigger::upstream {
namespace {

constexpr BackendCaps kCaps{.max_connections = 10, .max_pending = 5, .max_requests = 20};

BackendLoad Load(int64_t connections, int64_t pending, int64_t requests) {
  return BackendLoad{.connections = connections, .pending = pending, .requests = requests};
}

TEST(CapsTest, UnderEveryCapSends) {
  EXPECT_EQ(CheckCaps(Load(0, 0, 0), kCaps), CapVerdict::kSend);
  EXPECT_EQ(CheckCaps(Load(9, 4, 19), kCaps), CapVerdict::kSend);
}

TEST(CapsTest, RequestCapRefuses) {
  EXPECT_EQ(CheckCaps(Load(0, 0, 20), kCaps), CapVerdict::kOverLimit);
  EXPECT_TRUE(OverCaps(Load(0, 0, 20), kCaps));
}

TEST(CapsTest, ConnectionCapQueuesWhileTheQueueHasRoom) {
  EXPECT_EQ(CheckCaps(Load(10, 0, 10), kCaps), CapVerdict::kWait);
  EXPECT_EQ(CheckCaps(Load(10, 4, 10), kCaps), CapVerdict::kWait);
  EXPECT_FALSE(OverCaps(Load(10, 4, 10), kCaps));
}

TEST(CapsTest, ConnectionCapAndFullQueueIsOverLimit) {
  EXPECT_EQ(CheckCaps(Load(10, 5, 10), kCaps), CapVerdict::kOverLimit);
  EXPECT_TRUE(OverCaps(Load(10, 5, 10), kCaps));
}

TEST(CapsTest, ZeroMaxPendingNeverQueues) {
  BackendCaps caps = kCaps;
  caps.max_pending = 0;
  EXPECT_EQ(CheckCaps(Load(10, 0, 0), caps), CapVerdict::kOverLimit);
}

TEST(CapsTest, DefaultsFollowTheDesign) {
  constexpr BackendCaps caps;
  EXPECT_EQ(caps.max_connections, 1024u);
  EXPECT_EQ(caps.max_pending, 128u);
  EXPECT_EQ(caps.max_requests, 1024u);
}

TEST(CapsTest, TryAcquireStopsAtTheCapAndReleaseFreesASlot) {
  std::atomic<int64_t> counter{0};
  EXPECT_TRUE(TryAcquire(counter, 2));
  EXPECT_TRUE(TryAcquire(counter, 2));
  EXPECT_FALSE(TryAcquire(counter, 2));
  Release(counter);
  EXPECT_TRUE(TryAcquire(counter, 2));
  EXPECT_EQ(counter.load(), 2);
}

TEST(CapsTest, TryAcquireIsExactUnderContention) {
  constexpr int kThreads = 8;
  constexpr int64_t kCap = 100;
  std::atomic<int64_t> counter{0};
  std::atomic<int64_t> acquired{0};
  std::atomic<int64_t> peak{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      for (int j = 0; j < 1000; ++j) {
        if (!TryAcquire(counter, kCap)) continue;
        acquired.fetch_add(1, std::memory_order_relaxed);
        int64_t seen = counter.load(std::memory_order_relaxed);
        int64_t old = peak.load(std::memory_order_relaxed);
        while (seen > old && !peak.compare_exchange_weak(old, seen, std::memory_order_relaxed)) {
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(acquired.load(), kCap);
  EXPECT_EQ(counter.load(), kCap);
  EXPECT_LE(peak.load(), kCap);
}

}  // namespace
}  // namespace outrigger::upstream
