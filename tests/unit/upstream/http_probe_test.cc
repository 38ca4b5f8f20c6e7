// HttpProbe against a real HTTP server on loopback: the status decides, the request carries
// Host and User-Agent, and silence or a refused connection fails within the timeout.
#include "proxy/upstream/http_probe.h"

#include <gtest/gtest.h>

#include <optional>

#include "probe_server.h"

namespace outrigger::upstream {
namespace {

class HttpProbeTest : public ::testing::Test {
 protected:
  config::ProbeConfig Config(std::string path) {
    config::ProbeConfig c;
    c.path = std::move(path);
    c.timeout = config::Duration(200);
    return c;
  }

  std::optional<ProbeResult> RunOnce(HttpProbe& probe) {
    std::optional<ProbeResult> result;
    probe.Run([&](const ProbeResult& r) { result = r; });
    RunUntil(
        base_.get(), [&] { return result.has_value(); }, 2000);
    return result;
  }

  net::EventBasePtr base_{event_base_new()};
  ProbeServer server_{base_.get()};
};

TEST_F(HttpProbeTest, PassesOnAnExpectedStatusAndSendsHostAndUserAgent) {
  HttpProbe probe(base_.get(), server_.address(), Config("/health/ready"));
  std::optional<ProbeResult> r = RunOnce(probe);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok) << r->detail;
  EXPECT_EQ(server_.last_path, "/health/ready");
  EXPECT_EQ(server_.last_host, server_.address().ToString());
  EXPECT_EQ(server_.last_user_agent, "outrigger-health");
}

TEST_F(HttpProbeTest, FailsOnAnUnexpectedStatusAndSaysWhich) {
  server_.status = 503;
  HttpProbe probe(base_.get(), server_.address(), Config("/health/ready"));
  std::optional<ProbeResult> r = RunOnce(probe);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  EXPECT_EQ(r->detail, "status 503");
}

TEST_F(HttpProbeTest, HonoursExpectStatusAndAConfiguredHost) {
  server_.status = 301;
  config::ProbeConfig c = Config("/");
  c.host = "api.internal";
  c.expect_status = {{200, 200}, {300, 399}};
  HttpProbe probe(base_.get(), server_.address(), c);
  std::optional<ProbeResult> r = RunOnce(probe);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->ok);
  EXPECT_EQ(server_.last_host, "api.internal");
}

TEST_F(HttpProbeTest, FailsWhenTheBackendDoesNotAnswerInTime) {
  server_.hang = true;
  HttpProbe probe(base_.get(), server_.address(), Config("/"));
  std::optional<ProbeResult> r = RunOnce(probe);
  ASSERT_TRUE(r) << "the timeout did not end the probe";
  EXPECT_FALSE(r->ok);
}

TEST_F(HttpProbeTest, FailsOnARefusedConnectionAndCanRunAgain) {
  // A port nothing listens on: bind one, note it, close it.
  net::SocketAddress closed;
  {
    ProbeServer gone(base_.get());
    closed = gone.address();
  }
  HttpProbe probe(base_.get(), closed, Config("/"));
  std::optional<ProbeResult> r = RunOnce(probe);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
  r = RunOnce(probe);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->ok);
}

TEST_F(HttpProbeTest, EachRunIsANewRequest) {
  HttpProbe probe(base_.get(), server_.address(), Config("/"));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(RunOnce(probe).value().ok);
  EXPECT_EQ(server_.requests, 3);
}

}  // namespace
}  // namespace outrigger::upstream
