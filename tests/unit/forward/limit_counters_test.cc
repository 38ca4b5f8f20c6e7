// LimitCounters: one writer (the worker), readers on any thread (the /metrics scrape).
#include "proxy/forward/limit_counters.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "proxy/http2/codec_common.h"

namespace outrigger::forward {
namespace {

TEST(LimitCountersTest, CountsEachLimitApart) {
  LimitCounters c;
  c.Count(Limit::kHeaderTimeout);
  c.Count(Limit::kMaxBody);
  c.Count(Limit::kMaxBody);
  EXPECT_EQ(c.Read(Limit::kHeaderTimeout), 1u);
  EXPECT_EQ(c.Read(Limit::kMaxBody), 2u);
  EXPECT_EQ(c.Read(Limit::kAcceptBackoff), 0u);
}

TEST(LimitCountersTest, HasALabelForEveryLimit) {
  EXPECT_EQ(kLimitLabels[static_cast<size_t>(Limit::kHeaderTimeout)], "header_timeout");
  EXPECT_EQ(kLimitLabels[static_cast<size_t>(Limit::kAcceptBackoff)], "accept_backoff");
  EXPECT_EQ(static_cast<size_t>(Limit::kAcceptBackoff) + 1, kLimitCount);
}

// A reader on another thread sees the count only grow, and the final value once the writer
// is joined (TSan checks that the reads race with nothing).
TEST(LimitCountersTest, CodecStatsGrowthIsCountedOnceUnderItsLabel) {
  // A backend connection's codec (H2Connection) and a client's (Http2Session) report what
  // grew since their last report; the counters' labels follow kCodecStatFields.
  static_assert(http2::kCodecStatCount == kHttp2LimitCount);
  http2::CodecStats now, counted;
  LimitCounters c;
  auto add = [&](size_t i, uint64_t n) { c.AddHttp2(i, n); };
  now.headers_too_large = 2;
  now.continuation_floods = 1;
  http2::CountGrowth(now, counted, add);
  http2::CountGrowth(now, counted, add);  // nothing new: nothing counted twice
  ++now.headers_too_large;
  http2::CountGrowth(now, counted, add);
  for (size_t i = 0; i < kHttp2LimitCount; ++i) {
    const uint64_t want = kHttp2LimitLabels[i] == "headers_too_large"     ? 3
                          : kHttp2LimitLabels[i] == "continuation_floods" ? 1
                                                                          : 0;
    EXPECT_EQ(c.ReadHttp2(i), want) << kHttp2LimitLabels[i];
  }
}

TEST(LimitCountersTest, ReadsFromAnotherThreadSeeAMonotonicCount) {
  constexpr uint64_t kCounts = 100000;
  LimitCounters c;
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kCounts; ++i) c.Count(Limit::kBadRequest);
    done.store(true, std::memory_order_release);
  });
  uint64_t last = 0;
  while (!done.load(std::memory_order_acquire)) {
    uint64_t now = c.Read(Limit::kBadRequest);
    ASSERT_GE(now, last);
    last = now;
  }
  writer.join();
  EXPECT_EQ(c.Read(Limit::kBadRequest), kCounts);
}

}  // namespace
}  // namespace outrigger::forward
