#include "proxy/base/spares.h"

#include <gtest/gtest.h>

#include <memory>

namespace outrigger::base {
namespace {

TEST(SparesTest, TakeWithoutSparesGivesNull) {
  Spares<std::unique_ptr<int>> spares(2);
  EXPECT_EQ(spares.Take(), nullptr);
  EXPECT_EQ(spares.size(), 0u);
}

TEST(SparesTest, GivenSparesComeBackMostRecentFirst) {
  Spares<std::unique_ptr<int>> spares(2);
  auto a = std::make_unique<int>(1);
  auto b = std::make_unique<int>(2);
  int* first = a.get();
  int* second = b.get();
  spares.Give(std::move(a));
  spares.Give(std::move(b));
  EXPECT_EQ(spares.size(), 2u);
  EXPECT_EQ(spares.Take().get(), second);
  EXPECT_EQ(spares.Take().get(), first);
  EXPECT_EQ(spares.Take(), nullptr);
}

TEST(SparesTest, BeyondTheMaximumGivenOnesAreFreed) {
  Spares<std::unique_ptr<int>> spares(1);
  auto a = std::make_unique<int>(1);
  int* kept = a.get();
  spares.Give(std::move(a));
  spares.Give(std::make_unique<int>(2));  // over the maximum: freed (ASan would see a leak)
  spares.Give(nullptr);                   // ignored
  EXPECT_EQ(spares.size(), 1u);
  EXPECT_EQ(spares.Take().get(), kept);
}

}  // namespace
}  // namespace outrigger::base
