// H2Pool over socket pairs: which connection a request takes, and dead ones leaving.
#include "proxy/upstream/h2_pool.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "proxy/net/event.h"

namespace outrigger::upstream {
namespace {

struct Quiet : H2StreamOwner {
  void OnH2Head(const http::ResponseHead&, bool) override {}
  void OnH2Data(const uint8_t*, size_t) override {}
  void OnH2End(std::span<const http::Header>) override {}
  void OnH2Close(uint32_t, bool) override { closed = true; }
  evbuffer* H2RequestBody() override { return nullptr; }
  bool closed = false;
};

class H2PoolTest : public ::testing::Test {
 protected:
  H2PoolTest()
      : base_(net::NewEventBase()),
        backend_(std::make_shared<Backend>("api", net::ParseNumericAddress("127.0.0.1:9").value(),
                                           "b1")),
        pool_(base_.get()) {
    signal(SIGPIPE, SIG_IGN);
  }
  ~H2PoolTest() override {
    for (int fd : far_ends_) close(fd);
  }

  // A new connection whose backend end the test holds (far_ends_[i]).
  H2Connection* Add() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    far_ends_.push_back(fds[1]);
    return pool_.Add(std::make_unique<net::Stream>(base_.get(), fds[0]), backend_,
                     http2::CodecLimits{}, "http", std::chrono::seconds(60));
  }

  static http::RequestHead Get() {
    http::RequestHead h;
    h.method_text = "GET";
    h.target = h.path = "/";
    h.authority = "backend.test";
    h.headers = {{"Host", "backend.test"}};
    return h;
  }

  net::EventBasePtr base_;
  std::shared_ptr<Backend> backend_;
  H2Pool pool_;
  std::vector<int> far_ends_;
};

TEST_F(H2PoolTest, FindsNothingForABackendWithoutConnections) {
  EXPECT_EQ(pool_.Find(backend_.get()), nullptr);
}

TEST_F(H2PoolTest, ARequestTakesTheLeastLoadedConnection) {
  H2Connection* a = Add();
  H2Connection* b = Add();
  EXPECT_EQ(backend_->connections_in_use(), 2u);
  Quiet q1, q2;
  ASSERT_GT(a->Open(Get(), false, &q1), 0);
  EXPECT_EQ(pool_.Find(backend_.get()), b);
  ASSERT_GT(b->Open(Get(), false, &q2), 0);
  ASSERT_GT(b->Open(Get(), false, &q2), 0);
  EXPECT_EQ(pool_.Find(backend_.get()), a);
}

TEST_F(H2PoolTest, AConnectionTheBackendClosedLeavesThePool) {
  H2Connection* a = Add();
  Add();
  Quiet q;
  ASSERT_GT(a->Open(Get(), false, &q), 0);
  close(far_ends_[0]);
  far_ends_.erase(far_ends_.begin());
  for (int i = 0; i < 200 && pool_.count(backend_.get()) == 2; ++i) {
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
    usleep(1000);
  }
  EXPECT_EQ(pool_.count(backend_.get()), 1u);
  EXPECT_TRUE(q.closed);
  EXPECT_EQ(backend_->connections_in_use(), 1u);
}

}  // namespace
}  // namespace outrigger::upstream
