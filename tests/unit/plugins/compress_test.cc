// compress: which responses it encodes and with what, and the fields it changes.
#include <gtest/gtest.h>

#include "plugin_fixture.h"

namespace outrigger::plugins {
namespace {

http::ResponseHead Html(std::vector<http::Header> more = {}, uint64_t length = 4096) {
  http::ResponseHead r;
  r.status = 200;
  r.body = http::BodyKind::kContentLength;
  r.content_length = length;
  r.headers = {{"Content-Type", "Text/HTML; charset=utf-8"}, {"Content-Length", "4096"}};
  r.headers.insert(r.headers.end(), more.begin(), more.end());
  return r;
}

std::string_view Encoding(PluginFixture& f) {
  return PluginFixture::Find(f.ctx().response_edits().set, "Content-Encoding");
}

TEST(CompressTest, PicksTheFirstListedCodingTheClientAccepts) {
  PluginFixture f("          - compress: {}\n");
  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip, deflate, br"}});
  f.Response(Html());
  EXPECT_EQ(Encoding(f), "br");
  ASSERT_NE(f.ctx().encoder(), nullptr);
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "Vary"), "Accept-Encoding");
  f.ctx().EndBody();

  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "br;q=0, gzip;q=0.5"}});
  f.Response(Html());
  EXPECT_EQ(Encoding(f), "gzip");
  f.ctx().EndBody();

  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "*;q=0.1"}});
  f.Response(Html());
  EXPECT_EQ(Encoding(f), "br");
  f.ctx().EndBody();

  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip;q=0, br;q=0.000, identity"}});
  f.Response(Html());
  EXPECT_EQ(Encoding(f), "");
  EXPECT_EQ(f.ctx().encoder(), nullptr);
  // It could have been encoded for another client: caches must keep them apart.
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "Vary"), "Accept-Encoding");
}

TEST(CompressTest, LeavesAloneWhatMustNotOrNeedNotBeEncoded) {
  PluginFixture f("          - compress: { min_size: 1KiB, types: ['text/*'] }\n");
  const std::vector<http::ResponseHead> skipped = {
      Html({{"Content-Encoding", "gzip"}}),
      Html({{"Cache-Control", "public, No-Transform"}}),
      Html({{"Content-Range", "bytes 0-9/100"}}),
      Html({}, 1023),
  };
  for (const http::ResponseHead& r : skipped) {
    f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}});
    f.Response(r);
    EXPECT_EQ(Encoding(f), "");
    EXPECT_EQ(f.ctx().encoder(), nullptr);
    EXPECT_TRUE(f.ctx().response_edits().add.empty());  // nor does it vary
  }
  http::ResponseHead json = Html();
  json.headers[0].value = "application/json";
  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}});
  f.Response(json);
  EXPECT_EQ(Encoding(f), "");

  http::ResponseHead chunked = Html({}, 0);
  chunked.body = http::BodyKind::kChunked;  // of unknown size: worth encoding
  chunked.headers[1] = {"Transfer-Encoding", "chunked"};
  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}});
  f.Response(chunked);
  EXPECT_EQ(Encoding(f), "gzip");
  f.ctx().EndBody();

  // A HEAD's response has no body but its GET's fields: it varies as the GET would.
  http::ResponseHead head = Html();
  head.body = http::BodyKind::kNone;
  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}}, http::Method::kHead);
  f.Response(head, /*encodable=*/false);
  EXPECT_EQ(Encoding(f), "");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "Vary"), "Accept-Encoding");

  // HTTP/1.0: the exchange cannot re-frame; the response still varies.
  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}});
  f.Response(Html(), /*encodable=*/false);
  EXPECT_EQ(Encoding(f), "");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().add, "Vary"), "Accept-Encoding");
}

TEST(CompressTest, WeakensAStrongEtagAndKeepsAVaryThatSaysItAlready) {
  PluginFixture f("          - compress: { encodings: [gzip] }\n");
  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}});
  f.Response(Html({{"ETag", "\"v1\""}, {"Vary", "Origin, accept-encoding"}}));
  EXPECT_EQ(Encoding(f), "gzip");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().set, "ETag"), "W/\"v1\"");
  EXPECT_TRUE(f.ctx().response_edits().add.empty());
  f.ctx().EndBody();

  f.Request("/", "192.0.2.1", {{"Accept-Encoding", "br"}});  // gzip only here
  f.Response(Html({{"ETag", "W/\"v1\""}}));
  EXPECT_EQ(Encoding(f), "");
  EXPECT_EQ(PluginFixture::Find(f.ctx().response_edits().set, "ETag"), "");
}

TEST(CompressTest, CountsEachEncodedResponse) {
  PluginFixture f("          - compress: {}\n");
  ASSERT_EQ(f.layout().plugin_actions.size(), 2u);
  EXPECT_EQ(f.layout().plugin_actions[0].action, "br");
  EXPECT_EQ(f.layout().plugin_actions[1].action, "gzip");
}

TEST(CompressTest, NeverEncodesALocalAnswer) {
  PluginFixture f(
      "          - compress: {}\n"
      "          - respond: { status: 200, body: 'hello', content_type: text/html }\n");
  ASSERT_TRUE(f.Request("/", "192.0.2.1", {{"Accept-Encoding", "gzip"}}));
  f.Response(Html());
  EXPECT_EQ(f.ctx().encoder(), nullptr);
}

}  // namespace
}  // namespace outrigger::plugins
