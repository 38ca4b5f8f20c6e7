#include "proxy/app/service_notify.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>

namespace outrigger::app {
namespace {

// A datagram socket standing in for systemd's notify socket, named by $NOTIFY_SOCKET for the
// duration of a test.
class ServiceNotifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "notify-" + std::to_string(getpid()) + ".sock";
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd_, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    ASSERT_LT(path_.size(), sizeof(addr.sun_path));
    path_.copy(addr.sun_path, path_.size());
    ASSERT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    timeval tv{.tv_sec = 2, .tv_usec = 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setenv("NOTIFY_SOCKET", path_.c_str(), 1);
  }
  void TearDown() override {
    unsetenv("NOTIFY_SOCKET");
    close(fd_);
    unlink(path_.c_str());
  }
  // The next datagram, or "" after 2 s.
  std::string Next() {
    char buf[512];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

  std::string path_;
  int fd_ = -1;
};

#ifdef OUTRIGGER_HAVE_SYSTEMD

TEST_F(ServiceNotifyTest, ReadyCarriesItsStatusOnOneLine) {
  NotifyReady("serving: a\nb");
  EXPECT_EQ(Next(), "READY=1\nSTATUS=serving: a b");
}

TEST_F(ServiceNotifyTest, ReloadingCarriesTheMonotonicClock) {
  timespec before{};
  clock_gettime(CLOCK_MONOTONIC, &before);
  NotifyReloading();
  std::string got = Next();
  ASSERT_TRUE(got.starts_with("RELOADING=1\nMONOTONIC_USEC=")) << got;
  long long usec = std::stoll(got.substr(got.find('=', 12) + 1));
  EXPECT_GE(usec, before.tv_sec * 1000000LL + before.tv_nsec / 1000);
  EXPECT_TRUE(got.ends_with("\nSTATUS=reloading")) << got;
}

TEST_F(ServiceNotifyTest, Stopping) {
  NotifyStopping("draining");
  EXPECT_EQ(Next(), "STOPPING=1\nSTATUS=draining");
}

#else

TEST_F(ServiceNotifyTest, WithoutLibsystemdNothingIsSent) {
  NotifyReady("serving");
  timeval tv{.tv_sec = 0, .tv_usec = 100000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  EXPECT_EQ(Next(), "");
}

#endif

}  // namespace
}  // namespace outrigger::app
