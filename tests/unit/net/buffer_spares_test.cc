#include "proxy/net/buffer_spares.h"

#include <gtest/gtest.h>

namespace outrigger::net {
namespace {

TEST(BufferSparesTest, TakeWithoutSparesMakesANewEmptyBuffer) {
  BufferSpares spares(2);
  EvBufferPtr buffer = spares.Take();
  ASSERT_NE(buffer, nullptr);
  EXPECT_EQ(evbuffer_get_length(buffer.get()), 0u);
  EXPECT_EQ(spares.size(), 0u);
}

TEST(BufferSparesTest, GivenBuffersComeBackMostRecentFirst) {
  BufferSpares spares(2);
  EvBufferPtr a = spares.Take();
  EvBufferPtr b = spares.Take();
  evbuffer* first = a.get();
  evbuffer* second = b.get();
  spares.Give(std::move(a));
  spares.Give(std::move(b));
  EXPECT_EQ(spares.size(), 2u);
  EXPECT_EQ(spares.Take().get(), second);
  EXPECT_EQ(spares.Take().get(), first);
  EXPECT_EQ(spares.size(), 0u);
}

TEST(BufferSparesTest, BeyondTheMaximumGivenBuffersAreFreed) {
  BufferSpares spares(1);
  EvBufferPtr a = spares.Take();
  EvBufferPtr b = spares.Take();
  evbuffer* first = a.get();
  spares.Give(std::move(a));
  spares.Give(std::move(b));  // over the maximum: freed (the ASan build would see a leak)
  EXPECT_EQ(spares.size(), 1u);
  EXPECT_EQ(spares.Take().get(), first);
  EXPECT_EQ(spares.size(), 0u);
}

}  // namespace
}  // namespace outrigger::net
