// cors: preflights answered for allowed origins only, the response's fields, Vary.
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace outrigger::plugins {
namespace {

constexpr std::string_view kCors =
    "          - cors: { origins: ['https://App.example.com'], methods: [GET, POST],\n"
    "                    credentials: true, max_age: 10m, expose: [X-Total] }\n";

TEST(CorsTest, AnswersThePreflightOfAnAllowedOrigin) {
  PluginFixture f(kCors);
  ASSERT_TRUE(f.Request("/", "10.0.0.1",
                        {{"Origin", "https://app.example.com"},
                         {"Access-Control-Request-Method", "POST"},
                         {"Access-Control-Request-Headers", "content-type, x-a"}},
                        http::Method::kOptions));
  const LocalAnswer& a = f.ctx().answer();
  EXPECT_EQ(a.status, 204);
  EXPECT_EQ(PluginFixture::Find(a.headers, "Access-Control-Allow-Origin"),
            "https://app.example.com");
  EXPECT_EQ(PluginFixture::Find(a.headers, "Access-Control-Allow-Methods"), "GET, POST");
  EXPECT_EQ(PluginFixture::Find(a.headers, "Access-Control-Allow-Headers"), "content-type, x-a");
  EXPECT_EQ(PluginFixture::Find(a.headers, "Access-Control-Allow-Credentials"), "true");
  EXPECT_EQ(PluginFixture::Find(a.headers, "Access-Control-Max-Age"), "600");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "Vary"), "Origin");
}

TEST(CorsTest, MarksTheResponsesOfAnAllowedOriginOnly) {
  PluginFixture f(kCors);
  ASSERT_FALSE(f.Request("/", "10.0.0.1", {{"Origin", "https://app.example.com"}}));
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().set, "Access-Control-Allow-Origin"),
            "https://app.example.com");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().set, "Access-Control-Expose-Headers"),
            "X-Total");
  ASSERT_FALSE(
      f.Request("/", "10.0.0.1",
                {{"Origin", "https://evil.example.com"}, {"Access-Control-Request-Method", "POST"}},
                http::Method::kOptions));  // goes on, unmarked
  EXPECT_TRUE(f.ctx().response_edits().set.empty());
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "Vary"), "Origin");
  ASSERT_FALSE(f.Request("/"));  // no Origin: not a CORS request
  EXPECT_TRUE(f.ctx().response_edits().set.empty());
}

TEST(CorsTest, AnyOriginWithoutCredentialsSaysStar) {
  PluginFixture f("          - cors: { origins: ['*'], headers: [X-A] }\n");
  ASSERT_TRUE(f.Request("/", "10.0.0.1",
                        {{"Origin", "https://x.test"}, {"Access-Control-Request-Method", "PUT"}},
                        http::Method::kOptions));
  EXPECT_EQ(PluginFixture::Find(f.ctx().answer().headers, "Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(PluginFixture::Find(f.ctx().answer().headers, "Access-Control-Allow-Headers"), "X-A");
  EXPECT_TRUE(f.ctx().response_edits().add.empty());  // no Vary: every origin gets the same
}

}  // namespace
}  // namespace outrigger::plugins
