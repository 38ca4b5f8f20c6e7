#include "proxy/upstream/connection_pool.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

#include "proxy/net/event.h"

namespace outrigger::upstream {
namespace {

using std::chrono::milliseconds;

// Real socket pairs stand in for backend connections: closing the far end is exactly what a
// backend's keep-alive timeout does.
class ConnectionPoolTest : public ::testing::Test {
 protected:
  ConnectionPoolTest()
      : base_(net::NewEventBase()),
        backend_(std::make_shared<Backend>("api", net::ParseNumericAddress("127.0.0.1:9").value(),
                                           "b1")) {}
  ~ConnectionPoolTest() override {
    pool_.Clear();
    for (int fd : far_ends_) close(fd);
  }

  std::unique_ptr<UpstreamConnection> NewConnection() {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    far_ends_.push_back(fds[1]);
    return std::make_unique<UpstreamConnection>(std::make_unique<net::Stream>(base_.get(), fds[0]),
                                                backend_);
  }
  void RunLoopOnce() { event_base_loop(base_.get(), EVLOOP_NONBLOCK); }

  net::EventBasePtr base_;
  std::shared_ptr<Backend> backend_;
  ConnectionPool pool_;
  std::vector<int> far_ends_;
};

TEST_F(ConnectionPoolTest, ReleasedConnectionIsAcquiredAgain) {
  auto conn = NewConnection();
  UpstreamConnection* raw = conn.get();
  pool_.Release(std::move(conn), 4, milliseconds(60000));
  EXPECT_EQ(pool_.idle_count(backend_.get()), 1u);
  auto again = pool_.Acquire(backend_.get());
  EXPECT_EQ(again.get(), raw);
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
}

TEST_F(ConnectionPoolTest, AcquireReturnsTheMostRecentlyUsedConnection) {
  auto first = NewConnection();
  auto second = NewConnection();
  UpstreamConnection* newest = second.get();
  pool_.Release(std::move(first), 4, milliseconds(60000));
  pool_.Release(std::move(second), 4, milliseconds(60000));
  EXPECT_EQ(pool_.Acquire(backend_.get()).get(), newest);
}

TEST_F(ConnectionPoolTest, ConnectionsBeyondTheCapAreClosed) {
  for (int i = 0; i < 5; ++i) pool_.Release(NewConnection(), 2, milliseconds(60000));
  EXPECT_EQ(pool_.idle_count(backend_.get()), 2u);
}

TEST_F(ConnectionPoolTest, ConnectionClosedByTheBackendLeavesThePool) {
  pool_.Release(NewConnection(), 4, milliseconds(60000));
  close(far_ends_.back());
  far_ends_.pop_back();
  for (int i = 0; i < 10 && pool_.idle_count(backend_.get()) > 0; ++i) RunLoopOnce();
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
  EXPECT_EQ(pool_.Acquire(backend_.get()), nullptr);
}

TEST_F(ConnectionPoolTest, IdleConnectionIsClosedAfterTheIdleTimeout) {
  pool_.Release(NewConnection(), 4, milliseconds(20));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (pool_.idle_count(backend_.get()) > 0 && std::chrono::steady_clock::now() < deadline) {
    event_base_loop(base_.get(), EVLOOP_ONCE);
  }
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
}

TEST_F(ConnectionPoolTest, CloseAllForgetsOnlyThatBackend) {
  auto other =
      std::make_shared<Backend>("api", net::ParseNumericAddress("127.0.0.1:10").value(), "b2");
  pool_.Release(NewConnection(), 4, milliseconds(60000));
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
  far_ends_.push_back(fds[1]);
  pool_.Release(std::make_unique<UpstreamConnection>(
                    std::make_unique<net::Stream>(base_.get(), fds[0]), other),
                4, milliseconds(60000));
  pool_.CloseAll(backend_.get());
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
  EXPECT_EQ(pool_.idle_count(other.get()), 1u);
}

}  // namespace
}  // namespace outrigger::upstream
