// Address parsing: what listen and backend addresses accept.
#include "proxy/net/address.h"

#include <gtest/gtest.h>

namespace outrigger::net {
namespace {

class AddressTest : public ::testing::Test {
 protected:
  struct Split {
    std::string host;
    uint16_t port = 0;
  };
  static Split SplitOk(std::string_view text) {
    Split s;
    absl::Status status = SplitHostPort(text, &s.host, &s.port);
    EXPECT_TRUE(status.ok()) << status.message();
    return s;
  }
  static std::string SplitError(std::string_view text) {
    std::string host;
    uint16_t port = 0;
    absl::Status status = SplitHostPort(text, &host, &port);
    EXPECT_FALSE(status.ok()) << text;
    return std::string(status.message());
  }
  static std::string Numeric(std::string_view text) {
    absl::StatusOr<SocketAddress> a = ParseNumericAddress(text);
    return a.ok() ? a->ToString() : "error: " + std::string(a.status().message());
  }
};

TEST_F(AddressTest, SplitsHostAndPort) {
  Split s = SplitOk("example.com:8080");
  EXPECT_EQ(s.host, "example.com");
  EXPECT_EQ(s.port, 8080);
  s = SplitOk("[::1]:443");
  EXPECT_EQ(s.host, "::1");
  EXPECT_EQ(s.port, 443);
  s = SplitOk("10.0.0.1:0");
  EXPECT_EQ(s.host, "10.0.0.1");
  EXPECT_EQ(s.port, 0);
  EXPECT_EQ(SplitOk("h:65535").port, 65535);
}

TEST_F(AddressTest, SplitNamesWhatIsWrong) {
  EXPECT_EQ(SplitError("example.com"), "invalid address \"example.com\": expected HOST:PORT");
  EXPECT_EQ(SplitError(":80"), "invalid address \":80\": empty host");
  EXPECT_EQ(SplitError("h:"), "invalid address \"h:\": port must be a number from 0 to 65535");
  EXPECT_EQ(SplitError("h:65536"),
            "invalid address \"h:65536\": port must be a number from 0 to 65535");
  EXPECT_EQ(SplitError("h:80x"),
            "invalid address \"h:80x\": port must be a number from 0 to 65535");
  EXPECT_EQ(SplitError("::1:80"),
            "invalid address \"::1:80\": write IPv6 addresses as [ADDR]:PORT");
  EXPECT_EQ(SplitError("[::1]80"), "invalid address \"[::1]80\": expected [IPv6]:PORT");
  EXPECT_EQ(SplitError("[::1"), "invalid address \"[::1\": expected [IPv6]:PORT");
  EXPECT_EQ(SplitError("[]:80"), "invalid address \"[]:80\": empty host");
}

TEST_F(AddressTest, ParsesNumericAddressesOfBothFamilies) {
  EXPECT_EQ(Numeric("127.0.0.1:8080"), "127.0.0.1:8080");
  EXPECT_EQ(Numeric("[::1]:8080"), "[::1]:8080");
  EXPECT_EQ(Numeric("[2001:DB8::1]:80"), "[2001:db8::1]:80");
  absl::StatusOr<SocketAddress> v6 = ParseNumericAddress("[::1]:9");
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_EQ(v6->port(), 9);
  EXPECT_EQ(v6->IpString(), "::1");
  EXPECT_EQ(v6->length(), sizeof(sockaddr_in6));
}

TEST_F(AddressTest, NumericParsingRefusesNames) {
  EXPECT_EQ(Numeric("localhost:80"),
            "error: invalid address \"localhost:80\": \"localhost\" is not an IP address");
  EXPECT_EQ(Numeric("1.2.3:80"),
            "error: invalid address \"1.2.3:80\": \"1.2.3\" is not an IP "
            "address");
}

TEST_F(AddressTest, ComparesByValue) {
  EXPECT_EQ(*ParseNumericAddress("10.0.0.1:80"), *ParseNumericAddress("10.0.0.1:80"));
  EXPECT_FALSE(*ParseNumericAddress("10.0.0.1:80") == *ParseNumericAddress("10.0.0.1:81"));
  EXPECT_FALSE(SocketAddress{}.valid());
  EXPECT_TRUE(ParseNumericAddress("10.0.0.1:80")->valid());
}

TEST_F(AddressTest, UnmapsIpv4MappedAddressesOnly) {
  EXPECT_EQ(ParseNumericAddress("[::ffff:127.0.0.1]:80")->Unmapped(),
            *ParseNumericAddress("127.0.0.1:80"));
  EXPECT_EQ(ParseNumericAddress("[::ffff:127.0.0.1]:80")->Unmapped().ToString(), "127.0.0.1:80");
  EXPECT_EQ(ParseNumericAddress("127.0.0.1:80")->Unmapped(), *ParseNumericAddress("127.0.0.1:80"));
  EXPECT_EQ(ParseNumericAddress("[::1]:80")->Unmapped().ToString(), "[::1]:80");
  // IPv4-compatible (::a.b.c.d, deprecated) is not mapped.
  EXPECT_EQ(ParseNumericAddress("[::127.0.0.1]:80")->Unmapped().family(), AF_INET6);
}

TEST_F(AddressTest, ResolvesLocalhostToALoopbackAddress) {
  absl::StatusOr<SocketAddress> a = ResolveAddress("localhost:80");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->port(), 80);
  EXPECT_TRUE(a->IpString() == "127.0.0.1" || a->IpString() == "::1") << a->IpString();
}

TEST_F(AddressTest, ResolvesNumericAddressesWithoutLookup) {
  absl::StatusOr<SocketAddress> a = ResolveAddress("[::1]:8080");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->ToString(), "[::1]:8080");
}

TEST_F(AddressTest, ResolveReportsMalformedInputBeforeLookingUp) {
  absl::StatusOr<SocketAddress> a = ResolveAddress("localhost");
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(), "invalid address \"localhost\": expected HOST:PORT");
}

}  // namespace
}  // namespace outrigger::net
