// A pool's `health` and `retries` sections, and the caps of `circuit_breaker`: defaults, every
// key, and the exact errors of mistakes.
#include "proxy/config/health_reader.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

constexpr std::string_view kWebListener =
    "listeners:\n"
    "  web:\n"
    "    listen: 127.0.0.1:8080\n"
    "    routes:\n"
    "      - pool: api\n";

// A pool `api` whose body is `pool_lines` (indented by 4), then one backend; the snippet's
// first line is line 3 of the file.
std::string PoolWith(std::string_view pool_lines) {
  return "pools:\n  api:\n" + std::string(pool_lines) +
         "    backends:\n      - address: 127.0.0.1:9001\n" + std::string(kWebListener);
}

PoolConfig LoadPool(std::string_view pool_lines) {
  absl::StatusOr<Config> c = LoadConfigString(PoolWith(pool_lines), "t.yaml");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? c->pools[0] : PoolConfig{};
}

std::string Errors(std::string_view pool_lines) {
  absl::StatusOr<Config> c = LoadConfigString(PoolWith(pool_lines), "t.yaml");
  EXPECT_FALSE(c.ok());
  return c.ok() ? "" : std::string(c.status().message());
}

TEST(HealthReaderTest, NoHealthSectionMeansNoProbes) {
  PoolConfig p = LoadPool("");
  EXPECT_FALSE(p.health.live.has_value());
  EXPECT_FALSE(p.health.ready.has_value());
  EXPECT_EQ(p.retries.attempts, 2u);
  EXPECT_EQ(p.retries.budget_percent, 20u);
  EXPECT_EQ(p.panic_threshold, 50u);
  EXPECT_EQ(p.circuit_breaker.max_connections, 1024u);
  EXPECT_EQ(p.circuit_breaker.max_pending, 128u);
  EXPECT_EQ(p.circuit_breaker.max_requests, 1024u);
}

TEST(HealthReaderTest, AProbeKindAloneTakesTheDesignDefaults) {
  PoolConfig p = LoadPool("    health: { live: {}, ready: }\n");
  ASSERT_TRUE(p.health.live && p.health.ready);
  EXPECT_EQ(p.health.live->path, "/health/live");
  EXPECT_EQ(p.health.live->interval, Duration(10000));
  EXPECT_EQ(p.health.live->timeout, Duration(2000));
  EXPECT_EQ(p.health.live->fall, 3u);
  EXPECT_EQ(p.health.live->rise, 2u);
  EXPECT_EQ(p.health.ready->path, "/health/ready");
  EXPECT_EQ(p.health.ready->interval, Duration(5000));
  EXPECT_EQ(p.health.ready->fall, 1u);
  EXPECT_EQ(p.health.ready->rise, 2u);
  EXPECT_EQ(p.health.ready->expect_status, (std::vector<StatusRange>{{200, 299}}));
  EXPECT_EQ(p.health.ready->host, "");
}

TEST(HealthReaderTest, ReadsEveryKey) {
  PoolConfig p = LoadPool(
      "    health:\n"
      "      live: { path: /livez, host: api.internal, interval: 3s, timeout: 500ms,"
      " fall: 4, rise: 5, expect_status: [200, 3xx, 401-403] }\n"
      "    retries: { attempts: 3, budget_percent: 50 }\n"
      "    panic_threshold: 0\n"
      "    circuit_breaker: { max_connections: 10, max_pending: 0, max_requests: 20 }\n");
  ASSERT_TRUE(p.health.live);
  const ProbeConfig& live = *p.health.live;
  EXPECT_EQ(live.path, "/livez");
  EXPECT_EQ(live.host, "api.internal");
  EXPECT_EQ(live.interval, Duration(3000));
  EXPECT_EQ(live.timeout, Duration(500));
  EXPECT_EQ(live.fall, 4u);
  EXPECT_EQ(live.rise, 5u);
  EXPECT_EQ(live.expect_status, (std::vector<StatusRange>{{200, 200}, {300, 399}, {401, 403}}));
  EXPECT_EQ(p.retries.attempts, 3u);
  EXPECT_EQ(p.retries.budget_percent, 50u);
  EXPECT_EQ(p.panic_threshold, 0u);
  EXPECT_EQ(p.circuit_breaker.max_connections, 10u);
  EXPECT_EQ(p.circuit_breaker.max_pending, 0u);
  EXPECT_EQ(p.circuit_breaker.max_requests, 20u);
}

TEST(HealthReaderTest, ReportsEveryMistakeWithItsPosition) {
  EXPECT_EQ(Errors("    health:\n"
                   "      ready: { path: health, fall: 0, expect_status: 2xy }\n"
                   "      alive: {}\n"
                   "    retries: { attempts: 11, budgt_percent: 5 }\n"
                   "    panic_threshold: 101\n"
                   "    circuit_breaker: { max_connections: 0 }\n"),
            "t.yaml:4:22: pools.api.health.ready.path: must start with '/', got \"health\"\n"
            "t.yaml:4:36: pools.api.health.ready.fall: must be between 1 and 100, got 0\n"
            "t.yaml:4:54: pools.api.health.ready.expect_status: expected a status such as 200, "
            "2xx or 200-399, got \"2xy\"\n"
            "t.yaml:5:7: pools.api.health: unknown key `alive`; did you mean `live`?\n"
            "t.yaml:6:26: pools.api.retries.attempts: must be between 0 and 10, got 11\n"
            "t.yaml:6:30: pools.api.retries: unknown key `budgt_percent`; did you mean "
            "`budget_percent`?\n"
            "t.yaml:7:22: pools.api.panic_threshold: must be between 0 and 100, got 101\n"
            "t.yaml:8:41: pools.api.circuit_breaker.max_connections: must be between 1 and "
            "1000000, got 0");
}

TEST(HealthReaderTest, AProbeIsHttpUnlessItSaysGrpc) {
  PoolConfig p = LoadPool("    health: { live: {}, ready: { type: http } }\n");
  ASSERT_TRUE(p.health.live && p.health.ready);
  EXPECT_EQ(p.health.live->type, ProbeType::kHttp);
  EXPECT_EQ(p.health.ready->type, ProbeType::kHttp);
}

TEST(HealthReaderTest, ReadsAGrpcProbeOnAnH2Pool) {
  PoolConfig p = LoadPool(
      "    protocol: h2\n"
      "    health:\n"
      "      live: { type: grpc, interval: 3s, timeout: 500ms, fall: 4, rise: 5 }\n"
      "      ready: { type: grpc, service: api.v1.Users }\n");
  ASSERT_TRUE(p.health.live && p.health.ready);
  EXPECT_EQ(p.health.live->type, ProbeType::kGrpc);
  EXPECT_EQ(p.health.live->service, "");  // the server as a whole
  EXPECT_EQ(p.health.live->interval, Duration(3000));
  EXPECT_EQ(p.health.live->timeout, Duration(500));
  EXPECT_EQ(p.health.live->fall, 4u);
  EXPECT_EQ(p.health.live->rise, 5u);
  EXPECT_EQ(p.health.ready->type, ProbeType::kGrpc);
  EXPECT_EQ(p.health.ready->service, "api.v1.Users");
  EXPECT_EQ(p.health.ready->interval, Duration(5000));
  EXPECT_EQ(p.health.ready->fall, 1u);
  // A changed service is a changed probe (HealthChecker remakes it).
  ProbeConfig other = *p.health.ready;
  other.service = "api.v1.Orders";
  EXPECT_FALSE(other == *p.health.ready);
}

TEST(HealthReaderTest, RejectsHttpKeysOnAGrpcProbeAndGrpcOffH2) {
  EXPECT_EQ(Errors("    protocol: h2\n"
                   "    health:\n"
                   "      live: { type: grpc, path: /x, host: h, expect_status: 2xx }\n"
                   "      ready: { type: gprc }\n"),
            "t.yaml:5:27: pools.api.health.live.path: not used by a `type: grpc` probe\n"
            "t.yaml:5:37: pools.api.health.live.host: not used by a `type: grpc` probe\n"
            "t.yaml:5:46: pools.api.health.live.expect_status: not used by a `type: grpc` "
            "probe\n"
            "t.yaml:6:22: pools.api.health.ready.type: expected one of: http, grpc, got "
            "\"gprc\"; did you mean `grpc`?");
  EXPECT_EQ(Errors("    health:\n"
                   "      ready: { type: grpc }\n"
                   "      live: { service: api }\n"),
            "t.yaml:4:22: pools.api.health.ready.type: `grpc` needs HTTP/2 to the backends: "
            "set the pool's `protocol: h2`\n"
            "t.yaml:5:15: pools.api.health.live.service: not used by a `type: http` probe");
}

TEST(HealthReaderTest, ParsesStatusRanges) {
  EXPECT_EQ(ParseStatusRange("204"), (StatusRange{204, 204}));
  EXPECT_EQ(ParseStatusRange("2xx"), (StatusRange{200, 299}));
  EXPECT_EQ(ParseStatusRange("5XX"), (StatusRange{500, 599}));
  EXPECT_EQ(ParseStatusRange("200-399"), (StatusRange{200, 399}));
  for (std::string_view bad : {"", "20", "2000", "600", "099", "6xx", "0xx", "x00", "300-200",
                               "200-", "-200", "2x0", "abc"}) {
    EXPECT_FALSE(ParseStatusRange(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace outrigger::config
