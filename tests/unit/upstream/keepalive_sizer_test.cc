#include "proxy/upstream/keepalive_sizer.h"

#include <gtest/gtest.h>

#include <vector>

namespace outrigger::upstream {
namespace {

constexpr size_t kWindow = KeepaliveSizer::kWindowTicks;

// Ticks with `idle` connections idle and none taken; returns how many were closed in all.
size_t QuietTicks(KeepaliveSizer& sizer, size_t& idle, size_t ticks) {
  size_t closed = 0;
  for (size_t i = 0; i < ticks; ++i) {
    size_t n = sizer.Tick(idle);
    EXPECT_LE(n, idle);
    idle -= n;
    closed += n;
  }
  return closed;
}

TEST(KeepaliveSizerTest, ANewPoolKeepsEverythingForAWholeWindow) {
  KeepaliveSizer sizer;
  size_t idle = 50;
  EXPECT_EQ(QuietTicks(sizer, idle, kWindow), 0u);
}

TEST(KeepaliveSizerTest, ConnectionsUnusedForAWindowAreClosedALittleAtATime) {
  KeepaliveSizer sizer;
  size_t idle = 40;
  QuietTicks(sizer, idle, kWindow);  // the first window's lows are now known: 40
  size_t first = sizer.Tick(idle);
  EXPECT_EQ(first, 10u);  // a quarter
  idle -= first;
  std::vector<size_t> steps;
  while (idle > 0 && steps.size() < 100) {
    size_t n = sizer.Tick(idle);
    ASSERT_GT(n, 0u);
    ASSERT_LE(n, (idle + 3) / 4);
    idle -= n;
    steps.push_back(n);
  }
  EXPECT_EQ(idle, 0u);  // nothing took them: all go, over several ticks
  EXPECT_GT(steps.size(), 5u);
}

TEST(KeepaliveSizerTest, ASteadyLoadThatTakesEveryConnectionKeepsThemAll) {
  KeepaliveSizer sizer;
  size_t idle = 50;
  for (size_t tick = 0; tick < 5 * kWindow; ++tick) {
    // 50 concurrent requests take every idle connection once a tick, then return them.
    for (size_t left = 50; left-- > 0;) sizer.OnTake(left);
    ASSERT_EQ(sizer.Tick(idle), 0u) << "tick " << tick;
  }
}

TEST(KeepaliveSizerTest, KeepsWhatThePeakOfTheWindowNeeded) {
  KeepaliveSizer sizer;
  size_t idle = 50;
  // 30 in use at the busiest moment of each tick: 20 were never needed.
  for (size_t tick = 0; tick < 6 * kWindow; ++tick) {
    sizer.OnTake(idle - 30);
    idle -= sizer.Tick(idle);
  }
  EXPECT_EQ(idle, 30u);
}

TEST(KeepaliveSizerTest, OneBusyMomentInTheWindowKeepsTheConnections) {
  KeepaliveSizer sizer;
  size_t idle = 40;
  QuietTicks(sizer, idle, kWindow);
  sizer.OnTake(0);  // a burst took all 40 in this tick
  for (size_t tick = 0; tick < kWindow; ++tick) EXPECT_EQ(sizer.Tick(idle), 0u) << tick;
  EXPECT_GT(sizer.Tick(idle), 0u);  // the burst has left the window
}

}  // namespace
}  // namespace outrigger::upstream
