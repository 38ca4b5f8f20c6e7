// RedisClient: GCRA decisions from a real redis-server on loopback (started here, skipped
// when Debian's redis-server is not installed); a server that never answers times out; a
// refused one fails; a cancelled or orphaned wait never hears back.
#include "plugins/store/redis_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store_test_loop.h"

extern char** environ;

namespace outrigger::plugins {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kSecondUs = 1'000'000;

// A listening socket on 127.0.0.1; its port. It accepts (the kernel does) and never answers.
int Listen(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  EXPECT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

bool Accepts(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

class RedisClientTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (redis_pid_ > 0) {
      kill(redis_pid_, SIGKILL);
      waitpid(redis_pid_, nullptr, 0);
    }
  }

  // Starts redis-server on a free port (with `password`, if any); false when it is not
  // installed.
  bool StartRedis(uint16_t* port, const char* password = nullptr) {
    if (access("/usr/bin/redis-server", X_OK) != 0) return false;
    const int probe = Listen(port);
    close(probe);
    const std::string p = std::to_string(*port);
    std::vector<const char*> argv = {"redis-server", "--port",     p.c_str(), "--bind",
                                     "127.0.0.1",    "--save",     "",        "--appendonly",
                                     "no",           "--loglevel", "warning"};
    if (password != nullptr) {
      argv.push_back("--requirepass");
      argv.push_back(password);
    }
    argv.push_back(nullptr);
    if (posix_spawn(&redis_pid_, "/usr/bin/redis-server", nullptr, nullptr,
                    const_cast<char**>(argv.data()), environ) != 0) {
      return false;
    }
    for (int i = 0; i < 500 && !Accepts(*port); ++i) std::this_thread::sleep_for(milliseconds(10));
    return Accepts(*port);
  }

  // Runs the loop until `done` or 5 s.
  template <typename Done>
  bool RunUntil(Done done) {
    return RunLoopUntil(base_.get(), done, 5'000'000'000);
  }

  net::EventBasePtr base_ = net::NewEventBase();
  pid_t redis_pid_ = -1;
};

TEST_F(RedisClientTest, DecidesWithGcraInRedis) {
  uint16_t port = 0;
  if (!StartRedis(&port)) GTEST_SKIP() << "redis-server is not installed";
  RedisClient client(base_.get(), "127.0.0.1", port, milliseconds(2000));
  // A burst of 3, one a second: 3 allowed (2, 1, 0 left), the 4th told when to come back.
  for (uint32_t left : {2u, 1u, 0u}) {
    Waiter w;
    ASSERT_TRUE(client.Gcra("k", kSecondUs, 2 * kSecondUs, &w.wait));
    EXPECT_TRUE(w.wait.waiting());
    ASSERT_TRUE(RunUntil([&] { return w.calls > 0; }));
    EXPECT_EQ(w.calls, 1);
    EXPECT_TRUE(w.wait.reply().ok);
    EXPECT_TRUE(w.wait.reply().allowed);
    EXPECT_EQ(w.wait.reply().remaining, left);
  }
  Waiter over;
  ASSERT_TRUE(client.Gcra("k", kSecondUs, 2 * kSecondUs, &over.wait));
  ASSERT_TRUE(RunUntil([&] { return over.calls > 0; }));
  EXPECT_TRUE(over.wait.reply().ok);
  EXPECT_FALSE(over.wait.reply().allowed);
  EXPECT_GT(over.wait.reply().retry_after_us, 0);
  EXPECT_LE(over.wait.reply().retry_after_us, kSecondUs);
  // Another key has a bucket of its own.
  Waiter other;
  ASSERT_TRUE(client.Gcra("other", kSecondUs, 2 * kSecondUs, &other.wait));
  ASSERT_TRUE(RunUntil([&] { return other.calls > 0; }));
  EXPECT_TRUE(other.wait.reply().allowed);
}

TEST_F(RedisClientTest, ACancelledWaitHearsNothingAndTheNextOneItsOwnReply) {
  uint16_t port = 0;
  if (!StartRedis(&port)) GTEST_SKIP() << "redis-server is not installed";
  RedisClient client(base_.get(), "127.0.0.1", port, milliseconds(2000));
  Waiter gone;
  Waiter next;
  ASSERT_TRUE(client.Gcra("a", kSecondUs, 0, &gone.wait));
  ASSERT_TRUE(client.Gcra("a", kSecondUs, 0, &next.wait));
  gone.wait.Cancel();
  EXPECT_FALSE(gone.wait.waiting());
  ASSERT_TRUE(RunUntil([&] { return next.calls > 0; }));
  EXPECT_EQ(gone.calls, 0);
  // The cancelled question still counted in Redis (it was asked): the second is over a
  // burst of 1, so the reply the second wait got is its own, not the first's.
  EXPECT_TRUE(next.wait.reply().ok);
  EXPECT_FALSE(next.wait.reply().allowed);
}

TEST_F(RedisClientTest, ARedisThatWantsAPasswordAnswersEveryQuestionWithAFailure) {
  uint16_t port = 0;
  if (!StartRedis(&port, "secret")) GTEST_SKIP() << "redis-server is not installed";
  RedisClient client(base_.get(), "127.0.0.1", port, milliseconds(2000));
  for (int i = 0; i < 3; ++i) {
    Waiter w;
    ASSERT_TRUE(client.Gcra("k", kSecondUs, 0, &w.wait));
    ASSERT_TRUE(RunUntil([&] { return w.calls > 0; }));
    EXPECT_FALSE(w.wait.reply().ok);  // NOAUTH: no decision, so the plugin's on_store_error
  }
}

TEST_F(RedisClientTest, AServerThatNeverAnswersTimesOut) {
  uint16_t port = 0;
  const int silent = Listen(&port);
  RedisClient client(base_.get(), "127.0.0.1", port, milliseconds(50));
  Waiter w;
  ASSERT_TRUE(client.Gcra("k", kSecondUs, 0, &w.wait));
  ASSERT_TRUE(RunUntil([&] { return w.calls > 0; }));
  EXPECT_EQ(w.calls, 1);
  EXPECT_FALSE(w.wait.reply().ok);
  EXPECT_FALSE(w.wait.waiting());
  close(silent);
}

TEST_F(RedisClientTest, ARefusedServerFailsAndFurtherQuestionsFailAtOnce) {
  uint16_t port = 0;
  close(Listen(&port));  // nothing listens there now
  RedisClient client(base_.get(), "127.0.0.1", port, milliseconds(2000));
  // Asked while connecting: the refusal answers it. Then, until the retry (100 ms on, and
  // the loop does not run meanwhile), questions fail at once.
  Waiter w;
  ASSERT_TRUE(client.Gcra("k", kSecondUs, 0, &w.wait));
  ASSERT_TRUE(RunUntil([&] { return w.calls > 0; }));
  EXPECT_FALSE(w.wait.reply().ok);
  EXPECT_FALSE(client.connected());
  Waiter later;
  EXPECT_FALSE(client.Gcra("k", kSecondUs, 0, &later.wait));
  EXPECT_FALSE(later.wait.waiting());
}

TEST_F(RedisClientTest, AWaitOutlivingItsClientIsLetGo) {
  uint16_t port = 0;
  const int silent = Listen(&port);
  Waiter w;
  {
    RedisClient client(base_.get(), "127.0.0.1", port, milliseconds(2000));
    ASSERT_TRUE(client.Gcra("k", kSecondUs, 0, &w.wait));
  }
  EXPECT_FALSE(w.wait.waiting());
  EXPECT_EQ(w.calls, 0);
  w.wait.Cancel();  // harmless: the client is gone
  close(silent);
}

}  // namespace
}  // namespace outrigger::plugins
