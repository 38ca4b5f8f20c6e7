// The loader's contract: what a valid file becomes, and the exact "FILE:LINE:COL: message"
// of every kind of mistake, so that positions and wording are pinned.
#include "proxy/config/loader.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "proxy/balance/registry.h"
#include "proxy/config/yaml_reader.h"

namespace outrigger::config {
namespace {

// Valid tails appended after the snippet under test, so the snippet's lines start at 1.
constexpr std::string_view kWebListener =
    "listeners:\n"
    "  web:\n"
    "    listen: 127.0.0.1:8080\n"
    "    routes:\n"
    "      - pool: api\n";
constexpr std::string_view kApiPool =
    "pools:\n"
    "  api:\n"
    "    backends:\n"
    "      - address: 127.0.0.1:9001\n";

class LoaderTest : public ::testing::Test {
 protected:
  static absl::StatusOr<Config> Load(std::string_view yaml) {
    return LoadConfigString(yaml, "t.yaml");
  }

  // Loads a snippet that is valid apart from what it tests.
  static Config LoadValid(std::string_view yaml) {
    absl::StatusOr<Config> config = Load(yaml);
    EXPECT_TRUE(config.ok()) << config.status().message();
    return config.ok() ? *std::move(config) : Config{};
  }

  // Every error of loading `yaml`, one per line; "" (and a failure) when it loads.
  static std::string Errors(std::string_view yaml) {
    absl::StatusOr<Config> config = Load(yaml);
    EXPECT_FALSE(config.ok()) << "loaded without error:\n" << yaml;
    if (config.ok()) return "";
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(config.status().message());
  }

  // "round_robin, least_conn, ...": whatever the registry holds today.
  static std::string ValidPolicies() {
    std::string names;
    for (std::string_view n : balance::PolicyNames()) {
      names += (names.empty() ? "" : ", ") + std::string(n);
    }
    return names;
  }

  static std::string Cat(std::string_view a, std::string_view b) {
    return std::string(a) + std::string(b);
  }
};

// --- Valid files ---------------------------------------------------------------------

TEST_F(LoaderTest, AppliesDefaultsToAMinimalConfig) {
  Config c = LoadValid(Cat(kWebListener, kApiPool));
  EXPECT_EQ(c.file, "t.yaml");
  EXPECT_EQ(c.workers, 0u);  // auto
  EXPECT_EQ(c.admin.listen_text, "127.0.0.1:9901");
  EXPECT_EQ(c.admin.listen.ToString(), "127.0.0.1:9901");
  EXPECT_EQ(c.drain.timeout, Duration(30000));
  EXPECT_EQ(c.drain.delay, Duration(5000));
  EXPECT_FALSE(c.resolver.has_value());

  ASSERT_EQ(c.listeners.size(), 1u);
  const ListenerConfig& web = c.listeners[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listen.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(web.timeouts.header, Duration(10000));
  EXPECT_EQ(web.timeouts.idle, Duration(60000));
  EXPECT_EQ(web.max_connections, 10000u);
  EXPECT_TRUE(web.trusted_proxies.empty());
  ASSERT_EQ(web.routes.size(), 1u);
  EXPECT_EQ(web.routes[0].path_prefix, "/");
  EXPECT_FALSE(web.routes[0].host.has_value());
  EXPECT_EQ(web.routes[0].upgrades, std::vector<std::string>{"websocket"});
  EXPECT_EQ(web.routes[0].max_body, uint64_t{10} << 20);

  ASSERT_EQ(c.pools.size(), 1u);
  const PoolConfig& api = c.pools[0];
  EXPECT_EQ(api.balance, "round_robin");
  EXPECT_EQ(api.hash_on.kind, HashOn::Kind::kClientIp);
  EXPECT_EQ(api.slow_start, Duration(0));
  EXPECT_EQ(api.keepalive, kKeepaliveAuto);
  EXPECT_EQ(api.timeouts.connect, Duration(5000));
  EXPECT_EQ(api.timeouts.read, Duration(60000));
  EXPECT_EQ(api.timeouts.idle, Duration(60000));
  EXPECT_EQ(api.timeouts.tunnel, Duration(3600000));
  ASSERT_EQ(api.backends.size(), 1u);
  EXPECT_EQ(api.backends[0].weight, 1u);
  EXPECT_EQ(api.backends[0].name, "127.0.0.1:9001");
  EXPECT_EQ(&api, c.FindPool("api"));
  EXPECT_EQ(c.FindPool("nope"), nullptr);
}

TEST_F(LoaderTest, DefaultsTheCircuitBreakerToFiveFailuresAndThirtySeconds) {
  Config c = LoadValid(Cat(kWebListener, kApiPool));
  EXPECT_EQ(c.pools[0].circuit_breaker.consecutive_failures, 5u);
  EXPECT_EQ(c.pools[0].circuit_breaker.open_for, Duration(30000));
}

TEST_F(LoaderTest, ReadsTheCircuitBreaker) {
  Config c = LoadValid(Cat(kWebListener,
                           "pools:\n"
                           "  api:\n"
                           "    circuit_breaker: { consecutive_failures: 3, open_for: 2s }\n"
                           "    backends:\n"
                           "      - address: 127.0.0.1:9001\n"));
  EXPECT_EQ(c.pools[0].circuit_breaker.consecutive_failures, 3u);
  EXPECT_EQ(c.pools[0].circuit_breaker.open_for, Duration(2000));
}

TEST_F(LoaderTest, ReportsACircuitBreakerThatCouldNeverOpenOrClose) {
  EXPECT_EQ(Errors(Cat("pools:\n"
                       "  api:\n"
                       "    circuit_breaker:\n"
                       "      consecutive_failures: 0\n"
                       "      open_for: 0s\n"
                       "      open_fro: 3s\n"
                       "    backends:\n"
                       "      - address: 127.0.0.1:9001\n",
                       kWebListener)),
            "t.yaml:4:29: pools.api.circuit_breaker.consecutive_failures: must be between 1 and "
            "1000, got 0\n"
            "t.yaml:5:17: pools.api.circuit_breaker.open_for: must be greater than 0\n"
            "t.yaml:6:7: pools.api.circuit_breaker: unknown key `open_fro`; did you mean "
            "`open_for`?");
}

TEST_F(LoaderTest, DefaultsScalingToTenInflightAndKnativeWindows) {
  Config c = LoadValid(Cat(kWebListener, kApiPool));
  const ScalingConfig& s = c.pools[0].scaling;
  EXPECT_EQ(s.target_kind, ScalingConfig::Target::kInflight);
  EXPECT_EQ(s.target, 10u);
  EXPECT_EQ(s.min_backends, 1u);
  EXPECT_EQ(s.max_backends, 100u);
  EXPECT_EQ(s.stable_window, Duration(60000));
  EXPECT_EQ(s.panic_window, Duration(6000));
}

TEST_F(LoaderTest, ReadsScaling) {
  Config c = LoadValid(Cat(kWebListener,
                           "pools:\n"
                           "  api:\n"
                           "    scaling:\n"
                           "      target_rps_per_backend: 250\n"
                           "      min_backends: 2\n"
                           "      max_backends: 8\n"
                           "      stable_window: 20s\n"
                           "      panic_window: 2s\n"
                           "    backends:\n"
                           "      - address: 127.0.0.1:9001\n"));
  const ScalingConfig& s = c.pools[0].scaling;
  EXPECT_EQ(s.target_kind, ScalingConfig::Target::kRps);
  EXPECT_EQ(s.target, 250u);
  EXPECT_EQ(s.min_backends, 2u);
  EXPECT_EQ(s.max_backends, 8u);
  EXPECT_EQ(s.stable_window, Duration(20000));
  EXPECT_EQ(s.panic_window, Duration(2000));
}

TEST_F(LoaderTest, ReportsScalingThatContradictsItself) {
  EXPECT_EQ(Errors(Cat("pools:\n"
                       "  api:\n"
                       "    scaling:\n"
                       "      target_inflight_per_backend: 10\n"
                       "      target_rps_per_backend: 100\n"
                       "      min_backends: 5\n"
                       "      max_backends: 3\n"
                       "      stable_window: 1s\n"
                       "      panic_window: 90s\n"
                       "      panik_window: 1s\n"
                       "    backends:\n"
                       "      - address: 127.0.0.1:9001\n",
                       kWebListener)),
            "t.yaml:5:7: pools.api.scaling: give either target_inflight_per_backend or "
            "target_rps_per_backend, not both\n"
            "t.yaml:7:21: pools.api.scaling: max_backends (3) must not be below min_backends (5)\n"
            "t.yaml:8:22: pools.api.scaling.stable_window: must be between 2s and 1h\n"
            "t.yaml:9:21: pools.api.scaling: panic_window must not be longer than "
            "stable_window\n"
            "t.yaml:10:7: pools.api.scaling: unknown key `panik_window`; did you mean "
            "`panic_window`?");
}

TEST_F(LoaderTest, ReadsTheTokenFileBesideTheConfigFile) {
  auto token = [](std::string_view file, std::string_view path) {
    absl::StatusOr<Config> c = LoadConfigString(
        Cat(Cat("admin:\n  token_file: ", path), Cat("\n", Cat(kWebListener, kApiPool))),
        std::string(file));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? c->admin.token_file : "";
  };
  EXPECT_EQ(token("/etc/outrigger/o.yaml", "secrets/token"), "/etc/outrigger/secrets/token");
  EXPECT_EQ(token("conf/o.yaml", "token"), "conf/token");
  EXPECT_EQ(token("/etc/outrigger/o.yaml", "/run/secrets/token"), "/run/secrets/token");
}

TEST_F(LoaderTest, ReadsEveryKeyOfAFullConfig) {
  Config c = LoadValid(R"(workers: 4
admin:
  listen: 127.0.0.1:9000
drain:
  timeout: 2m
listeners:
  web:
    listen: "[::1]:8443"
    trusted_proxies: [10.0.0.0/8, 127.0.0.1]
    timeouts: { header: 250ms, idle: 1h }
    routes:
      - path_prefix: /ws
        pool: realtime
        upgrades: [WebSocket, h2c]
      - path_prefix: /
        host: API.Example.com.
        pool: api
  internal:
    listen: 127.0.0.1:8081
    routes:
      - pool: api
        upgrades: []
pools:
  api:
    balance: round_robin
    slow_start: 30s
    keepalive: 0
    timeouts: { connect: 1s, read: 2s, idle: 3s, tunnel: 4s }
    backends:
      - address: 127.0.0.1:9001
        weight: 5
        name: api-1
      - address: localhost:9002
  realtime:
    backends:
      - address: "[::1]:9003"
        weight: 10000
)");
  EXPECT_EQ(c.workers, 4u);
  EXPECT_EQ(c.admin.listen.ToString(), "127.0.0.1:9000");
  EXPECT_EQ(c.drain.timeout, Duration(120000));

  ASSERT_EQ(c.listeners.size(), 2u);  // file order
  const ListenerConfig& web = c.listeners[0];
  EXPECT_EQ(web.name, "web");
  EXPECT_EQ(web.listen_text, "[::1]:8443");
  EXPECT_EQ(web.listen.ToString(), "[::1]:8443");
  EXPECT_EQ(web.mark.line, 7);
  EXPECT_EQ(web.mark.column, 3);
  ASSERT_EQ(web.trusted_proxies.size(), 2u);
  EXPECT_EQ(web.trusted_proxies[0].ToString(), "10.0.0.0/8");
  EXPECT_EQ(web.trusted_proxies[1].ToString(), "127.0.0.1/32");
  EXPECT_EQ(web.timeouts.header, Duration(250));
  EXPECT_EQ(web.timeouts.idle, Duration(3600000));
  ASSERT_EQ(web.routes.size(), 2u);
  EXPECT_EQ(web.routes[0].path_prefix, "/ws");
  EXPECT_EQ(web.routes[0].pool, "realtime");
  EXPECT_EQ(web.routes[0].upgrades, (std::vector<std::string>{"websocket", "h2c"}));
  EXPECT_EQ(web.routes[0].mark.line, 12);
  EXPECT_EQ(web.routes[1].host, "api.example.com");  // lower-cased, trailing dot dropped
  EXPECT_EQ(c.listeners[1].name, "internal");
  EXPECT_TRUE(c.listeners[1].routes[0].upgrades.empty());

  ASSERT_EQ(c.pools.size(), 2u);
  const PoolConfig& api = c.pools[0];
  EXPECT_EQ(api.name, "api");
  EXPECT_EQ(api.slow_start, Duration(30000));
  EXPECT_EQ(api.keepalive, 0u);
  EXPECT_EQ(api.timeouts.connect, Duration(1000));
  EXPECT_EQ(api.timeouts.read, Duration(2000));
  EXPECT_EQ(api.timeouts.idle, Duration(3000));
  EXPECT_EQ(api.timeouts.tunnel, Duration(4000));
  ASSERT_EQ(api.backends.size(), 2u);
  EXPECT_EQ(api.backends[0].address_text, "127.0.0.1:9001");
  EXPECT_EQ(api.backends[0].weight, 5u);
  EXPECT_EQ(api.backends[0].name, "api-1");
  EXPECT_EQ(api.backends[0].mark.line, 30);
  EXPECT_EQ(api.backends[1].address_text, "localhost:9002");
  EXPECT_TRUE(api.backends[1].address.valid());
  EXPECT_EQ(api.backends[1].address.port(), 9002);
  EXPECT_EQ(api.backends[1].name, api.backends[1].address.ToString());
  EXPECT_EQ(c.pools[1].backends[0].weight, 10000u);
  EXPECT_EQ(c.pools[1].backends[0].name, "[::1]:9003");
}

TEST_F(LoaderTest, ReadsHashOnForms) {
  if (balance::FindPolicy("ip_hash") == nullptr) GTEST_SKIP() << "ip_hash not registered yet";
  for (auto [text, kind, name] : {std::tuple{"client_ip", HashOn::Kind::kClientIp, ""},
                                  std::tuple{"header:X-User", HashOn::Kind::kHeader, "X-User"},
                                  std::tuple{"cookie:session", HashOn::Kind::kCookie, "session"}}) {
    Config c = LoadValid(Cat(kWebListener, fmt::format("pools:\n"
                                                       "  api:\n"
                                                       "    balance: ip_hash\n"
                                                       "    hash_on: {}\n"
                                                       "    backends:\n"
                                                       "      - address: 127.0.0.1:9001\n",
                                                       text)));
    ASSERT_EQ(c.pools.size(), 1u);
    EXPECT_EQ(c.pools[0].hash_on.kind, kind) << text;
    EXPECT_EQ(c.pools[0].hash_on.name, name) << text;
  }
}

TEST_F(LoaderTest, AcceptsWorkersAutoAndNumbers) {
  EXPECT_EQ(LoadValid(Cat("workers: auto\n", Cat(kWebListener, kApiPool))).workers, 0u);
  EXPECT_EQ(LoadValid(Cat("workers: 1\n", Cat(kWebListener, kApiPool))).workers, 1u);
  EXPECT_EQ(LoadValid(Cat("workers: 256\n", Cat(kWebListener, kApiPool))).workers, 256u);
}

std::string PoolWithKeepalive(std::string_view value) {
  return "pools:\n  api:\n    keepalive: " + std::string(value) +
         "\n    backends:\n      - address: 127.0.0.1:9001\n";
}

TEST_F(LoaderTest, AcceptsKeepaliveAutoAndNumbers) {
  for (auto [text, want] : {std::pair{"auto", kKeepaliveAuto}, std::pair{"0", 0u},
                            std::pair{"32", 32u}, std::pair{"65535", 65535u}}) {
    Config c = LoadValid(Cat(kWebListener, PoolWithKeepalive(text)));
    EXPECT_EQ(c.pools[0].keepalive, want) << text;
  }
}

TEST_F(LoaderTest, ReportsKeepaliveThatIsNeitherAutoNorANumberInRange) {
  for (std::string_view bad : {"65536", "-1", "Auto", "[auto]"}) {
    EXPECT_EQ(Errors(Cat(kWebListener, PoolWithKeepalive(bad))),
              fmt::format("t.yaml:8:16: pools.api.keepalive: must be `auto` or an integer "
                          "between 0 and 65535, got {}",
                          bad == "[auto]" ? std::string("a list") : fmt::format("\"{}\"", bad)));
  }
}

std::string PoolWithProtocol(std::string_view value) {
  return "pools:\n  api:\n    protocol: " + std::string(value) +
         "\n    backends:\n      - address: 127.0.0.1:9001\n";
}

TEST_F(LoaderTest, ReadsThePoolProtocolDefaultingToHttp1) {
  EXPECT_EQ(LoadValid(Cat(kWebListener, PoolWithKeepalive("auto"))).pools[0].protocol,
            PoolProtocol::kHttp1);
  EXPECT_EQ(LoadValid(Cat(kWebListener, PoolWithProtocol("http1"))).pools[0].protocol,
            PoolProtocol::kHttp1);
  EXPECT_EQ(LoadValid(Cat(kWebListener, PoolWithProtocol("h2"))).pools[0].protocol,
            PoolProtocol::kH2);
}

TEST_F(LoaderTest, ReportsAnUnknownPoolProtocolWithItsPlace) {
  EXPECT_EQ(Errors(Cat(kWebListener, PoolWithProtocol("h3"))),
            "t.yaml:8:15: pools.api.protocol: expected one of: http1, h2, got \"h3\"; did you "
            "mean `h2`?");
  EXPECT_EQ(Errors(Cat(kWebListener, PoolWithProtocol("[h2]"))),
            "t.yaml:8:15: pools.api.protocol: expected a string, got a list");
}

TEST_F(LoaderTest, LoadsAFileFromDisk) {
  std::string path = ::testing::TempDir() + "/loader_test_valid.yaml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::string text = Cat(kWebListener, kApiPool);
  std::fwrite(text.data(), 1, text.size(), f);
  std::fclose(f);
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->file, path);
  std::remove(path.c_str());
}

// --- Reading the file and the YAML ----------------------------------------------------

TEST_F(LoaderTest, ReportsAFileThatCannotBeRead) {
  absl::StatusOr<Config> c = LoadConfigFile("/nonexistent/outrigger.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.status().message(),
            "/nonexistent/outrigger.yaml: cannot read: No such file or directory");
}

TEST_F(LoaderTest, ReportsADirectoryAsUnreadable) {
  absl::StatusOr<Config> c = LoadConfigFile("/");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), "/: cannot read: Is a directory");
}

TEST_F(LoaderTest, ReportsYamlSyntaxErrorsWithTheParserPosition) {
  EXPECT_EQ(Errors("listeners:\n  web: [a, b\n"),
            "t.yaml:3:1: YAML syntax error: end of sequence flow not found");
  EXPECT_EQ(Errors("workers: a: b\n"), "t.yaml:1:11: YAML syntax error: illegal map value");
}

TEST_F(LoaderTest, ReportsFileNameInSyntaxErrorsFromDisk) {
  std::string path = ::testing::TempDir() + "/loader_test_syntax.yaml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("workers: a: b\n", f);
  std::fclose(f);
  absl::StatusOr<Config> c = LoadConfigFile(path);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), path + ":1:11: YAML syntax error: illegal map value");
  std::remove(path.c_str());
}

TEST_F(LoaderTest, ReportsAnEmptyConfig) {
  constexpr std::string_view kMessage =
      "t.yaml:1:1: the config is empty: expected a map with at least `listeners` and `pools`";
  EXPECT_EQ(Errors(""), kMessage);
  EXPECT_EQ(Errors("# nothing but a comment\n"), kMessage);
}

TEST_F(LoaderTest, ReportsATopLevelThatIsNotAMap) {
  EXPECT_EQ(Errors("- listeners\n- pools\n"),
            "t.yaml:1:1: expected a map of sections (workers, admin, drain, listeners, pools) at "
            "the top level, got a list");
  EXPECT_EQ(Errors("hello\n"),
            "t.yaml:1:1: expected a map of sections (workers, admin, drain, listeners, pools) at "
            "the top level, got \"hello\"");
}

// --- Keys -------------------------------------------------------------------------------

TEST_F(LoaderTest, ReportsUnknownKeyWithSuggestion) {
  EXPECT_EQ(Errors(Cat("workerz: 4\n", Cat(kWebListener, kApiPool))),
            "t.yaml:1:1: unknown key `workerz`; did you mean `workers`?");
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    balanse: round_robin
    backends:
      - address: 127.0.0.1:9001
        wieght: 2
)",
                       kWebListener)),
            "t.yaml:3:5: pools.api: unknown key `balanse`; did you mean `balance`?\n"
            "t.yaml:6:9: pools.api.backends[0]: unknown key `wieght`; did you mean `weight`?");
}

TEST_F(LoaderTest, ReportsUnknownKeyWithTheKnownKeysWhenNoneIsClose) {
  EXPECT_EQ(Errors(Cat("logging: debug\n", Cat(kWebListener, kApiPool))),
            "t.yaml:1:1: unknown key `logging` (expected one of: workers, resolver, admin, drain, "
            "listeners, pools)");
}

TEST_F(LoaderTest, ReportsDuplicateKeys) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    listen: 127.0.0.1:8081
    routes:
      - pool: api
  web:
    listen: 127.0.0.1:8082
    routes:
      - pool: api
)",
                       kApiPool)),
            "t.yaml:4:5: listeners.web: duplicate key `listen` (first defined on line 3)\n"
            "t.yaml:7:3: listeners: duplicate key `web` (first defined on line 2)");
}

TEST_F(LoaderTest, ReportsMissingRequiredKeys) {
  EXPECT_EQ(Errors(R"(listeners:
  web:
    routes:
      - path_prefix: /
  admin-only:
    listen: 127.0.0.1:8081
pools:
  api:
    balance: round_robin
  other:
    backends:
      - weight: 2
)"),
            "t.yaml:2:3: listeners.web: missing required key `listen`\n"
            "t.yaml:4:9: listeners.web.routes[0]: missing required key `pool`\n"
            "t.yaml:5:3: listeners.admin-only: missing required key `routes`\n"
            "t.yaml:8:3: pools.api: missing required key `backends`\n"
            "t.yaml:12:9: pools.other.backends[0]: missing required key `address` or `dns`");
}

TEST_F(LoaderTest, ReportsMissingTopLevelSections) {
  EXPECT_EQ(Errors("workers: 2\n"),
            "t.yaml:1:1: missing required key `listeners`\n"
            "t.yaml:1:1: missing required key `pools`");
}

// --- Types ------------------------------------------------------------------------------

TEST_F(LoaderTest, ReportsWrongTypes) {
  EXPECT_EQ(Errors(R"(admin: 127.0.0.1:9901
drain:
  timeout: [5s]
listeners:
  web:
    listen: { ip: 127.0.0.1 }
    trusted_proxies: 10.0.0.0/8
    routes:
      pool: api
pools:
  api:
    keepalive: many
    backends:
      - address: 127.0.0.1:9001
        weight: [1]
)"),
            "t.yaml:1:8: admin: expected a map, got \"127.0.0.1:9901\"\n"
            "t.yaml:3:12: drain.timeout: expected a duration (e.g. 250ms, 5s, 2m, 1h), got a list\n"
            "t.yaml:6:13: listeners.web.listen: expected a string, got a map\n"
            "t.yaml:7:22: listeners.web.trusted_proxies: expected a list, got \"10.0.0.0/8\"\n"
            "t.yaml:9:7: listeners.web.routes: expected a list, got a map\n"
            "t.yaml:12:16: pools.api.keepalive: must be `auto` or an integer between 0 and 65535, "
            "got \"many\"\n"
            "t.yaml:15:17: pools.api.backends[0].weight: expected an integer, got a list");
}

TEST_F(LoaderTest, PointsAtTheKeyOfAMissingValue) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen:
    routes:
      - pool: api
)",
                       kApiPool)),
            "t.yaml:3:5: listeners.web.listen: expected a string, got nothing");
}

// --- Values -----------------------------------------------------------------------------

TEST_F(LoaderTest, ReportsBadDurations) {
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    slow_start: 5
    timeouts: { connect: 1.5s, read: 0s, idle: 10 m, tunnel: 9999h }
    backends:
      - address: 127.0.0.1:9001
)",
                       kWebListener)),
            "t.yaml:3:17: pools.api.slow_start: invalid duration \"5\": expected an integer and "
            "a unit (ms, s, m, h), e.g. 250ms, 5s, 2m, 1h\n"
            "t.yaml:4:26: pools.api.timeouts.connect: invalid duration \"1.5s\": expected an "
            "integer and a unit (ms, s, m, h), e.g. 250ms, 5s, 2m, 1h\n"
            "t.yaml:4:38: pools.api.timeouts.read: must be greater than 0\n"
            "t.yaml:4:48: pools.api.timeouts.idle: invalid duration \"10 m\": expected an "
            "integer and a unit (ms, s, m, h), e.g. 250ms, 5s, 2m, 1h\n"
            "t.yaml:4:62: pools.api.timeouts.tunnel: duration \"9999h\" is too long: the maximum "
            "is 8760h (one year)");
}

TEST_F(LoaderTest, ReadsMaxConnectionsAndMaxBody) {
  Config c = LoadValid(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    max_connections: 3
    routes:
      - path_prefix: /upload
        pool: api
        max_body: 1GiB
      - path_prefix: /small
        pool: api
        max_body: 512
      - pool: api
        max_body: 0
)",
                           kApiPool));
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].max_connections, 3u);
  ASSERT_EQ(c.listeners[0].routes.size(), 3u);
  EXPECT_EQ(c.listeners[0].routes[0].max_body, uint64_t{1} << 30);
  EXPECT_EQ(c.listeners[0].routes[1].max_body, 512u);
  EXPECT_EQ(c.listeners[0].routes[2].max_body, 0u);
}

TEST_F(LoaderTest, ReportsBadMaxConnectionsAndMaxBody) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    max_connections: 0
    routes:
      - pool: api
        max_body: 10MB
      - path_prefix: /b
        pool: api
        max_body: [1]
)",
                       kApiPool)),
            "t.yaml:4:22: listeners.web.max_connections: must be between 1 and 1000000, got 0\n"
            "t.yaml:7:19: listeners.web.routes[0].max_body: invalid size \"10MB\": expected an "
            "integer of bytes, or one with a unit (KiB, MiB, GiB), e.g. 65536, 512KiB, 10MiB\n"
            "t.yaml:10:19: listeners.web.routes[1].max_body: expected a size (e.g. 65536, 512KiB, "
            "10MiB), got a list");
}

TEST_F(LoaderTest, ReportsBadAddresses) {
  EXPECT_EQ(Errors(R"(admin:
  listen: localhost:9901
listeners:
  web:
    listen: 127.0.0.1
    routes:
      - pool: api
  zero:
    listen: 127.0.0.1:0
    routes:
      - pool: api
pools:
  api:
    backends:
      - address: 127.0.0.1:99999
      - address: ::1:80
)"),
            "t.yaml:2:11: admin.listen: invalid address \"localhost:9901\": \"localhost\" is not "
            "an IP address (listen addresses are numeric: IP:PORT or [IPv6]:PORT)\n"
            "t.yaml:5:13: listeners.web.listen: invalid address \"127.0.0.1\": expected "
            "HOST:PORT (listen addresses are numeric: IP:PORT or [IPv6]:PORT)\n"
            "t.yaml:9:13: listeners.zero.listen: port must not be 0\n"
            "t.yaml:15:18: pools.api.backends[0].address: invalid address \"127.0.0.1:99999\": "
            "port must be a number from 0 to 65535\n"
            "t.yaml:16:18: pools.api.backends[1].address: invalid address \"::1:80\": write IPv6 "
            "addresses as [ADDR]:PORT");
}

TEST_F(LoaderTest, ReportsBadCidrs) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    trusted_proxies: [10.0.0.1/8, 10.0.0.0/33, example.com]
    routes:
      - pool: api
)",
                       kApiPool)),
            "t.yaml:4:23: listeners.web.trusted_proxies[0]: invalid CIDR \"10.0.0.1/8\": host "
            "bits are set beyond the /8 prefix; did you mean 10.0.0.0/8?\n"
            "t.yaml:4:35: listeners.web.trusted_proxies[1]: invalid CIDR \"10.0.0.0/33\": prefix "
            "length must be a number from 0 to 32\n"
            "t.yaml:4:48: listeners.web.trusted_proxies[2]: invalid CIDR \"example.com\": "
            "\"example.com\" is not an IP address");
}

TEST_F(LoaderTest, RefusesTrustedProxiesThatTrustEveryAddress) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    trusted_proxies: [10.0.0.0/8, 0.0.0.0/0, "::/0", "::ffff:0.0.0.0/96", 0.0.0.0/1]
    routes:
      - pool: api
)",
                       kApiPool)),
            "t.yaml:4:35: listeners.web.trusted_proxies[1]: 0.0.0.0/0 trusts every address: any "
            "client could then forge X-Forwarded-For, and with it X-Real-IP and client_ip "
            "stickiness; list your balancers' own networks (e.g. 10.0.0.0/8)\n"
            "t.yaml:4:46: listeners.web.trusted_proxies[2]: ::/0 trusts every address: any client "
            "could then forge X-Forwarded-For, and with it X-Real-IP and client_ip stickiness; "
            "list your balancers' own networks (e.g. 10.0.0.0/8)\n"
            "t.yaml:4:54: listeners.web.trusted_proxies[3]: ::ffff:0.0.0.0/96 trusts every "
            "address: any client could then forge X-Forwarded-For, and with it X-Real-IP and "
            "client_ip stickiness; list your balancers' own networks (e.g. 10.0.0.0/8)");
}

TEST_F(LoaderTest, ReportsWeightOutOfRange) {
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    backends:
      - address: 127.0.0.1:9001
      - address: 127.0.0.1:9002
        weight: 0
      - address: 127.0.0.1:9003
        weight: 10001
      - address: 127.0.0.1:9004
        weight: -3
)",
                       kWebListener)),
            "t.yaml:6:17: pools.api.backends[1].weight: must be between 1 and 10000, got 0\n"
            "t.yaml:8:17: pools.api.backends[2].weight: must be between 1 and 10000, got 10001\n"
            "t.yaml:10:17: pools.api.backends[3].weight: must be between 1 and 10000, got -3");
}

TEST_F(LoaderTest, ReportsWorkersOutOfRange) {
  for (std::string_view bad : {"0", "257", "many", "-1"}) {
    EXPECT_EQ(Errors(fmt::format("workers: {}\n{}{}", bad, kWebListener, kApiPool)),
              fmt::format("t.yaml:1:10: workers: must be `auto` or an integer between 1 and 256, "
                          "got \"{}\"",
                          bad));
  }
}

TEST_F(LoaderTest, ReportsUnknownBalancePolicyListingTheValidOnes) {
  std::string valid = ValidPolicies();
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    balance: round_robbin
    backends:
      - address: 127.0.0.1:9001
  other:
    balance: fastest
    backends:
      - address: 127.0.0.1:9002
)",
                       kWebListener)),
            fmt::format("t.yaml:3:14: pools.api.balance: unknown balance policy `round_robbin`; "
                        "did you mean `round_robin`? (valid policies: {})\n"
                        "t.yaml:7:14: pools.other.balance: unknown balance policy `fastest` "
                        "(valid policies: {})",
                        valid, valid));
}

TEST_F(LoaderTest, ReportsMalformedHashOn) {
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    hash_on: "header:"
    backends:
      - address: 127.0.0.1:9001
  b:
    hash_on: ip
    backends:
      - address: 127.0.0.1:9002
)",
                       kWebListener)),
            "t.yaml:3:14: pools.api.hash_on: expected `client_ip`, `header:NAME` or "
            "`cookie:NAME`, got \"header:\"\n"
            "t.yaml:7:14: pools.b.hash_on: expected `client_ip`, `header:NAME` or "
            "`cookie:NAME`, got \"ip\"");
}

TEST_F(LoaderTest, ReportsHashOnWithAPolicyThatIgnoresIt) {
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    balance: round_robin
    hash_on: cookie:session
    backends:
      - address: 127.0.0.1:9001
)",
                       kWebListener)),
            "t.yaml:4:5: pools.api.hash_on: only used by `balance: ip_hash`, but this pool uses "
            "`round_robin`");
}

TEST_F(LoaderTest, ReportsAPoolWithNoBackends) {
  EXPECT_EQ(Errors(Cat("pools:\n  api:\n    backends: []\n", kWebListener)),
            "t.yaml:3:5: pools.api.backends: a pool needs at least one backend");
}

TEST_F(LoaderTest, ReportsAListenerWithNoRoutes) {
  EXPECT_EQ(
      Errors(Cat("listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes: []\n", kApiPool)),
      "t.yaml:4:5: listeners.web.routes: a listener needs at least one route");
}

TEST_F(LoaderTest, ReportsNoListenersAtAll) {
  EXPECT_EQ(Errors(Cat("listeners: {}\n", kApiPool)),
            "t.yaml:1:1: listeners: at least one listener is required");
}

TEST_F(LoaderTest, ReportsPathPrefixNotStartingWithSlash) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    routes:
      - path_prefix: api
        pool: api
)",
                       kApiPool)),
            "t.yaml:5:22: listeners.web.routes[0].path_prefix: must start with '/', got \"api\"");
}

TEST_F(LoaderTest, ReportsAHostWithAPortOrScheme) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    routes:
      - host: api.example.com:8080
        pool: api
      - host: http://api.example.com
        pool: api
)",
                       kApiPool)),
            "t.yaml:5:15: listeners.web.routes[0].host: expected a host name without scheme, "
            "port or path, got \"api.example.com:8080\"\n"
            "t.yaml:7:15: listeners.web.routes[1].host: expected a host name without scheme, "
            "port or path, got \"http://api.example.com\"");
}

TEST_F(LoaderTest, ReportsABadUpgradeProtocol) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    routes:
      - pool: api
        upgrades: ["web socket"]
)",
                       kApiPool)),
            "t.yaml:6:20: listeners.web.routes[0].upgrades[0]: expected a protocol name as sent "
            "in the Upgrade header (e.g. websocket), got \"web socket\"");
}

// --- Cross-section checks ---------------------------------------------------------------

TEST_F(LoaderTest, ReportsARouteToAnUndefinedPoolWithSuggestion) {
  EXPECT_EQ(Errors(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    routes:
      - path_prefix: /ws
        pool: realtme
      - pool: billing
pools:
  api:
    backends:
      - address: 127.0.0.1:9001
  realtime:
    backends:
      - address: 127.0.0.1:9002
)"),
            "t.yaml:6:15: listeners.web.routes[0].pool: no pool named `realtme`; did you mean "
            "`realtime`?\n"
            "t.yaml:7:15: listeners.web.routes[1].pool: no pool named `billing`; defined pools: "
            "api, realtime");
}

TEST_F(LoaderTest, ReportsARouteThatCanNeverMatch) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 127.0.0.1:8080
    routes:
      - path_prefix: /a
        host: x.example
        pool: api
      - path_prefix: /a
        pool: api
      - path_prefix: /a
        host: X.example
        pool: api
)",
                       kApiPool)),
            "t.yaml:10:9: listeners.web.routes[2]: same host and path_prefix as routes[0], so it "
            "could never match");
}

TEST_F(LoaderTest, ReportsDuplicateListenAddresses) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  a:
    listen: 127.0.0.1:8080
    routes: [{ pool: api }]
  b:
    listen: 127.0.0.1:8080
    routes: [{ pool: api }]
  c:
    listen: 0.0.0.0:8080
    routes: [{ pool: api }]
  d:
    listen: 127.0.0.1:8081
    routes: [{ pool: api }]
)",
                       kApiPool)),
            "t.yaml:6:13: listeners.b.listen: 127.0.0.1:8080 is also the address of listener `a`\n"
            "t.yaml:9:13: listeners.c.listen: 0.0.0.0:8080 overlaps listener `a` "
            "(127.0.0.1:8080): a wildcard address takes port 8080 on every interface");
}

TEST_F(LoaderTest, ReportsAnIpv4MappedListenerOnAnIpv4ListenersAddress) {
  // Both bind (SO_REUSEPORT) and the kernel gives one socket every connection.
  EXPECT_EQ(Errors(Cat(R"(listeners:
  a:
    listen: 127.0.0.1:8080
    routes: [{ pool: api }]
  b:
    listen: "[::ffff:127.0.0.1]:8080"
    routes: [{ pool: api }]
  c:
    listen: "[::ffff:0.0.0.0]:8081"
    routes: [{ pool: api }]
  d:
    listen: 127.0.0.1:8081
    routes: [{ pool: api }]
  e:
    listen: "[::ffff:127.0.0.2]:8080"
    routes: [{ pool: api }]
)",
                       kApiPool)),
            "t.yaml:6:13: listeners.b.listen: [::ffff:127.0.0.1]:8080 is also the address of "
            "listener `a` (127.0.0.1:8080)\n"
            "t.yaml:12:13: listeners.d.listen: 127.0.0.1:8081 overlaps listener `c` "
            "([::ffff:0.0.0.0]:8081): a wildcard address takes port 8081 on every interface");
}

TEST_F(LoaderTest, ReportsAdminSharingAListenerAddress) {
  EXPECT_EQ(Errors(Cat("admin:\n  listen: 127.0.0.1:8080\n", Cat(kWebListener, kApiPool))),
            "t.yaml:2:11: admin.listen: 127.0.0.1:8080 is also the address of listener `web`; "
            "the admin listener must not share a traffic listener's address");
}

TEST_F(LoaderTest, ReportsAWildcardAdminOverlappingAListenerPort) {
  EXPECT_EQ(Errors(Cat("admin:\n  listen: 0.0.0.0:8080\n", Cat(kWebListener, kApiPool))),
            "t.yaml:2:11: admin.listen: 0.0.0.0:8080 overlaps listener `web` (127.0.0.1:8080): a "
            "wildcard address takes port 8080 on every interface; the admin listener must not "
            "share a traffic listener's address");
  EXPECT_EQ(Errors(Cat(R"(admin:
  listen: 127.0.0.1:9000
listeners:
  web:
    listen: "[::]:9000"
    routes: [{ pool: api }]
)",
                       kApiPool)),
            "t.yaml:2:11: admin.listen: 127.0.0.1:9000 overlaps listener `web` ([::]:9000): a "
            "wildcard address takes port 9000 on every interface; the admin listener must not "
            "share a traffic listener's address");
}

TEST_F(LoaderTest, ReportsAListenerOnTheDefaultAdminAddress) {
  EXPECT_EQ(Errors(Cat(R"(listeners:
  web:
    listen: 0.0.0.0:9901
    routes: [{ pool: api }]
)",
                       kApiPool)),
            "t.yaml:3:13: listeners.web.listen: 0.0.0.0:9901 overlaps the admin listener "
            "(admin.listen defaults to it) (127.0.0.1:9901): a wildcard address takes port 9901 "
            "on every interface; the admin listener must not share a traffic listener's address");
}

TEST_F(LoaderTest, ReportsDuplicateBackends) {
  EXPECT_EQ(Errors(Cat(R"(pools:
  api:
    backends:
      - address: 127.0.0.1:9001
        name: one
      - address: 127.0.0.1:9002
        name: one
      - address: 127.0.0.1:9001
)",
                       kWebListener)),
            "t.yaml:6:9: pools.api.backends[1]: name `one` is already used by backends[0]\n"
            "t.yaml:8:9: pools.api.backends[2]: same address as backends[0] (127.0.0.1:9001)");
}

TEST_F(LoaderTest, ReadsDnsBackendsResolverAndDrainDelay) {
  Config c = LoadValid(Cat(R"(resolver: 127.0.0.11:53
drain:
  delay: 2s
pools:
  api:
    backends:
      - dns: api:8090
      - dns: "[::1]:8091"
        resolve_every: 1s
        weight: 3
        name: v6
      - address: 127.0.0.1:9001
)",
                           kWebListener));
  ASSERT_TRUE(c.resolver.has_value());
  EXPECT_EQ(c.resolver->ToString(), "127.0.0.11:53");
  EXPECT_EQ(c.drain.delay, Duration(2000));
  EXPECT_EQ(c.drain.timeout, Duration(30000));
  ASSERT_EQ(c.pools[0].backends.size(), 3u);
  const BackendConfig& api = c.pools[0].backends[0];
  EXPECT_TRUE(api.is_dns());
  EXPECT_EQ(api.dns_text, "api:8090");
  EXPECT_EQ(api.dns_host, "api");
  EXPECT_EQ(api.dns_port, 8090);
  EXPECT_EQ(api.resolve_every, Duration(5000));
  EXPECT_EQ(api.weight, 1u);
  EXPECT_EQ(api.name, "");
  EXPECT_FALSE(api.address.valid());
  const BackendConfig& v6 = c.pools[0].backends[1];
  EXPECT_EQ(v6.dns_host, "::1");
  EXPECT_EQ(v6.resolve_every, Duration(1000));
  EXPECT_EQ(v6.weight, 3u);
  EXPECT_EQ(v6.name, "v6");
  EXPECT_FALSE(c.pools[0].backends[2].is_dns());
}

TEST_F(LoaderTest, AcceptsAZeroDrainDelay) {
  Config c = LoadValid(Cat("drain:\n  delay: 0s\n", Cat(kWebListener, kApiPool)));
  EXPECT_EQ(c.drain.delay, Duration(0));
}

TEST_F(LoaderTest, ReportsBadDnsBackendsAndResolver) {
  EXPECT_EQ(Errors(Cat(R"(resolver: dns.example:53
pools:
  api:
    backends:
      - dns: api
      - dns: api:0
      - dns: api:8090
        address: 127.0.0.1:9001
      - address: 127.0.0.1:9002
        resolve_every: 5s
      - dns: api:8091
        resolve_every: 500ms
      - dns: web:80
      - dns: web:80
)",
                       kWebListener)),
            "t.yaml:1:11: resolver: expected the numeric IP:PORT of a DNS server (e.g. "
            "127.0.0.11:53), got \"dns.example:53\"\n"
            "t.yaml:5:14: pools.api.backends[0].dns: invalid address \"api\": expected HOST:PORT\n"
            "t.yaml:6:14: pools.api.backends[1].dns: port must not be 0\n"
            "t.yaml:7:9: pools.api.backends[2]: a backend has either `address` or `dns`, not both\n"
            "t.yaml:10:9: pools.api.backends[3].resolve_every: only used with `dns` (an `address` "
            "is resolved once, at load)\n"
            "t.yaml:12:24: pools.api.backends[4].resolve_every: must be at least 1s, got 500ms\n"
            "t.yaml:14:9: pools.api.backends[6]: same dns name as backends[5] (web:80)");
}

TEST_F(LoaderTest, KeepsEachErrorOnOneLineAndShortensLongValues) {
  EXPECT_EQ(
      Errors(Cat(R"(listeners:
  web:
    listen: "a\nb"
    routes:
      - pool: api
        path_prefix: [x]
pools:
  api:
    keepalive: "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij"
    backends:
      - address: 127.0.0.1:9001
)",
                 "")),
      "t.yaml:3:13: listeners.web.listen: invalid address \"a\\nb\": expected HOST:PORT "
      "(listen addresses are numeric: IP:PORT or [IPv6]:PORT)\n"
      "t.yaml:6:22: listeners.web.routes[0].path_prefix: expected a string, got a list\n"
      "t.yaml:9:16: pools.api.keepalive: must be `auto` or an integer between 0 and 65535, got "
      "\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij...\"");
}

// --- All at once ------------------------------------------------------------------------

TEST_F(LoaderTest, ReportsEveryErrorInFileOrder) {
  std::string errors = Errors(R"(workers: 0
listeners:
  web:
    listen: 127.0.0.1:8080
    timeouts: { header: 10 }
    routes:
      - path_prefix: /
        pool: apx
pools:
  api:
    balance: nope
    backends:
      - address: 127.0.0.1:9001
        weight: 0
        nmae: x
)");
  EXPECT_EQ(errors,
            "t.yaml:1:10: workers: must be `auto` or an integer between 1 and 256, got \"0\"\n"
            "t.yaml:5:25: listeners.web.timeouts.header: invalid duration \"10\": expected an "
            "integer and a unit (ms, s, m, h), e.g. 250ms, 5s, 2m, 1h\n"
            "t.yaml:8:15: listeners.web.routes[0].pool: no pool named `apx`; did you mean "
            "`api`?\n"
            "t.yaml:11:14: pools.api.balance: unknown balance policy `nope` (valid policies: " +
                ValidPolicies() +
                ")\n"
                "t.yaml:14:17: pools.api.backends[0].weight: must be between 1 and 10000, got 0\n"
                "t.yaml:15:9: pools.api.backends[0]: unknown key `nmae`; did you mean `name`?");
}

// --- issue 20.3: names must be UTF-8 -----------------------------------------------------

TEST_F(LoaderTest, ReportsANameThatIsNotUtf8AtItsPosition) {
  const std::string yaml = Cat(kWebListener,
                               "pools:\n"
                               "  api:\n"
                               "    backends:\n"
                               "      - address: 127.0.0.1:9001\n"
                               "        name: caf\xe9\n");
  const std::string errors = Errors(yaml);
  const int line = static_cast<int>(std::count(kWebListener.begin(), kWebListener.end(), '\n')) + 5;
  EXPECT_NE(errors.find(fmt::format("t.yaml:{}:15: pools.api.backends[0].name is not valid UTF-8 "
                                    "(byte 0xE9 at offset 3)",
                                    line)),
            std::string::npos)
      << errors;
}

TEST_F(LoaderTest, ReportsAKeyThatIsNotUtf8WithoutEchoingIt) {
  const std::string errors =
      Errors(Cat("listeners:\n  w\xe9"
                 "b:\n    listen: 127.0.0.1:8080\n    routes:\n"
                 "      - pool: api\n",
                 kApiPool));
  EXPECT_NE(
      errors.find("t.yaml:2:3: a key in listeners is not valid UTF-8 (byte 0xE9 at offset 1)"),
      std::string::npos)
      << errors;
  EXPECT_EQ(errors.find('\xe9'), std::string::npos) << "the bad byte is not echoed";
}

TEST_F(LoaderTest, AcceptsUtf8NamesAndRejectsOverlongAndSurrogateForms) {
  EXPECT_EQ(FirstInvalidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80"), std::nullopt);
  EXPECT_EQ(FirstInvalidUtf8("a\xc0\xaf"
                             "b"),
            1u);                                        // overlong "/"
  EXPECT_EQ(FirstInvalidUtf8("ab\xed\xa0\x80"), 2u);    // a UTF-16 surrogate
  EXPECT_EQ(FirstInvalidUtf8("\xf4\x90\x80\x80"), 0u);  // above U+10FFFF
  EXPECT_EQ(FirstInvalidUtf8("abc\xe2\x82"), 3u);       // truncated
}

// --- issue 20.11: leading-wildcard hosts ----------------------------------------------------

TEST_F(LoaderTest, AcceptsALeadingWildcardHostAndRefusesOtherWildcards) {
  auto with_host = [&](std::string_view host) {
    return fmt::format(
        "listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n      - pool: api\n"
        "        host: \"{}\"\n{}",
        host, kApiPool);
  };
  LoadValid(with_host("*.example.com"));
  for (std::string_view bad : {"www.*.com", "*example.com", "*.", "*.*.example.com"}) {
    EXPECT_NE(Errors(with_host(bad)).find("only a leading wildcard is supported"),
              std::string::npos)
        << bad;
  }
}

TEST_F(LoaderTest, ReadsH2cOnAPlainListenerOffByDefault) {
  EXPECT_FALSE(LoadValid(Cat(kWebListener, kApiPool)).listeners[0].h2c);
  Config c =
      LoadValid(Cat("listeners:\n"
                    "  web:\n"
                    "    listen: 127.0.0.1:8080\n"
                    "    h2c: true\n"
                    "    routes:\n"
                    "      - pool: api\n",
                    kApiPool));
  EXPECT_TRUE(c.listeners[0].h2c);
  EXPECT_EQ(Errors(Cat("listeners:\n"
                       "  web:\n"
                       "    listen: 127.0.0.1:8080\n"
                       "    h2c: yes please\n"
                       "    routes:\n"
                       "      - pool: api\n",
                       kApiPool)),
            "t.yaml:4:10: listeners.web.h2c: expected true or false, got \"yes please\"");
}

}  // namespace
}  // namespace outrigger::config
