#include "proxy/http/https_redirect.h"

#include <gtest/gtest.h>

namespace outrigger::http {
namespace {

std::string Location(std::string_view authority, uint16_t port, std::string_view target) {
  std::string out = "kept|";
  if (!AppendHttpsLocation(authority, port, target, &out)) return "none:" + out;
  return out;
}

TEST(HttpsRedirect, DropsTheClientsPortAndAddsTheTlsOneUnless443) {
  EXPECT_EQ(Location("a.test", 443, "/x?y=1"), "kept|Location: https://a.test/x?y=1\r\n");
  EXPECT_EQ(Location("a.test:8080", 443, "/"), "kept|Location: https://a.test/\r\n");
  EXPECT_EQ(Location("a.test:8080", 8443, "/p"), "kept|Location: https://a.test:8443/p\r\n");
  EXPECT_EQ(Location("a.test", 1, "/"), "kept|Location: https://a.test:1/\r\n");
  EXPECT_EQ(Location("a.test", 65535, "/"), "kept|Location: https://a.test:65535/\r\n");
}

TEST(HttpsRedirect, Ipv6LiteralsKeepTheirBrackets) {
  EXPECT_EQ(Location("[::1]:8080", 8443, "/"), "kept|Location: https://[::1]:8443/\r\n");
  EXPECT_EQ(Location("[2001:db8::1]", 443, "/a"), "kept|Location: https://[2001:db8::1]/a\r\n");
}

TEST(HttpsRedirect, NonOriginTargetsBecomeTheRoot) {
  EXPECT_EQ(Location("a.test", 443, "*"), "kept|Location: https://a.test/\r\n");
  EXPECT_EQ(Location("a.test", 443, ""), "kept|Location: https://a.test/\r\n");
}

TEST(HttpsRedirect, NoHostNoLocation) {
  EXPECT_EQ(Location("", 443, "/"), "none:kept|");
  EXPECT_EQ(Location(":80", 443, "/"), "none:kept|");
}

TEST(HttpsRedirect, StatusKeepsTheMethodOfAnythingButGetAndHead) {
  EXPECT_EQ(HttpsRedirectStatus(true), 301);
  EXPECT_EQ(HttpsRedirectStatus(false), 308);
}

}  // namespace
}  // namespace outrigger::http
