// rewrite: the path forwarded, for each form, matched or not; the query kept.
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace outrigger::plugins {
namespace {

TEST(RewriteTest, StripPrefixOnASegmentBoundary) {
  PluginFixture f("          - rewrite: { strip_prefix: /api }\n");
  for (auto [in, out] :
       std::vector<std::pair<std::string_view, std::string_view>>{{"/api/users?x=1", "/users?x=1"},
                                                                  {"/api", "/"},
                                                                  {"/api?x=1", "/?x=1"},
                                                                  {"/api/", "/"},
                                                                  {"/apix", "/apix"},
                                                                  {"/other/api", "/other/api"}}) {
    EXPECT_FALSE(f.Request(in));
    EXPECT_EQ(f.path(), out) << in;
  }
  PluginFixture slash("          - rewrite: { strip_prefix: /api/ }\n");
  slash.Request("/api/v1");
  EXPECT_EQ(slash.path(), "/v1");
}

TEST(RewriteTest, ReplacePrefixAsNginxProxyPassWithAUri) {
  PluginFixture f("          - rewrite: { replace_prefix: { from: /v1/, to: /internal/v1/ } }\n");
  f.Request("/v1/a/b?c=d");
  EXPECT_EQ(f.path(), "/internal/v1/a/b?c=d");
  f.Request("/v2/a");
  EXPECT_EQ(f.path(), "/v2/a");
}

TEST(RewriteTest, ReplacePrefixByItselfLeavesThePath) {
  PluginFixture same("          - rewrite: { replace_prefix: { from: /v1/, to: /v1/ } }\n");
  same.Request("/v1/a?b=c");
  EXPECT_EQ(same.path(), "/v1/a?b=c");
  EXPECT_EQ(same.ctx().vars().Get(config::TemplateVar::kPath), "/v1/a");
}

TEST(RewriteTest, RegexMatchesThePathAndKeepsTheQuery) {
  PluginFixture f("          - rewrite: { regex: { match: '^/u/(\\d+)$', to: '/users/$1' } }\n");
  f.Request("/u/42?tab=1");
  EXPECT_EQ(f.path(), "/users/42?tab=1");
  f.Request("/u/abc");
  EXPECT_EQ(f.path(), "/u/abc");
  PluginFixture q("          - rewrite: { regex: { match: '^/s/(\\w+)$', to: '/search?q=$1' } }\n");
  q.Request("/s/cats?page=2");
  EXPECT_EQ(q.path(), "/search?q=cats&page=2");
  EXPECT_EQ(q.ctx().vars().Get(config::TemplateVar::kPath), "/search");
  EXPECT_EQ(q.ctx().vars().Get(config::TemplateVar::kQuery), "q=cats&page=2");
}

TEST(RewriteTest, RewritesChainOnEachOthersResult) {
  PluginFixture f(
      "          - rewrite: { strip_prefix: /api }\n"
      "          - rewrite: { replace_prefix: { from: /, to: /v2/ } }\n"
      "          - respond: { body: '$path|$query|$request_uri' }\n");
  ASSERT_TRUE(f.Request("/api/x?y=1"));
  EXPECT_EQ(f.path(), "/v2/x?y=1");
  EXPECT_EQ(f.ctx().answer().body, "/v2/x|y=1|/api/x?y=1");
  EXPECT_EQ(f.layout().plugin_actions.size(), 2u);  // rewrite/rewritten once, respond/answered
}

}  // namespace
}  // namespace outrigger::plugins
