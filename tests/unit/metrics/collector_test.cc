#include "proxy/metrics/collector.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <memory>
#include <string>
#include <vector>

namespace outrigger::metrics {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kMs = 1'000'000;
constexpr int64_t kT0 = 1'000 * kSecond;

class CollectorTest : public ::testing::Test {
 protected:
  std::string Scrape() const {
    return prometheus::TextSerializer().Serialize(collector_.Collect());
  }

  std::shared_ptr<const MetricLayout> Layout(std::vector<std::string> pools,
                                             std::vector<MetricLayout::Backend> backends) {
    auto layout = std::make_shared<MetricLayout>();
    layout->pools = std::move(pools);
    layout->backends = std::move(backends);
    return layout;
  }

  // Registers `shards` as written under one token, which the test holds.
  void Publish(std::shared_ptr<const MetricLayout> layout,
               std::vector<std::shared_ptr<Shard>> shards) {
    collector_.SetLayout(layout);
    for (auto& shard : shards) collector_.AddShard(shard, writers_);
  }

  std::shared_ptr<int> writers_ = std::make_shared<int>(0);
  int64_t now_ = kT0;
  Collector collector_{[this] { return now_; }};
};

TEST_F(CollectorTest, CollectorEmitsContractNamesAndLabels) {
  const auto layout = Layout({"api"}, {{0, "10.0.0.1:8080"}});
  auto worker1 = std::make_shared<Shard>(layout);
  auto worker2 = std::make_shared<Shard>(layout);
  Publish(layout, {worker1, worker2});

  worker1->OnPoolRequestStart(0, kT0);
  worker1->OnRequestStart(0, kT0);
  worker1->OnRequestEnd(0, kT0 + 500 * kMs, 200, 3 * kMs);
  worker1->OnPoolRequestEnd(0, kT0 + 500 * kMs, 200, 4 * kMs, PoolOutcome::kOk);
  worker2->OnPoolRequestStart(0, kT0);
  worker2->OnRetry(0);
  worker2->OnRequestStart(0, kT0);
  worker2->OnRequestFailed(0, kT0 + kSecond, FailureReason::kConnect);
  worker2->OnShed(0, ShedReason::kNoBackend);
  worker2->OnPoolRequestEnd(0, kT0 + kSecond, 503, 20 * kSecond, PoolOutcome::kError);
  now_ = kT0 + 2 * kSecond;

  const std::string text = Scrape();
  const std::string b = R"(pool="api",backend="10.0.0.1:8080")";
  for (
      const std::string& line : std::vector<std::string>{
          "# TYPE outrigger_backend_requests_total counter",
          "outrigger_backend_requests_total{" + b + R"(,code="2xx"} 1)",
          "outrigger_backend_requests_total{" + b + R"(,code="5xx"} 0)",
          "# TYPE outrigger_backend_request_duration_seconds histogram",
          "outrigger_backend_request_duration_seconds_count{" + b + "} 1",
          "outrigger_backend_request_duration_seconds_sum{" + b + "} 0.003",
          "outrigger_backend_request_duration_seconds_bucket{" + b + R"(,le="0.001"} 0)",
          "outrigger_backend_request_duration_seconds_bucket{" + b + R"(,le="0.005"} 1)",
          "outrigger_backend_request_duration_seconds_bucket{" + b + R"(,le="10"} 1)",
          "outrigger_backend_request_duration_seconds_bucket{" + b + R"(,le="+Inf"} 1)",
          "outrigger_backend_failures_total{" + b + R"(,reason="connect"} 1)",
          "outrigger_backend_failures_total{" + b + R"(,reason="protocol"} 0)",
          "# TYPE outrigger_backend_retries_total counter",
          "outrigger_backend_retries_total{" + b + "} 1",
          "# TYPE outrigger_backend_busy_seconds_total counter",
          "outrigger_backend_busy_seconds_total{" + b + "} 1.5",
          R"(outrigger_pool_requests_total{pool="api",code="2xx"} 1)",
          R"(outrigger_pool_requests_total{pool="api",code="5xx"} 1)",
          "# TYPE outrigger_pool_request_duration_seconds histogram",
          R"(outrigger_pool_request_duration_seconds_count{pool="api",outcome="ok"} 1)",
          R"(outrigger_pool_request_duration_seconds_bucket{pool="api",outcome="error",le="10"} 0)",
          R"(outrigger_pool_request_duration_seconds_bucket{pool="api",outcome="error",le="+Inf"} 1)",
          R"(outrigger_pool_request_duration_seconds_sum{pool="api",outcome="error"} 20)",
          R"(outrigger_pool_shed_requests_total{pool="api",reason="no_backend"} 1)",
          R"(outrigger_pool_shed_requests_total{pool="api",reason="over_limit"} 0)",
          "# TYPE outrigger_pool_busy_seconds_total counter",
          R"(outrigger_pool_busy_seconds_total{pool="api"} 1.5)",
      }) {
    EXPECT_THAT(text, HasSubstr(line + "\n")) << text;
  }
}

TEST_F(CollectorTest, HistogramBucketsAreCumulativeAndEndAtCount) {
  const auto layout = Layout({"api"}, {{0, "a"}});
  auto shard = std::make_shared<Shard>(layout);
  Publish(layout, {shard});
  for (const int64_t latency : {0 * kMs, 1 * kMs, 2 * kMs, 60 * kMs, 3 * kSecond, 11 * kSecond}) {
    shard->OnRequestStart(0, kT0);
    shard->OnRequestEnd(0, kT0, 200, latency);
  }
  const std::vector<prometheus::MetricFamily> families = collector_.Collect();
  const auto& histogram = families[1].metric.at(0).histogram;
  ASSERT_EQ(families[1].name, "outrigger_backend_request_duration_seconds");
  ASSERT_EQ(histogram.bucket.size(), kLatencyBucketCount);
  uint64_t previous = 0;
  for (const auto& bucket : histogram.bucket) {
    EXPECT_GE(bucket.cumulative_count, previous);
    previous = bucket.cumulative_count;
  }
  EXPECT_EQ(histogram.bucket[0].cumulative_count, 2u);  // 0 and 1 ms: le is inclusive
  EXPECT_EQ(histogram.bucket.back().cumulative_count, 6u);
  EXPECT_EQ(histogram.sample_count, 6u);
  EXPECT_DOUBLE_EQ(histogram.sample_sum, 14.063);
}

TEST_F(CollectorTest, VanishedBackendSeriesDisappear) {
  const auto before = Layout({"api"}, {{0, "10.0.0.1:80"}, {0, "10.0.0.2:80"}});
  auto old_shard = std::make_shared<Shard>(before);
  Publish(before, {old_shard});
  for (BackendId b : {0u, 1u}) {
    old_shard->OnRequestStart(b, kT0);
    old_shard->OnRequestEnd(b, kT0, 200, kMs);
  }
  EXPECT_THAT(Scrape(), HasSubstr(R"(backend="10.0.0.2:80")"));

  // Reload: 10.0.0.2 is gone; 10.0.0.1 keeps its count through the old shard.
  const auto after = Layout({"api"}, {{0, "10.0.0.1:80"}});
  auto new_shard = std::make_shared<Shard>(after);
  Publish(after, {new_shard});
  new_shard->OnRequestStart(0, kT0);
  new_shard->OnRequestEnd(0, kT0, 200, kMs);

  const std::string text = Scrape();
  EXPECT_THAT(text, Not(HasSubstr("10.0.0.2")));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(outrigger_backend_requests_total{pool="api",backend="10.0.0.1:80",code="2xx"} 2)"));
}

TEST_F(CollectorTest, LabelValuesAreEscaped) {
  const auto layout = Layout({"p\"ool"}, {{0, "back\\end\nname"}});
  auto shard = std::make_shared<Shard>(layout);
  Publish(layout, {shard});
  shard->OnRetry(0);
  EXPECT_THAT(
      Scrape(),
      HasSubstr(R"(outrigger_backend_retries_total{pool="p\"ool",backend="back\\end\nname"} 1)"));
}

TEST_F(CollectorTest, FoldsAShardOnceItsWritersAreGoneAndKeepsItsCounts) {
  const auto first = Layout({"api"}, {{0, "a"}, {0, "b"}});
  collector_.SetLayout(first);
  auto old_writers = std::make_shared<int>(0);
  auto old_shard = std::make_shared<Shard>(first);
  collector_.AddShard(old_shard, old_writers);
  old_shard->OnRequestStart(0, kT0);
  old_shard->OnRequestEnd(0, kT0 + kSecond, 200, kSecond);
  old_shard->OnRequestStart(1, kT0);
  old_shard->OnRequestEnd(1, kT0 + kSecond, 200, kSecond);

  const auto second = Layout({"api"}, {{0, "a"}});
  collector_.SetLayout(second);
  auto new_shard = std::make_shared<Shard>(second);
  collector_.AddShard(new_shard, writers_);
  old_writers.reset();  // the last request on the old snapshot ended
  now_ = kT0 + 2 * kSecond;
  EXPECT_EQ(collector_.Read().backends.at(0).requests[1], 1u);
  EXPECT_EQ(collector_.live_shards(), 1u);  // folded: the old shard is no longer held
  EXPECT_EQ(old_shard.use_count(), 1);

  new_shard->OnRequestStart(0, now_);
  new_shard->OnRequestEnd(0, now_ + kSecond, 200, kSecond);
  now_ += 5 * kSecond;
  const Totals totals = collector_.Read();
  ASSERT_EQ(totals.backends.size(), 1u);
  EXPECT_EQ(totals.backends[0].requests[1], 2u);
  EXPECT_EQ(totals.backends[0].busy_ns, uint64_t{2 * kSecond});
  // A third layout that brings "b" back starts it from zero: its old series had vanished.
  const auto third = Layout({"api"}, {{0, "a"}, {0, "b"}});
  collector_.SetLayout(third);
  EXPECT_EQ(collector_.Read().backends.at(1).requests[1], 0u);
}

TEST_F(CollectorTest, ExposesInflightPendingTunnelsAndDownstream) {
  auto layout = std::make_shared<MetricLayout>();
  layout->pools = {"api"};
  layout->backends = {{0, "a"}};
  layout->listeners = {"web"};
  auto shard = std::make_shared<Shard>(layout);
  Publish(layout, {shard});
  shard->OnDownstreamConnection(0, 1);
  shard->OnPoolRequestStart(0, kT0);
  shard->OnPoolRequestStart(0, kT0);  // pending: no attempt yet
  shard->OnRequestStart(0, kT0);
  shard->OnRequestStart(0, kT0);
  shard->OnRequestEnd(0, kT0, 101, kMs);
  shard->OnTunnelOpened(0);
  shard->OnDownstreamResponse(0, 101, 2 * kMs);
  shard->OnDownstreamResponse(0, 204, 100 * kMs, /*http2=*/true);
  const std::string text = Scrape();
  for (const std::string line : {
           R"(outrigger_backend_inflight_requests{pool="api",backend="a"} 1)",
           R"(outrigger_backend_tunnels{pool="api",backend="a"} 1)",
           R"(outrigger_pool_inflight_requests{pool="api"} 1)",
           R"(outrigger_pool_pending_requests{pool="api"} 1)",
           R"(outrigger_downstream_connections{listener="web"} 1)",
           R"(outrigger_downstream_requests_total{listener="web",code="1xx",protocol="http1"} 1)",
           R"(outrigger_downstream_requests_total{listener="web",code="1xx",protocol="h2"} 0)",
           R"(outrigger_downstream_requests_total{listener="web",code="2xx",protocol="h2"} 1)",
           R"(outrigger_downstream_requests_total{listener="web",code="2xx",protocol="http1"} 0)",
           R"(outrigger_downstream_request_duration_seconds_bucket{listener="web",le="0.0025"} 1)",
       }) {
    EXPECT_THAT(text, HasSubstr(line + "\n")) << text;
  }
}

TEST_F(CollectorTest, CountsGrpcCallsByClassPerPoolAndBackendAcrossWorkers) {
  const auto layout = Layout({"grpc"}, {{0, "g-1"}, {0, "g-2"}});
  auto worker1 = std::make_shared<Shard>(layout);
  auto worker2 = std::make_shared<Shard>(layout);
  Publish(layout, {worker1, worker2});

  worker1->OnBackendGrpcStatus(0, GrpcOutcome::kOk);
  worker1->OnGrpcCall(0, GrpcOutcome::kOk);
  worker2->OnBackendGrpcStatus(1, GrpcOutcome::kClient);
  worker2->OnGrpcCall(0, GrpcOutcome::kClient);
  worker2->OnGrpcCall(0, GrpcOutcome::kServer);  // the proxy's own: no backend answered
  worker1->OnGrpcCall(0, GrpcOutcome::kNone);
  worker1->OnGrpcCall(0, GrpcOutcome::kNone);

  const std::string text = Scrape();
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="grpc",grpc_status="ok"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="grpc",grpc_status="client"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="grpc",grpc_status="server"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="grpc",grpc_status="invalid"} 0)"));
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="grpc",grpc_status="none"} 2)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(outrigger_backend_grpc_calls_total{pool="grpc",backend="g-1",grpc_status="ok"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(outrigger_backend_grpc_calls_total{pool="grpc",backend="g-2",grpc_status="client"} 1)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(outrigger_backend_grpc_calls_total{pool="grpc",backend="g-2",grpc_status="ok"} 0)"));
  // An answer always has a status: no backend series says none.
  EXPECT_THAT(text, Not(HasSubstr(R"(backend="g-1",grpc_status="none")")));
}

TEST_F(CollectorTest, GrpcCallCountsSurviveANewLayoutByIdentity) {
  const auto old_layout = Layout({"grpc"}, {{0, "g-1"}});
  auto worker = std::make_shared<Shard>(old_layout);
  Publish(old_layout, {worker});
  worker->OnGrpcCall(0, GrpcOutcome::kServer);
  worker->OnBackendGrpcStatus(0, GrpcOutcome::kServer);
  // A reload adds a pool before it: the old shard's counts follow the names.
  collector_.SetLayout(Layout({"web", "grpc"}, {{0, "w-1"}, {1, "g-1"}}));
  const std::string text = Scrape();
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="grpc",grpc_status="server"} 1)"));
  EXPECT_THAT(text,
              HasSubstr(R"(outrigger_pool_grpc_calls_total{pool="web",grpc_status="server"} 0)"));
  EXPECT_THAT(
      text,
      HasSubstr(
          R"(outrigger_backend_grpc_calls_total{pool="grpc",backend="g-1",grpc_status="server"} 1)"));
}

TEST_F(CollectorTest, EmitsNoSeriesBeforeTheFirstPublish) {
  const std::vector<prometheus::MetricFamily> families = collector_.Collect();
  EXPECT_EQ(families.size(), 22u);  // 19, and the three TLS families
  for (const auto& family : families) EXPECT_TRUE(family.metric.empty()) << family.name;
}

}  // namespace
}  // namespace outrigger::metrics
