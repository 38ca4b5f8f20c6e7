#include "proxy/cli/probe.h"

#include <gtest/gtest.h>

namespace outrigger::cli {
namespace {

TEST(ParseProbeUrl, HostPortPathAndDefaults) {
  auto t = ParseProbeUrl("http://127.0.0.1:9901/health/ready");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->host, "127.0.0.1");
  EXPECT_EQ(t->port, "9901");
  EXPECT_EQ(t->path, "/health/ready");
  EXPECT_EQ(t->host_header, "127.0.0.1:9901");
  auto bare = ParseProbeUrl("http://localhost");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->port, "80");
  EXPECT_EQ(bare->path, "/");
  auto query = ParseProbeUrl("http://localhost?x=1");
  ASSERT_TRUE(query.ok());
  EXPECT_EQ(query->path, "/?x=1");
  auto v6 = ParseProbeUrl("http://[::1]:8080/a");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, "8080");
  EXPECT_EQ(v6->host_header, "[::1]:8080");
}

TEST(ParseProbeUrl, RefusesWhatItCannotProbe) {
  for (const char* url : {"https://127.0.0.1/", "ftp://x/", "127.0.0.1:80/", "http://",
                          "http://u:p@127.0.0.1/", "http://127.0.0.1:0/", "http://127.0.0.1:x/",
                          "http://127.0.0.1:65536/", "http://[::1/", "http://[::1]x/"}) {
    EXPECT_FALSE(ParseProbeUrl(url).ok()) << url;
  }
}

}  // namespace
}  // namespace outrigger::cli
