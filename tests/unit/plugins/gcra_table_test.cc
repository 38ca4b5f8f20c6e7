// GcraTable: burst then rate, per key; bounded whatever the number of keys; exact under
// workers racing on one key.
#include "plugins/gcra_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

namespace outrigger::plugins {
namespace {

constexpr int64_t kMs = 1'000'000;

TEST(GcraTableTest, BurstThenOnePerInterval) {
  GcraTable t(16, 200 * kMs, /*burst=*/5, /*epoch_ns=*/0);  // 5/s, burst 5
  const int64_t now = 1000 * kMs;
  for (uint32_t i = 0; i < 5; ++i) {
    GcraTable::Decision d = t.Take(7, now);
    EXPECT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 4 - i);
  }
  GcraTable::Decision d = t.Take(7, now);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after_ns, 200 * kMs);
  EXPECT_FALSE(t.Take(7, now + 199 * kMs).allowed);
  EXPECT_TRUE(t.Take(7, now + 200 * kMs).allowed);
  EXPECT_FALSE(t.Take(7, now + 200 * kMs).allowed);
  // Another key has its own bucket.
  EXPECT_TRUE(t.Take(8, now).allowed);
  // A second's rest refills it whole.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(t.Take(7, now + 1400 * kMs).allowed);
  EXPECT_FALSE(t.Take(7, now + 1400 * kMs).allowed);
}

TEST(GcraTableTest, MemoryStaysBoundedAndLiveKeysAreKept) {
  GcraTable t(1024, 1000 * kMs, /*burst=*/1, 0);
  EXPECT_EQ(t.slots(), 1024u);
  int64_t now = 10 * kMs;
  // A key limited now...
  ASSERT_TRUE(t.Take(0xabcdef0123456789ULL, now).allowed);
  ASSERT_FALSE(t.Take(0xabcdef0123456789ULL, now).allowed);
  // ...stays limited while the table has room for the others...
  for (uint64_t k = 1; k <= 300; ++k) t.Take(k * 0x9e3779b97f4a7c15ULL, now);
  EXPECT_FALSE(t.Take(0xabcdef0123456789ULL, now).allowed);
  // ...and 100,000 more never grow it: the ones nearest a full bucket make room.
  for (uint64_t k = 1; k <= 100'000; ++k) {
    ASSERT_TRUE(t.Take((k + 1000) * 0x9e3779b97f4a7c15ULL, now + 1).allowed) << k;
  }
  EXPECT_EQ(t.slots(), 1024u);
}

TEST(GcraTableTest, ANewKeyIsNeverJudgedByAStrangersBucket) {
  // A full table of live keys (1/h, burst 1: each one limited for the whole test), then as
  // many new ones: each is new, so each is allowed. With 16-bit fingerprints about one in
  // 30,000 was refused, its hash sharing a slot and a fingerprint with a limited stranger.
  GcraTable t(100'000, 3'600'000 * kMs, /*burst=*/1, 0);
  std::mt19937_64 random(20261205);
  const int64_t now = 10 * kMs;
  for (int k = 0; k < 200'000; ++k) ASSERT_TRUE(t.Take(random(), now).allowed) << k;
}

TEST(GcraTableTest, RacingWorkersAdmitExactlyTheBurst) {
  GcraTable t(64, 1000 * kMs, /*burst=*/100, 0);  // 1/s refill: none within the test
  std::atomic<int> allowed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (t.Take(42, 5 * kMs).allowed) allowed.fetch_add(1);
      }
    });
  }
  for (std::thread& w : workers) w.join();
  EXPECT_EQ(allowed.load(), 100);
}

}  // namespace
}  // namespace outrigger::plugins
