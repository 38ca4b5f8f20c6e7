#include "proxy/upstream/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <latch>
#include <random>
#include <thread>
#include <vector>

#include "proxy/net/address.h"

namespace outrigger::upstream {
namespace {

using State = CircuitBreaker::State;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kStart = 1000 * kSecond;  // any clock reading; not at 0, like MonoNanos()

CircuitBreaker::Options Opts(uint32_t failures, uint32_t trials = 1) {
  CircuitBreaker::Options o;
  o.consecutive_failures = failures;
  o.open_for = seconds(30);
  o.max_open_for = minutes(5);
  o.half_open_trials = trials;
  return o;
}

// Drives a closed breaker open at `now` and returns what the opening failure reported.
CircuitChange Trip(CircuitBreaker& breaker, uint32_t failures, int64_t now) {
  CircuitChange last = CircuitChange::kUnchanged;
  for (uint32_t i = 0; i < failures; ++i) last = breaker.OnFailure(now);
  return last;
}

// From open: waits out the open time, admits a trial and fails it. Returns when it reopened.
int64_t FailTrial(CircuitBreaker& breaker) {
  const int64_t at = *breaker.trial_at_ns();
  EXPECT_TRUE(breaker.AllowRequest(at));
  EXPECT_EQ(breaker.OnFailure(at), CircuitChange::kOpened);
  return at;
}

TEST(CircuitBreakerTest, StartsClosedAndAllowsEverything) {
  CircuitBreaker breaker(Opts(5));
  EXPECT_EQ(breaker.state(kStart), State::kClosed);
  for (int i = 0; i < 100; ++i) EXPECT_TRUE(breaker.AllowRequest(kStart));
  EXPECT_EQ(breaker.trial_at_ns(), std::nullopt);
}

TEST(CircuitBreakerTest, OpensAfterConsecutiveFailures) {
  CircuitBreaker breaker(Opts(5));
  for (int i = 0; i < 4; ++i) EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kUnchanged);
  EXPECT_EQ(breaker.state(kStart), State::kClosed);
  EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened);
  EXPECT_EQ(breaker.state(kStart), State::kOpen);
  EXPECT_FALSE(breaker.AllowRequest(kStart));
}

TEST(CircuitBreakerTest, SuccessEndsTheFailureStreak) {
  CircuitBreaker breaker(Opts(3));
  breaker.OnFailure(kStart);
  breaker.OnFailure(kStart);
  EXPECT_EQ(breaker.OnSuccess(kStart), CircuitChange::kUnchanged);
  breaker.OnFailure(kStart);
  EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kUnchanged);
  EXPECT_EQ(breaker.state(kStart), State::kClosed);
  EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened);
}

TEST(CircuitBreakerTest, FurtherFailuresWhileOpenReportNothing) {
  CircuitBreaker breaker(Opts(2));
  ASSERT_EQ(Trip(breaker, 2, kStart), CircuitChange::kOpened);
  const auto trial_at = breaker.trial_at_ns();
  EXPECT_EQ(breaker.OnFailure(kStart + kSecond), CircuitChange::kUnchanged);
  EXPECT_EQ(breaker.OnSuccess(kStart + kSecond), CircuitChange::kUnchanged);
  EXPECT_EQ(breaker.trial_at_ns(), trial_at);
  EXPECT_EQ(breaker.state(kStart + kSecond), State::kOpen);
}

TEST(CircuitBreakerTest, OpenRefusesUntilOpenTimeElapses) {
  CircuitBreaker breaker(Opts(1));
  ASSERT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened);
  EXPECT_EQ(breaker.trial_at_ns(), kStart + 30 * kSecond);
  EXPECT_FALSE(breaker.AllowRequest(kStart + 30 * kSecond - 1));
  EXPECT_EQ(breaker.state(kStart + 30 * kSecond - 1), State::kOpen);
  EXPECT_TRUE(breaker.AllowRequest(kStart + 30 * kSecond));
  EXPECT_EQ(breaker.state(kStart + 30 * kSecond), State::kHalfOpen);
}

TEST(CircuitBreakerTest, StateReadsHalfOpenOnceOpenTimeElapsedEvenBeforeAnyRequest) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart);
  EXPECT_EQ(breaker.state(kStart + 30 * kSecond), State::kHalfOpen);
  EXPECT_EQ(breaker.state(kStart), State::kOpen);  // state() does not move it
}

TEST(CircuitBreakerTest, HalfOpenAdmitsOneTrial) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart);
  const int64_t t = kStart + 30 * kSecond;
  EXPECT_TRUE(breaker.AllowRequest(t));
  EXPECT_FALSE(breaker.AllowRequest(t));
  EXPECT_FALSE(breaker.AllowRequest(t + kSecond));
  EXPECT_EQ(breaker.trial_at_ns(), std::nullopt);
}

TEST(CircuitBreakerTest, HalfOpenAdmitsUpToTheConfiguredTrials) {
  CircuitBreaker breaker(Opts(1, 3));
  breaker.OnFailure(kStart);
  const int64_t t = kStart + 30 * kSecond;
  EXPECT_TRUE(breaker.AllowRequest(t));
  EXPECT_TRUE(breaker.AllowRequest(t));
  EXPECT_TRUE(breaker.AllowRequest(t));
  EXPECT_FALSE(breaker.AllowRequest(t));
}

TEST(CircuitBreakerTest, SuccessInHalfOpenCloses) {
  CircuitBreaker breaker(Opts(2));
  Trip(breaker, 2, kStart);
  const int64_t t = kStart + 30 * kSecond;
  ASSERT_TRUE(breaker.AllowRequest(t));
  EXPECT_EQ(breaker.OnSuccess(t), CircuitChange::kClosed);
  EXPECT_EQ(breaker.state(t), State::kClosed);
  EXPECT_TRUE(breaker.AllowRequest(t));
  // The failure streak starts over: one failure is not enough.
  EXPECT_EQ(breaker.OnFailure(t), CircuitChange::kUnchanged);
}

TEST(CircuitBreakerTest, FailedTrialDoublesOpenTime) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart);
  EXPECT_EQ(*breaker.trial_at_ns() - kStart, 30 * kSecond);
  int64_t at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 60 * kSecond);
  at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 120 * kSecond);
}

TEST(CircuitBreakerTest, OpenTimeIsCappedAtEightTimes) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart);
  for (int i = 0; i < 3; ++i) FailTrial(breaker);
  int64_t at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 240 * kSecond);
  at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 240 * kSecond);
}

TEST(CircuitBreakerTest, OpenTimeIsCappedAtMaxOpenFor) {
  CircuitBreaker::Options o = Opts(1);
  o.max_open_for = seconds(100);
  CircuitBreaker breaker(o);
  breaker.OnFailure(kStart);
  int64_t at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 60 * kSecond);
  at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 100 * kSecond);
  at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 100 * kSecond);
}

TEST(CircuitBreakerTest, CapNeverShortensOpenFor) {
  CircuitBreaker::Options o = Opts(1);
  o.open_for = minutes(10);
  CircuitBreaker breaker(o);
  breaker.OnFailure(kStart);
  EXPECT_EQ(*breaker.trial_at_ns() - kStart, 600 * kSecond);
  const int64_t at = FailTrial(breaker);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 600 * kSecond);
}

TEST(CircuitBreakerTest, ClosingResetsTheOpenTime) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart);
  FailTrial(breaker);
  FailTrial(breaker);
  const int64_t at = *breaker.trial_at_ns();
  ASSERT_TRUE(breaker.AllowRequest(at));
  ASSERT_EQ(breaker.OnSuccess(at), CircuitChange::kClosed);
  ASSERT_EQ(breaker.OnFailure(at), CircuitChange::kOpened);
  EXPECT_EQ(*breaker.trial_at_ns() - at, 30 * kSecond);
}

TEST(CircuitBreakerTest, AbandonedTrialFreesItsSlot) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart);
  const int64_t t = kStart + 30 * kSecond;
  ASSERT_TRUE(breaker.AllowRequest(t));
  ASSERT_FALSE(breaker.AllowRequest(t));
  breaker.OnAbandoned();
  EXPECT_EQ(breaker.state(t), State::kHalfOpen);
  EXPECT_TRUE(breaker.AllowRequest(t));
}

TEST(CircuitBreakerTest, AbandonedOutsideHalfOpenChangesNothing) {
  CircuitBreaker breaker(Opts(2));
  breaker.OnFailure(kStart);
  breaker.OnAbandoned();
  EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened);  // the streak survived
  breaker.OnAbandoned();
  EXPECT_EQ(breaker.state(kStart), State::kOpen);
}

TEST(CircuitBreakerTest, LostTrialIsReplacedAfterTheTrialTimeout) {
  CircuitBreaker::Options o = Opts(1);
  o.trial_timeout = seconds(65);
  CircuitBreaker breaker(o);
  breaker.OnFailure(kStart);
  const int64_t t = kStart + 30 * kSecond;
  ASSERT_TRUE(breaker.AllowRequest(t));  // never reported
  EXPECT_FALSE(breaker.AllowRequest(t + 65 * kSecond - 1));
  EXPECT_TRUE(breaker.AllowRequest(t + 65 * kSecond));
  EXPECT_FALSE(breaker.AllowRequest(t + 65 * kSecond));
}

TEST(CircuitBreakerTest, TrialTimeoutDoesNotDependOnTheOpenTime) {
  CircuitBreaker::Options o = Opts(1);
  o.open_for = std::chrono::milliseconds(10);
  CircuitBreaker breaker(o);
  breaker.OnFailure(kStart);
  const int64_t t = *breaker.trial_at_ns();
  ASSERT_TRUE(breaker.AllowRequest(t));
  EXPECT_FALSE(breaker.AllowRequest(t + 10 * kSecond));
}

TEST(CircuitBreakerTest, OpenDeadlineRoundsUpToTheMillisecond) {
  CircuitBreaker breaker(Opts(1));
  breaker.OnFailure(kStart + 1);
  EXPECT_FALSE(breaker.AllowRequest(kStart + 1 + 30 * kSecond));
  EXPECT_TRUE(breaker.AllowRequest(kStart + 30 * kSecond + 1'000'000));
}

TEST(CircuitBreakerTest, OutOfRangeOptionsAreClamped) {
  CircuitBreaker::Options o;
  o.consecutive_failures = 0;
  o.half_open_trials = 0;
  o.open_for = seconds(-5);
  CircuitBreaker breaker(o);
  EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened);
  EXPECT_EQ(breaker.state(kStart), State::kHalfOpen);  // open_for 0: due at once
  EXPECT_TRUE(breaker.AllowRequest(kStart));
  EXPECT_FALSE(breaker.AllowRequest(kStart));
}

TEST(CircuitBreakerTest, ClockAtZeroWorks) {
  CircuitBreaker breaker(Opts(1));
  EXPECT_EQ(breaker.OnFailure(0), CircuitChange::kOpened);
  EXPECT_EQ(breaker.trial_at_ns(), 30 * kSecond);
}

// Several workers report the same burst of failures at once: the breaker opens once, and
// exactly one of them is told so. Then, repeatedly, they race for trials (never more than
// configured are admitted) and race to report their outcome (exactly one reopening or one
// closing is reported).
TEST(CircuitBreakerTest, ConcurrentWorkersSeeOneTransitionPerBurstAndBoundedTrials) {
  constexpr int kThreads = 8;
  constexpr uint32_t kTrials = 3;
  constexpr int kRounds = 30;
  CircuitBreaker breaker(Opts(5, kTrials));

  // Runs `body(thread index)` on every thread at once; returns how often it returned true.
  auto race = [](auto body) {
    std::atomic<int> hits{0};
    std::latch start(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        hits.fetch_add(body(i), std::memory_order_relaxed);
      });
    }
    for (auto& t : threads) t.join();
    return hits.load();
  };
  auto count_opened = [&](int64_t now) {
    return race([&](int) {
      int opened = 0;
      for (int j = 0; j < 200; ++j) opened += breaker.OnFailure(now) == CircuitChange::kOpened;
      return opened;
    });
  };

  int64_t now = kStart;
  EXPECT_EQ(count_opened(now), 1);
  for (int round = 0; round < kRounds; ++round) {
    EXPECT_EQ(race([&](int) {
                int admitted = 0;
                for (int j = 0; j < 100; ++j) admitted += breaker.AllowRequest(now);
                return admitted;
              }),
              0);
    now = *breaker.trial_at_ns();
    EXPECT_EQ(race([&](int) {
                int admitted = 0;
                for (int j = 0; j < 100; ++j) admitted += breaker.AllowRequest(now);
                return admitted;
              }),
              static_cast<int>(kTrials));
    if (round % 2 == 0) {
      EXPECT_EQ(count_opened(now), 1) << "round " << round;
    } else {
      EXPECT_EQ(race([&](int) { return breaker.OnSuccess(now) == CircuitChange::kClosed; }), 1)
          << "round " << round;
      EXPECT_EQ(breaker.state(now), State::kClosed);
      EXPECT_EQ(count_opened(now), 1) << "round " << round;
    }
  }
}

// Random interleavings of every operation with a clock that moves on: the breaker never
// reports two closings without an opening between them, and it is still usable afterwards.
TEST(CircuitBreakerTest, RandomConcurrentUseKeepsTransitionsBalanced) {
  constexpr int kThreads = 6;
  CircuitBreaker::Options o = Opts(3, 2);
  o.open_for = std::chrono::milliseconds(2);
  CircuitBreaker breaker(o);
  std::atomic<int64_t> clock{kStart};
  std::atomic<int> opened{0}, closed{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937 rng(i);
      start.arrive_and_wait();
      for (int j = 0; j < 20000; ++j) {
        const int64_t now = clock.fetch_add(1000, std::memory_order_relaxed);
        if (!breaker.AllowRequest(now)) continue;
        switch (rng() % 3) {
          case 0:
            opened += breaker.OnFailure(now) == CircuitChange::kOpened;
            break;
          case 1:
            closed += breaker.OnSuccess(now) == CircuitChange::kClosed;
            break;
          default:
            breaker.OnAbandoned();
            break;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_GT(opened.load(), 0);
  EXPECT_GT(closed.load(), 0);
  EXPECT_LE(closed.load(), opened.load());

  const int64_t later = clock.load() + 3600 * kSecond;
  if (breaker.state(later) != State::kClosed) {
    ASSERT_TRUE(breaker.AllowRequest(later));
    EXPECT_EQ(breaker.OnSuccess(later), CircuitChange::kClosed);
  }
  EXPECT_TRUE(breaker.AllowRequest(later));
}

// issue 20.5: a reload's new options apply to a kept breaker without resetting its state.
TEST(CircuitBreakerTest, ReconfigureAppliesNewOptionsAndKeepsTheState) {
  CircuitBreaker breaker(Opts(5));
  for (int i = 0; i < 2; ++i) EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kUnchanged);
  CircuitBreaker::Options lower = Opts(3);
  lower.open_for = seconds(2);
  breaker.Reconfigure(lower);
  EXPECT_EQ(breaker.state(kStart), State::kClosed) << "the streak of 2 is kept";
  EXPECT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened) << "the third of 3 opens it";
  EXPECT_EQ(breaker.trial_at_ns(), kStart + 2 * kSecond) << "under the new open_for";

  breaker.Reconfigure(Opts(5));  // open_for back to 30 s: the running open time stands
  EXPECT_EQ(breaker.trial_at_ns(), kStart + 2 * kSecond);
}

// --- Backend::kCircuitOpen follows the breaker (SyncCircuitFlag) ---

std::shared_ptr<Backend> BackendWithBreaker(uint32_t failures) {
  auto b = std::make_shared<Backend>("p", *net::ParseNumericAddress("127.0.0.1:1"), "b");
  b->set_breaker(std::make_shared<CircuitBreaker>(Opts(failures)));
  return b;
}

bool FlagSet(const Backend& b) { return (b.unavailable() & Backend::kCircuitOpen) != 0; }

// issue 20.2: worker A's failure opens the breaker, but before A updates the bit the open time
// passes and worker B's half-open trial closes it. A must not leave a closed breaker flagged.
TEST(CircuitFlagTest, OpenerThatLosesTheRaceToATrialLeavesTheBackendAvailable) {
  auto b = BackendWithBreaker(1);
  CircuitBreaker& breaker = *b->breaker();
  ASSERT_EQ(breaker.OnFailure(kStart), CircuitChange::kOpened);  // worker A's transition
  const int64_t trial = *breaker.trial_at_ns();
  ASSERT_TRUE(breaker.AllowRequest(trial));  // worker B
  ASSERT_EQ(breaker.OnSuccess(trial), CircuitChange::kClosed);
  EXPECT_EQ(SyncCircuitFlag(*b, trial), FlagSync::kUnchanged);
  EXPECT_EQ(SyncCircuitFlag(*b, kStart), FlagSync::kUnchanged);  // worker A, late
  EXPECT_FALSE(FlagSet(*b));
  EXPECT_TRUE(b->Available());
}

// The same race inside the sync itself: A has read the open word and is about to set the bit
// when B closes the breaker and syncs. A's re-read sees the change and clears its own write.
TEST(CircuitFlagTest, SyncThatReadAnOpenWordRedoesItWhenATrialClosesMeanwhile) {
  auto b = BackendWithBreaker(1);
  ASSERT_EQ(b->breaker()->OnFailure(kStart), CircuitChange::kOpened);
  struct Race {
    Backend* backend;
    bool done = false;
  } race{b.get()};
  auto worker_b = [](void* arg) {
    auto* r = static_cast<Race*>(arg);
    if (r->done) return;
    r->done = true;
    CircuitBreaker& breaker = *r->backend->breaker();
    const int64_t trial = *breaker.trial_at_ns();
    ASSERT_TRUE(breaker.AllowRequest(trial));
    ASSERT_EQ(breaker.OnSuccess(trial), CircuitChange::kClosed);
    SyncCircuitFlag(*r->backend, trial);
  };
  SyncCircuitFlag(*b, kStart, worker_b, &race);
  EXPECT_TRUE(race.done);
  EXPECT_FALSE(FlagSet(*b));
}

// The other direction: B closed the breaker and, before B cleared the bit, A's failure
// reopened it and A synced. B's late sync must leave the bit set.
TEST(CircuitFlagTest, SyncThatReadAClosedWordRedoesItWhenAFailureReopens) {
  auto b = BackendWithBreaker(1);
  struct Race {
    Backend* backend;
    bool done = false;
  } race{b.get()};
  auto worker_a = [](void* arg) {
    auto* r = static_cast<Race*>(arg);
    if (r->done) return;
    r->done = true;
    ASSERT_EQ(r->backend->breaker()->OnFailure(kStart), CircuitChange::kOpened);
    EXPECT_EQ(SyncCircuitFlag(*r->backend, kStart), FlagSync::kSet);
  };
  SyncCircuitFlag(*b, kStart, worker_a, &race);
  EXPECT_TRUE(race.done);
  EXPECT_TRUE(FlagSet(*b));
  EXPECT_FALSE(b->Available());
}

// The control thread's tick repairs a bit out of step either way, and clears it once the open
// time is over so that a trial can be picked.
TEST(CircuitFlagTest, TickClearsAStaleBitAndOffersTheBackendForItsTrial) {
  auto b = BackendWithBreaker(1);
  b->SetUnavailable(Backend::kCircuitOpen, true);  // left behind on a closed breaker
  EXPECT_EQ(SyncCircuitFlag(*b, kStart), FlagSync::kCleared);
  EXPECT_TRUE(b->Available());

  ASSERT_EQ(b->breaker()->OnFailure(kStart), CircuitChange::kOpened);
  EXPECT_EQ(SyncCircuitFlag(*b, kStart), FlagSync::kSet);
  EXPECT_EQ(SyncCircuitFlag(*b, kStart + kSecond), FlagSync::kUnchanged);
  const int64_t trial = *b->breaker()->trial_at_ns();
  EXPECT_EQ(SyncCircuitFlag(*b, trial - 1), FlagSync::kUnchanged);
  EXPECT_EQ(SyncCircuitFlag(*b, trial), FlagSync::kCleared);
  EXPECT_TRUE(b->Available());
  EXPECT_EQ(b->breaker()->state(trial), State::kHalfOpen);
}

}  // namespace
}  // namespace outrigger::upstream
