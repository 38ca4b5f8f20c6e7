#include "proxy/import_nginx/values.h"

#include <gtest/gtest.h>

namespace outrigger::import_nginx {
namespace {

TEST(Values, NginxTimes) {
  EXPECT_EQ(ParseNginxTime("30"), 30'000);
  EXPECT_EQ(ParseNginxTime("30s"), 30'000);
  EXPECT_EQ(ParseNginxTime("500ms"), 500);
  EXPECT_EQ(ParseNginxTime("1m30s"), 90'000);
  EXPECT_EQ(ParseNginxTime("1h"), 3'600'000);
  EXPECT_EQ(ParseNginxTime("1d"), 86'400'000);
  EXPECT_EQ(ParseNginxTime(""), std::nullopt);
  EXPECT_EQ(ParseNginxTime("soon"), std::nullopt);
  EXPECT_EQ(ParseNginxTime("1m30"), std::nullopt);
  EXPECT_EQ(FormatDuration(90'000), "90s");
  EXPECT_EQ(FormatDuration(120'000), "2m");
  EXPECT_EQ(FormatDuration(3'600'000), "1h");
  EXPECT_EQ(FormatDuration(1500), "1500ms");
  EXPECT_EQ(FormatDuration(0), "0s");
}

TEST(Values, NginxSizes) {
  EXPECT_EQ(ParseNginxSize("1024"), 1024u);
  EXPECT_EQ(ParseNginxSize("8k"), 8192u);
  EXPECT_EQ(ParseNginxSize("10M"), 10u << 20);
  EXPECT_EQ(ParseNginxSize("1g"), 1u << 30);
  EXPECT_EQ(ParseNginxSize("0"), 0u);
  EXPECT_EQ(ParseNginxSize("big"), std::nullopt);
  EXPECT_EQ(FormatByteSize(10u << 20), "10MiB");
  EXPECT_EQ(FormatByteSize(8192), "8KiB");
  EXPECT_EQ(FormatByteSize(1000), "1000");
  EXPECT_EQ(FormatByteSize(0), "0");
}

TEST(Values, ListenAddresses) {
  EXPECT_EQ(ListenAddress("80"), "0.0.0.0:80");
  EXPECT_EQ(ListenAddress("*:8080"), "0.0.0.0:8080");
  EXPECT_EQ(ListenAddress("127.0.0.1"), "127.0.0.1:80");
  EXPECT_EQ(ListenAddress("127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(ListenAddress("[::]:80"), "[::]:80");
  EXPECT_EQ(ListenAddress("localhost:81"), "127.0.0.1:81");
  EXPECT_EQ(ListenAddress("unix:/run/x.sock"), std::nullopt);
  EXPECT_EQ(ListenAddress("example.com:80"), std::nullopt);
  EXPECT_EQ(ListenAddress("127.0.0.1:70000"), std::nullopt);
}

TEST(Values, ServerAddresses) {
  EXPECT_EQ(ServerAddress("10.0.0.1"), "10.0.0.1:80");
  EXPECT_EQ(ServerAddress("api.internal:8080"), "api.internal:8080");
  EXPECT_EQ(ServerAddress("[::1]:9000"), "[::1]:9000");
  EXPECT_EQ(ServerAddress("unix:/tmp/app.sock"), std::nullopt);
}

TEST(Values, QuoteEscapes) {
  EXPECT_EQ(Quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Quote("/a\nb:\t\x7f"), "\"/a\\x0ab:\\x09\\x7f\"");  // control bytes stay exact
}

}  // namespace
}  // namespace outrigger::import_nginx
