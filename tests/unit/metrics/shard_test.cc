#include "proxy/metrics/shard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace outrigger::metrics {
namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000 * kSecond;

std::shared_ptr<const MetricLayout> TwoPools() {
  auto layout = std::make_shared<MetricLayout>();
  layout->pools = {"api", "web"};
  layout->backends = {{0, "10.0.0.1:80"}, {0, "10.0.0.2:80"}, {1, "web-1"}};
  return layout;
}

TEST(ShardTest, BusySecondsIntegralIsExactForOverlappingRequests) {
  Shard shard(TwoPools());
  // Little's law: 4 requests of 250 ms, fully overlapping, within one second: 1.0 busy-second.
  for (int i = 0; i < 4; ++i) shard.OnRequestStart(0, kT0);
  for (int i = 0; i < 4; ++i) shard.OnRequestEnd(0, kT0 + 250 * kMs, 200, 250 * kMs);
  EXPECT_EQ(shard.Read(kT0 + kSecond).backends[0].busy_ns, uint64_t{kSecond});

  // Staggered: [0,300) [100,400) [200,900) ms → 300 + 300 + 700 = 1.3 s.
  Shard staggered(TwoPools());
  staggered.OnRequestStart(1, kT0);
  staggered.OnRequestStart(1, kT0 + 100 * kMs);
  staggered.OnRequestStart(1, kT0 + 200 * kMs);
  staggered.OnRequestEnd(1, kT0 + 300 * kMs, 200, 300 * kMs);
  staggered.OnRequestFailed(1, kT0 + 400 * kMs, FailureReason::kReset);
  staggered.OnRequestEnd(1, kT0 + 900 * kMs, 200, 700 * kMs);
  EXPECT_EQ(staggered.Read(kT0 + 5 * kSecond).backends[1].busy_ns, uint64_t{1300 * kMs});
}

TEST(ShardTest, BusySecondsIncludeRequestsStillInFlight) {
  Shard shard(TwoPools());
  shard.OnPoolRequestStart(1, kT0);
  shard.OnPoolRequestStart(1, kT0);
  EXPECT_EQ(shard.Read(kT0 + kSecond).pools[1].busy_ns, uint64_t{2 * kSecond});
  EXPECT_EQ(shard.Read(kT0 + 3 * kSecond).pools[1].busy_ns, uint64_t{6 * kSecond});
  shard.OnPoolRequestEnd(1, kT0 + 3 * kSecond, 200, 3 * kSecond, PoolOutcome::kOk);
  EXPECT_EQ(shard.Read(kT0 + 4 * kSecond).pools[1].busy_ns, uint64_t{7 * kSecond});
  // An attempt the client abandoned stops counting when it is dropped, and counts nothing else.
  shard.OnRequestStart(0, kT0 + 4 * kSecond);
  shard.OnRequestAbandoned(0, kT0 + 5 * kSecond);
  const BackendTotals abandoned = shard.Read(kT0 + 9 * kSecond).backends[0];
  EXPECT_EQ(abandoned.busy_ns, uint64_t{kSecond});
  EXPECT_EQ(abandoned.latency.Count() + abandoned.requests[1] + abandoned.failures[0], 0u);
  // A reading "before" the last change charges no open interval rather than a negative one.
  EXPECT_EQ(shard.Read(kT0).pools[1].busy_ns, uint64_t{6 * kSecond});
}

TEST(ShardTest, CountsCodesLatenciesFailuresRetriesAndShed) {
  Shard shard(TwoPools());
  shard.OnRequestStart(0, kT0);
  shard.OnRequestEnd(0, kT0, 204, 3 * kMs);
  shard.OnRetry(0);
  shard.OnRequestStart(0, kT0);
  shard.OnRequestEnd(0, kT0, 503, 20 * kSecond);
  shard.OnRequestStart(0, kT0);
  shard.OnRequestEnd(0, kT0, 0, kMs);  // no status class: counted in latency only
  shard.OnRequestStart(0, kT0);
  shard.OnRequestFailed(0, kT0, FailureReason::kTimeout);
  shard.OnPoolRequestStart(0, kT0);
  shard.OnShed(0, ShedReason::kOverLimit);
  shard.OnPoolRequestEnd(0, kT0, 503, 2 * kMs, PoolOutcome::kError);

  const Totals totals = shard.Read(kT0);
  const BackendTotals& b = totals.backends[0];
  EXPECT_EQ(b.requests[1], 1u);
  EXPECT_EQ(b.requests[4], 1u);
  EXPECT_EQ(b.latency.Count(), 3u);
  EXPECT_EQ(b.latency.buckets[BucketIndex(3 * kMs)], 1u);
  EXPECT_EQ(b.latency.buckets[kLatencyBucketCount - 1], 1u);
  EXPECT_EQ(b.latency.sum_ns, uint64_t{20 * kSecond + 4 * kMs});
  EXPECT_EQ(b.failures[static_cast<size_t>(FailureReason::kTimeout)], 1u);
  EXPECT_EQ(b.retries, 1u);
  const PoolTotals& p = totals.pools[0];
  EXPECT_EQ(p.RequestCount(), 1u);
  EXPECT_EQ(p.duration[1].Count(), 1u);
  EXPECT_EQ(p.duration[0].Count(), 0u);
  EXPECT_EQ(p.shed[static_cast<size_t>(ShedReason::kOverLimit)], 1u);
}

TEST(ShardTest, MergedShardsSumTheirCounters) {
  const auto layout = TwoPools();
  std::vector<std::shared_ptr<const Shard>> shards;
  for (int worker = 0; worker < 3; ++worker) {
    auto shard = std::make_shared<Shard>(layout);
    for (int i = 0; i <= worker; ++i) {
      const int64_t start = kT0 + i * kSecond;
      shard->OnRequestStart(2, start);
      shard->OnRequestEnd(2, start + kSecond, 200, kSecond);
      shard->OnPoolRequestStart(1, start);
      shard->OnPoolRequestEnd(1, start + kSecond, 200, kSecond, PoolOutcome::kOk);
    }
    shards.push_back(std::move(shard));
  }
  const Totals merged = MergeShards(layout, shards, kT0 + 10 * kSecond);
  EXPECT_EQ(merged.backends[2].requests[1], 6u);
  EXPECT_EQ(merged.backends[2].latency.Count(), 6u);
  EXPECT_EQ(merged.backends[2].latency.sum_ns, uint64_t{6 * kSecond});
  EXPECT_EQ(merged.backends[2].busy_ns, uint64_t{6 * kSecond});
  EXPECT_EQ(merged.backends[0].requests[1], 0u);
  EXPECT_EQ(merged.pools[1].RequestCount(), 6u);
  EXPECT_EQ(merged.pools[1].busy_ns, uint64_t{6 * kSecond});
}

TEST(ShardTest, MergeMapsAnOlderLayoutByIdentityAndDropsGoneBackends) {
  const auto old_layout = TwoPools();
  auto new_layout = std::make_shared<MetricLayout>();
  new_layout->pools = {"web", "api"};
  new_layout->backends = {{0, "web-1"}, {1, "10.0.0.1:80"}};  // 10.0.0.2 is gone

  auto old_shard = std::make_shared<Shard>(old_layout);
  auto new_shard = std::make_shared<Shard>(new_layout);
  for (BackendId b : {0u, 1u, 2u}) {
    old_shard->OnRequestStart(b, kT0);
    old_shard->OnRequestEnd(b, kT0, 200, kMs);
  }
  new_shard->OnRequestStart(1, kT0);
  new_shard->OnRequestEnd(1, kT0, 500, kMs);

  const std::vector<std::shared_ptr<const Shard>> shards = {old_shard, new_shard};
  const Totals merged = MergeShards(new_layout, shards, kT0);
  ASSERT_EQ(merged.backends.size(), 2u);
  EXPECT_EQ(merged.backends[0].requests[1], 1u);  // web-1
  EXPECT_EQ(merged.backends[1].requests[1], 1u);  // 10.0.0.1:80, from the old shard
  EXPECT_EQ(merged.backends[1].requests[4], 1u);  // and from the new one
}

TEST(ShardTest, PluginActionsSurviveANewLayoutByTheirLabels) {
  auto old_layout = std::make_shared<MetricLayout>();
  old_layout->plugin_actions = {{"api", "rate_limit", "limited"}, {"", "respond", "answered"}};
  auto new_layout = std::make_shared<MetricLayout>();
  new_layout->plugin_actions = {{"", "respond", "answered"}, {"api", "headers", "edited"}};
  auto old_shard = std::make_shared<Shard>(old_layout);
  auto new_shard = std::make_shared<Shard>(new_layout);
  old_shard->OnPluginAction(0);
  old_shard->OnPluginAction(1);
  old_shard->OnPluginAction(1);
  new_shard->OnPluginAction(0);
  new_shard->OnPluginAction(1);

  const std::vector<std::shared_ptr<const Shard>> shards = {old_shard, new_shard};
  const Totals merged = MergeShards(new_layout, shards, kT0);
  ASSERT_EQ(merged.plugin_actions.size(), 2u);
  EXPECT_EQ(merged.plugin_actions[0], 3u);  // respond/answered: 2 before the reload, 1 after
  EXPECT_EQ(merged.plugin_actions[1], 1u);  // rate_limit/limited is gone with its route
}

TEST(ShardTest, ConcurrentReadsSeeBusySecondsNeverRunBackwards) {
  auto layout = TwoPools();
  Shard shard(layout);
  std::atomic<int64_t> clock{kT0};
  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < 200'000; ++i) {
      const int64_t now = clock.load() + 1'000;
      shard.OnRequestStart(0, now);
      shard.OnRequestEnd(0, now + 500, 200, 500);
      clock.store(now + 500);
    }
    done.store(true);
  });
  uint64_t last = 0;
  while (!done.load()) {
    const uint64_t busy = shard.Read(clock.load()).backends[0].busy_ns;
    ASSERT_GE(busy, last);
    last = busy;
  }
  writer.join();
  EXPECT_EQ(shard.Read(clock.load()).backends[0].busy_ns, uint64_t{200'000} * 500);
}

}  // namespace
}  // namespace outrigger::metrics
