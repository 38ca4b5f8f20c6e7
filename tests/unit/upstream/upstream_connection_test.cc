#include "proxy/upstream/upstream_connection.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/net/event.h"

namespace outrigger::upstream {
namespace {

// A socket pair stands in for a backend connection: the far end is the backend.
class UpstreamConnectionTest : public ::testing::Test {
 protected:
  UpstreamConnectionTest()
      : base_(net::NewEventBase()),
        backend_(std::make_shared<Backend>("api", net::ParseNumericAddress("127.0.0.1:9").value(),
                                           "b1")) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    far_end_ = fds[1];
    conn_ = std::make_unique<UpstreamConnection>(std::make_unique<net::Stream>(base_.get(), fds[0]),
                                                 backend_);
  }
  ~UpstreamConnectionTest() override {
    if (far_end_ >= 0) close(far_end_);
  }

  net::EventBasePtr base_;
  std::shared_ptr<Backend> backend_;
  int far_end_ = -1;
  std::unique_ptr<UpstreamConnection> conn_;
};

TEST_F(UpstreamConnectionTest, QuietConnectionIsOpen) { EXPECT_TRUE(conn_->PeerOpen()); }

TEST_F(UpstreamConnectionTest, ConnectionClosedByTheBackendIsNotOpen) {
  close(far_end_);
  far_end_ = -1;
  EXPECT_FALSE(conn_->PeerOpen());
}

TEST_F(UpstreamConnectionTest, ConnectionShutDownForWritingByTheBackendIsNotOpen) {
  shutdown(far_end_, SHUT_WR);  // a half-close: its FIN is what the proxy sees first
  EXPECT_FALSE(conn_->PeerOpen());
}

TEST_F(UpstreamConnectionTest, UnsolicitedBytesMakeItUnusable) {
  ASSERT_EQ(write(far_end_, "x", 1), 1);
  EXPECT_FALSE(conn_->PeerOpen());
}

TEST_F(UpstreamConnectionTest, CheckLeavesTheBytesUnread) {
  ASSERT_EQ(write(far_end_, "x", 1), 1);
  EXPECT_FALSE(conn_->PeerOpen());
  char byte = 0;
  EXPECT_EQ(recv(conn_->stream().fd(), &byte, 1, MSG_DONTWAIT), 1);
  EXPECT_EQ(byte, 'x');
}

}  // namespace
}  // namespace outrigger::upstream
