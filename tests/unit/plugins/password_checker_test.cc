// PasswordChecker: verdicts come back on the loop, a match is remembered, a cancelled check
// is not answered, the queue is bounded, and a checker destroyed with checks out lets them go.
// The checks run on the checker's own std::thread: the TSan build runs this test too.
#include "plugins/store/password_checker.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "store_test_loop.h"

namespace outrigger::plugins {
namespace {

// "pw" with bcrypt cost 4 and with SHA-512-crypt.
const std::string kBcrypt = "$2b$04$HUHWyhBnOEi6A5ZXM8bDsefbD21SbbcduOHocj2VBWT/uV/6KvmMm";
const std::string kSha512 =
    "$6$saltsalt$pauPrmdmG4BTE9h2HPmywiw152IFch6BJCEsaY6D.PLTfpV8sqvXwWdyfsgVgozkYH9B80bAip/08R2BPH"
    "2xk/";

class PasswordCheckerTest : public ::testing::Test {
 protected:
  template <typename Done>
  bool RunUntil(Done done) {
    return RunLoopUntil(base_.get(), done);
  }
  // The verdict for `password` against `hash`, waiting for it when it is not remembered.
  bool Verdict(PasswordChecker& checker, const std::string& password, const std::string& hash) {
    Waiter w;
    const PasswordChecker::Result r = checker.Check(password, hash, &w.wait);
    if (r == PasswordChecker::Result::kMatch) return true;
    EXPECT_EQ(r, PasswordChecker::Result::kPending);
    EXPECT_TRUE(RunUntil([&] { return w.calls > 0; }));
    EXPECT_EQ(w.calls, 1);
    EXPECT_TRUE(w.wait.reply().ok);
    return w.wait.reply().allowed;
  }

  net::EventBasePtr base_ = net::NewEventBase();
};

TEST_F(PasswordCheckerTest, ChecksBcryptAndShaCryptOffTheLoopAndRemembersAMatch) {
  PasswordChecker checker(base_.get());
  EXPECT_FALSE(Verdict(checker, "wrong", kBcrypt));
  EXPECT_TRUE(Verdict(checker, "pw", kBcrypt));
  EXPECT_TRUE(Verdict(checker, "pw", kSha512));
  EXPECT_FALSE(Verdict(checker, "pw ", kSha512));
  EXPECT_FALSE(Verdict(checker, "", kSha512));
  Waiter again;
  EXPECT_EQ(checker.Check("pw", kBcrypt, &again.wait), PasswordChecker::Result::kMatch);
  EXPECT_FALSE(again.wait.waiting());
  // A wrong password is not remembered: it is checked (and refused) each time.
  Waiter wrong;
  EXPECT_EQ(checker.Check("wrong", kBcrypt, &wrong.wait), PasswordChecker::Result::kPending);
  ASSERT_TRUE(RunUntil([&] { return wrong.calls > 0; }));
  EXPECT_FALSE(wrong.wait.reply().allowed);
}

TEST_F(PasswordCheckerTest, ACancelledCheckIsNotAnsweredAndTheNextGetsItsOwn) {
  PasswordChecker checker(base_.get());
  Waiter gone;
  Waiter next;
  ASSERT_EQ(checker.Check("pw", kBcrypt, &gone.wait), PasswordChecker::Result::kPending);
  ASSERT_EQ(checker.Check("wrong", kBcrypt, &next.wait), PasswordChecker::Result::kPending);
  gone.wait.Cancel();
  ASSERT_TRUE(RunUntil([&] { return next.calls > 0; }));
  EXPECT_EQ(gone.calls, 0);
  EXPECT_FALSE(next.wait.reply().allowed);
}

TEST_F(PasswordCheckerTest, CancelledChecksLeaveTheQueueAndTheOthersAreAnsweredInOrder) {
  PasswordChecker checker(base_.get());
  std::vector<std::unique_ptr<Waiter>> w;
  for (int i = 0; i < 6; ++i) {
    w.push_back(std::make_unique<Waiter>());
    ASSERT_EQ(checker.Check(i % 2 == 0 ? "pw" + std::to_string(i) : "pw", kBcrypt, &w[i]->wait),
              PasswordChecker::Result::kPending);
  }
  w[1]->wait.Cancel();
  w[2]->wait.Cancel();
  w[4]->wait.Cancel();
  ASSERT_TRUE(RunUntil([&] { return w[5]->calls > 0; }));
  ASSERT_TRUE(RunUntil([&] { return w[0]->calls > 0 && w[3]->calls > 0; }));
  EXPECT_FALSE(w[0]->wait.reply().allowed);
  EXPECT_TRUE(w[3]->wait.reply().allowed);
  EXPECT_TRUE(w[5]->wait.reply().allowed);
  for (int i : {1, 2, 4}) EXPECT_EQ(w[i]->calls, 0) << i;
  // Nothing is left waiting: the whole queue is free for new checks.
  for (size_t i = 0; i < PasswordChecker::kMaxQueued; ++i) {
    Waiter more;
    ASSERT_NE(checker.Check("z" + std::to_string(i), kBcrypt, &more.wait),
              PasswordChecker::Result::kBusy)
        << i;
  }
}

TEST_F(PasswordCheckerTest, TheQueueIsBoundedAndADestroyedCheckerLetsItsWaitsGo) {
  std::vector<std::unique_ptr<Waiter>> waiters;
  {
    PasswordChecker checker(base_.get());
    for (size_t i = 0; i < PasswordChecker::kMaxQueued; ++i) {
      waiters.push_back(std::make_unique<Waiter>());
      ASSERT_EQ(checker.Check("x" + std::to_string(i), kBcrypt, &waiters.back()->wait),
                PasswordChecker::Result::kPending);
    }
    Waiter over;
    EXPECT_EQ(checker.Check("y", kBcrypt, &over.wait), PasswordChecker::Result::kBusy);
    EXPECT_FALSE(over.wait.waiting());
  }
  for (const auto& w : waiters) {
    EXPECT_FALSE(w->wait.waiting());
    EXPECT_EQ(w->calls, 0);
  }
  event_base_loop(base_.get(), EVLOOP_NONBLOCK);  // nothing may run for a gone checker
}

}  // namespace
}  // namespace outrigger::plugins
