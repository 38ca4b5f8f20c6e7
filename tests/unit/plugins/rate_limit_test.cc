// rate_limit: 429 with Retry-After past the burst, keys apart, the RateLimit fields, a
// header key, and the state kept by the next snapshot's plugin when its settings are equal.
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace outrigger::plugins {
namespace {

constexpr std::string_view kLimit = "          - rate_limit: { rate: 3/m, burst: 3 }\n";

TEST(RateLimitTest, AnswersTooManyRequestsPastTheBurst) {
  PluginFixture f(kLimit);
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(f.Request("/", "10.0.0.1")) << i;
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "RateLimit"),
            "\"client_ip\";r=0;t=60");
  ASSERT_TRUE(f.Request("/", "10.0.0.1"));
  EXPECT_EQ(f.ctx().answer().status, 429);
  EXPECT_EQ(PluginFixture::Find(f.ctx().answer().headers, "Retry-After"), "20");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "RateLimit-Policy"),
            "\"client_ip\";q=3;w=60");
  EXPECT_FALSE(f.Request("/", "10.0.0.2"));  // another client
}

TEST(RateLimitTest, KeysOnAHeaderAndSkipsRequestsWithoutIt) {
  PluginFixture f(
      "          - rate_limit: { key: 'header:X-Api-Key', rate: 1/h, headers: false }\n");
  EXPECT_FALSE(f.Request("/", "10.0.0.1", {{"x-api-key", "k1"}}));
  EXPECT_TRUE(f.ctx().response_edits().add.empty());
  EXPECT_TRUE(f.Request("/", "10.0.0.9", {{"X-Api-Key", "k1"}}));
  EXPECT_FALSE(f.Request("/", "10.0.0.1", {{"X-Api-Key", "k2"}}));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(f.Request("/", "10.0.0.1"));  // no key: no limit
}

TEST(RateLimitTest, ANewSnapshotKeepsTheStateOfAnUnchangedLimit) {
  PluginFixture first(kLimit);
  for (int i = 0; i < 3; ++i) first.Request("/", "10.0.0.1");
  PluginFixture same(kLimit, &first.chain());
  EXPECT_TRUE(same.Request("/", "10.0.0.1"));  // still limited
  // Matched by kind and settings, not position: a plugin added above it changes nothing.
  PluginFixture moved(
      std::string("          - headers: { request: { set: { A: b } } }\n") + std::string(kLimit),
      &first.chain());
  EXPECT_TRUE(moved.Request("/", "10.0.0.1"));
  PluginFixture changed("          - rate_limit: { rate: 4/m }\n", &first.chain());
  EXPECT_FALSE(changed.Request("/", "10.0.0.1"));  // new settings, new state
}

}  // namespace
}  // namespace outrigger::plugins
