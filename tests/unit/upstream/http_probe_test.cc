// HttpProbe against a real HTTP server on loopback: the status decides, the request carries
// Host and User-Agent, and silence or a refused connection fails within the timeout.
#include "proxy/upstream/http_probe.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string_view>
#include <thread>

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

// A loopback server that answers a valid 200, one byte every 50 ms (about 2 s in all), on a
// thread of its own: every read arrives well within a per-read timeout.
class TricklingServer {
 public:
  TricklingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
    EXPECT_EQ(::listen(fd_, 4), 0);
    socklen_t len = sizeof(sin);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sin), &len);
    address_ = net::SocketAddress(reinterpret_cast<sockaddr*>(&sin), len);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TricklingServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept()
    thread_.join();
    ::close(fd_);
  }
  const net::SocketAddress& address() const { return address_; }

 private:
  void Serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    constexpr std::string_view kAnswer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    for (char byte : kAnswer) {
      if (stop_ || ::send(c, &byte, 1, MSG_NOSIGNAL) != 1) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::close(c);
  }

  int fd_ = -1;
  net::SocketAddress address_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// issue 20.4: the timeout bounds the whole probe, not each read.
TEST_F(HttpProbeTest, FailsWhenTheAnswerTricklesInSlowerThanTheTimeout) {
  TricklingServer trickle;
  HttpProbe probe(base_.get(), trickle.address(), Config("/"));  // 200 ms
  const auto start = std::chrono::steady_clock::now();
  std::optional<ProbeResult> r = RunOnce(probe);
  ASSERT_TRUE(r) << "still outstanding after 2 s";
  EXPECT_FALSE(r->ok) << "a 200 that took ~2 s to arrive passed a 200 ms probe";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(1500));
  EXPECT_FALSE(probe.running());
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
