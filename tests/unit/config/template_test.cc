// Template: variables found at load, expanded per request; every misuse of '$' refused.
#include "proxy/config/template.h"

#include <gtest/gtest.h>

#include <string>

namespace outrigger::config {
namespace {

TemplateValues Values() {
  TemplateValues v;
  v.Set(TemplateVar::kHost, "example.com");
  v.Set(TemplateVar::kPath, "/a/b");
  v.Set(TemplateVar::kQuery, "x=1");
  v.Set(TemplateVar::kRequestUri, "/api/a/b?x=1");
  v.Set(TemplateVar::kScheme, "https");
  v.Set(TemplateVar::kRemoteAddr, "10.0.0.1");
  v.Set(TemplateVar::kRequestId, "abc");
  return v;
}

std::string Expand(std::string_view text) {
  absl::StatusOr<Template> t = Template::Parse(text);
  EXPECT_TRUE(t.ok()) << t.status().message();
  std::string out;
  if (t.ok()) t->Expand(Values(), &out);
  return out;
}

TEST(TemplateTest, ExpandsEveryVariable) {
  EXPECT_EQ(Expand("$scheme://$host$request_uri"), "https://example.com/api/a/b?x=1");
  EXPECT_EQ(Expand("$path?$query from $remote_addr id $request_id"),
            "/a/b?x=1 from 10.0.0.1 id abc");
  EXPECT_EQ(Expand("${host}name"), "example.comname");
  EXPECT_EQ(Expand("cost: $$5"), "cost: $5");
  EXPECT_EQ(Expand("$host$host"), "example.comexample.com");
}

TEST(TemplateTest, ConstantNeedsNoExpansion) {
  absl::StatusOr<Template> t = Template::Parse("max-age=31536000");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->IsConstant());
  EXPECT_EQ(t->constant(), "max-age=31536000");
  absl::StatusOr<Template> v = Template::Parse("$host");
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->IsConstant());
  EXPECT_EQ(v->source(), "$host");
}

TEST(TemplateTest, SaysWhichVariablesItUses) {
  absl::StatusOr<Template> t = Template::Parse("${host}x $$path $remote_addr");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->Uses(TemplateVar::kHost));
  EXPECT_TRUE(t->Uses(TemplateVar::kRemoteAddr));
  EXPECT_FALSE(t->Uses(TemplateVar::kPath));  // "$$path" is the text "$path"
  EXPECT_FALSE(t->Uses(TemplateVar::kQuery));
}

TEST(TemplateTest, RefusesWhatIsNotAVariable) {
  for (std::string_view bad : {"$hots", "a $ b", "$", "${host", "${nope}", "$Host"}) {
    absl::StatusOr<Template> t = Template::Parse(bad);
    EXPECT_FALSE(t.ok()) << bad;
  }
  EXPECT_EQ(std::string(Template::Parse("x$hots").status().message()),
            "unknown variable $hots in \"x$hots\" (variables: $host $path $query $request_uri "
            "$scheme $remote_addr $request_id; $$ for a '$')");
}

}  // namespace
}  // namespace outrigger::config
