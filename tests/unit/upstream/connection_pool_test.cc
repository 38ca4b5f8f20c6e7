#include "proxy/upstream/connection_pool.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

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

  std::unique_ptr<UpstreamConnection> NewConnection() { return NewConnectionTo(backend_); }
  std::unique_ptr<UpstreamConnection> NewConnectionTo(std::shared_ptr<Backend> backend) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    far_ends_.push_back(fds[1]);
    return std::make_unique<UpstreamConnection>(std::make_unique<net::Stream>(base_.get(), fds[0]),
                                                std::move(backend));
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

TEST_F(ConnectionPoolTest, AcquireOpenSkipsConnectionsTheBackendClosed) {
  // Closed by the backend but not yet noticed by the loop: Acquire would hand them out.
  auto live = NewConnection();
  UpstreamConnection* raw = live.get();
  pool_.Release(std::move(live), 4, milliseconds(60000));
  for (int i = 0; i < 2; ++i) {
    pool_.Release(NewConnection(), 4, milliseconds(60000));
    close(far_ends_.back());
    far_ends_.pop_back();
  }
  EXPECT_EQ(pool_.AcquireOpen(backend_.get()).get(), raw);
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
  EXPECT_EQ(backend_->connections(), 0);  // the dead ones were closed, not leaked
}

TEST_F(ConnectionPoolTest, AcquireOpenReturnsNullWhenEveryIdleConnectionIsDead) {
  pool_.Release(NewConnection(), 4, milliseconds(60000));
  close(far_ends_.back());
  far_ends_.pop_back();
  EXPECT_EQ(pool_.AcquireOpen(backend_.get()), nullptr);
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
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

// The pool must never read a Backend it holds no connection to: a reload or DNS change may
// have freed it (run under ASan, a stale entry is a heap-use-after-free). Nor may it keep a
// Backend alive, or an entry for it, once it holds no connection to it.
TEST_F(ConnectionPoolTest, ABackendWhoseLastIdleConnectionWasTakenIsForgotten) {
  pool_.Release(NewConnection(), 4, milliseconds(60000));
  const Backend* key = backend_.get();
  pool_.Acquire(key).reset();  // taken and closed: no connection refers to the backend
  std::weak_ptr<Backend> weak = backend_;
  backend_.reset();  // as a reload that removes it does
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(pool_.backend_count(), 0u);
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
}

TEST_F(ConnectionPoolTest, ABackendThatClosedItsIdleConnectionIsForgotten) {
  pool_.Release(NewConnection(), 4, milliseconds(60000));
  close(far_ends_.back());
  far_ends_.pop_back();
  const Backend* key = backend_.get();
  for (int i = 0; i < 10 && pool_.idle_count(key) > 0; ++i) RunLoopOnce();
  ASSERT_EQ(pool_.idle_count(key), 0u);
  std::weak_ptr<Backend> weak = backend_;
  backend_.reset();
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
  EXPECT_TRUE(weak.expired());
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
}

TEST_F(ConnectionPoolTest, KeepaliveZeroClosesTheConnectionAndKeepsNothing) {
  pool_.Release(NewConnection(), 0, milliseconds(60000));
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
  EXPECT_EQ(pool_.backend_count(), 0u);
  EXPECT_EQ(backend_->connections(), 0);
  backend_.reset();
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
}

TEST_F(ConnectionPoolTest, BackendsThatComeAndGoDoNotGrowThePool) {
  for (int i = 0; i < 100; ++i) {  // DNS churn: a new address every time
    auto b = std::make_shared<Backend>(
        "api", net::ParseNumericAddress("127.0.0.1:" + std::to_string(1000 + i)).value(), "b");
    pool_.Release(NewConnectionTo(b), 4, milliseconds(60000));
    pool_.Acquire(b.get()).reset();
    pool_.Upkeep(Backend::kDead | Backend::kDraining);
    ASSERT_EQ(pool_.backend_count(), 0u) << i;
  }
}

TEST_F(ConnectionPoolTest, UpkeepClosesOnlyTheUnavailableBackends) {
  auto other =
      std::make_shared<Backend>("api", net::ParseNumericAddress("127.0.0.1:10").value(), "b2");
  pool_.Release(NewConnection(), 4, milliseconds(60000));
  pool_.Release(NewConnectionTo(other), 4, milliseconds(60000));
  other->SetUnavailable(Backend::kDraining, true);
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
  EXPECT_EQ(pool_.idle_count(backend_.get()), 1u);
  EXPECT_EQ(pool_.idle_count(other.get()), 0u);
  EXPECT_EQ(other->connections(), 0);
}

// max_connections caps the connections in use: pooling one frees its slot, taking it back
// takes one again.
TEST_F(ConnectionPoolTest, CountsConnectionsInUseAndIdle) {
  auto conn = NewConnection();
  EXPECT_EQ(backend_->connections_in_use(), 1);
  pool_.Release(std::move(conn), 4, milliseconds(60000));
  EXPECT_EQ(backend_->connections_in_use(), 0);
  EXPECT_EQ(backend_->idle_connections(), 1);
  EXPECT_EQ(backend_->connections(), 1);
  conn = pool_.Acquire(backend_.get());
  EXPECT_EQ(backend_->connections_in_use(), 1);
  EXPECT_EQ(backend_->idle_connections(), 0);
  conn.reset();
  EXPECT_EQ(backend_->connections(), 0);
}

TEST_F(ConnectionPoolTest, AdaptiveKeepsEveryConnectionTheTrafficUsed) {
  std::vector<std::unique_ptr<UpstreamConnection>> in_use;
  for (int i = 0; i < 50; ++i) in_use.push_back(NewConnection());
  for (size_t round = 0; round < 3 * KeepaliveSizer::kWindowTicks; ++round) {
    for (auto& c : in_use)
      pool_.Release(std::move(c), ConnectionPool::kAdaptive, milliseconds(60000));
    ASSERT_EQ(pool_.idle_count(backend_.get()), 50u);
    pool_.Upkeep(Backend::kDead | Backend::kDraining);
    for (auto& c : in_use) c = pool_.Acquire(backend_.get());  // 50 concurrent requests
    ASSERT_NE(in_use.back(), nullptr) << round;
  }
}

TEST_F(ConnectionPoolTest, AdaptiveClosesTheSurplusALittleAtATime) {
  for (int i = 0; i < 40; ++i) {
    pool_.Release(NewConnection(), ConnectionPool::kAdaptive, milliseconds(60000));
  }
  for (size_t tick = 0; tick < KeepaliveSizer::kWindowTicks; ++tick) {
    pool_.Upkeep(Backend::kDead | Backend::kDraining);
    ASSERT_EQ(pool_.idle_count(backend_.get()), 40u) << tick;
  }
  pool_.Upkeep(Backend::kDead | Backend::kDraining);
  EXPECT_EQ(pool_.idle_count(backend_.get()), 30u);
  for (int tick = 0; tick < 100 && pool_.idle_count(backend_.get()) > 0; ++tick) {
    pool_.Upkeep(Backend::kDead | Backend::kDraining);
  }
  EXPECT_EQ(pool_.idle_count(backend_.get()), 0u);
  EXPECT_EQ(backend_->connections(), 0);
}

}  // namespace
}  // namespace outrigger::upstream
