// Cidr: which peers are trusted balancers.
#include "proxy/net/cidr.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

namespace outrigger::net {
namespace {

class CidrTest : public ::testing::Test {
 protected:
  // REQUIRES: `text` is a valid CIDR.
  static Cidr Prefix(std::string_view text) {
    absl::StatusOr<Cidr> cidr = ParseCidr(text);
    EXPECT_TRUE(cidr.ok()) << cidr.status().message();
    return cidr.ok() ? *cidr : Cidr{};
  }

  static std::string ErrorOf(std::string_view text) {
    absl::StatusOr<Cidr> cidr = ParseCidr(text);
    EXPECT_FALSE(cidr.ok()) << text << " parsed as " << cidr->ToString();
    return cidr.ok() ? "" : std::string(cidr.status().message());
  }

  static SocketAddress Address(std::string_view text) {
    absl::StatusOr<SocketAddress> a = ParseNumericAddress(text);
    EXPECT_TRUE(a.ok()) << a.status().message();
    return a.ok() ? *a : SocketAddress{};
  }
};

TEST_F(CidrTest, ContainsAddressesInsideAnIpv4Prefix) {
  Cidr ten = Prefix("10.0.0.0/8");
  EXPECT_TRUE(ten.Contains("10.0.0.0"));
  EXPECT_TRUE(ten.Contains("10.255.255.255"));
  EXPECT_FALSE(ten.Contains("11.0.0.0"));
  EXPECT_FALSE(ten.Contains("9.255.255.255"));
}

TEST_F(CidrTest, HandlesPrefixesThatAreNotByteAligned) {
  Cidr c = Prefix("172.16.0.0/12");
  EXPECT_TRUE(c.Contains("172.16.0.1"));
  EXPECT_TRUE(c.Contains("172.31.255.255"));
  EXPECT_FALSE(c.Contains("172.32.0.0"));
  EXPECT_FALSE(c.Contains("172.15.255.255"));
}

TEST_F(CidrTest, TreatsABareAddressAsAHostPrefix) {
  Cidr one = Prefix("192.168.1.7");
  EXPECT_EQ(one.ToString(), "192.168.1.7/32");
  EXPECT_TRUE(one.Contains("192.168.1.7"));
  EXPECT_FALSE(one.Contains("192.168.1.8"));
  Cidr loopback6 = Prefix("::1");
  EXPECT_EQ(loopback6.ToString(), "::1/128");
  EXPECT_TRUE(loopback6.Contains("::1"));
  EXPECT_FALSE(loopback6.Contains("::2"));
}

TEST_F(CidrTest, ContainsAddressesInsideAnIpv6Prefix) {
  Cidr ula = Prefix("fd00::/8");
  EXPECT_TRUE(ula.Contains("fd12:3456::1"));
  EXPECT_FALSE(ula.Contains("fe80::1"));
  EXPECT_EQ(ula.ToString(), "fd00::/8");
}

TEST_F(CidrTest, ZeroLengthPrefixContainsItsWholeFamily) {
  Cidr all4 = Prefix("0.0.0.0/0");
  EXPECT_TRUE(all4.Contains("1.2.3.4"));
  EXPECT_FALSE(all4.Contains("::1"));
  Cidr all6 = Prefix("::/0");
  EXPECT_TRUE(all6.Contains("2001:db8::1"));
  EXPECT_FALSE(all6.Contains("1.2.3.4"));
}

TEST_F(CidrTest, MatchesIpv4MappedIpv6PeersAgainstIpv4Prefixes) {
  Cidr ten = Prefix("10.0.0.0/8");
  EXPECT_TRUE(ten.Contains("::ffff:10.1.2.3"));
  EXPECT_FALSE(ten.Contains("::ffff:11.1.2.3"));
  EXPECT_TRUE(ten.Contains(Address("[::ffff:10.1.2.3]:443")));
}

TEST_F(CidrTest, MatchesSocketAddressesIgnoringThePort) {
  Cidr c = Prefix("127.0.0.0/8");
  EXPECT_TRUE(c.Contains(Address("127.0.0.1:80")));
  EXPECT_TRUE(c.Contains(Address("127.9.9.9:65535")));
  EXPECT_FALSE(c.Contains(Address("[::1]:80")));
  EXPECT_FALSE(c.Contains(SocketAddress{}));
}

TEST_F(CidrTest, DoesNotContainTextThatIsNotAnIp) {
  Cidr c = Prefix("10.0.0.0/8");
  EXPECT_FALSE(c.Contains(""));
  EXPECT_FALSE(c.Contains("10.0.0"));
  EXPECT_FALSE(c.Contains("10.0.0.1:80"));
  EXPECT_FALSE(c.Contains(std::string(100, '1')));
}

TEST_F(CidrTest, RejectsHostBitsBeyondThePrefix) {
  EXPECT_EQ(ErrorOf("10.0.0.1/8"),
            "invalid CIDR \"10.0.0.1/8\": host bits are set beyond the /8 prefix; did you mean "
            "10.0.0.0/8?");
  EXPECT_EQ(ErrorOf("fd00::1/8"),
            "invalid CIDR \"fd00::1/8\": host bits are set beyond the /8 prefix; did you mean "
            "fd00::/8?");
}

TEST_F(CidrTest, RejectsBadPrefixLengths) {
  EXPECT_EQ(ErrorOf("10.0.0.0/33"),
            "invalid CIDR \"10.0.0.0/33\": prefix length must be a number from 0 to 32");
  EXPECT_EQ(ErrorOf("::/129"),
            "invalid CIDR \"::/129\": prefix length must be a number from 0 to 128");
  EXPECT_EQ(ErrorOf("10.0.0.0/"),
            "invalid CIDR \"10.0.0.0/\": prefix length must be a number from 0 to 32");
  EXPECT_EQ(ErrorOf("10.0.0.0/-1"),
            "invalid CIDR \"10.0.0.0/-1\": prefix length must be a number from 0 to 32");
  EXPECT_EQ(ErrorOf("10.0.0.0/8x"),
            "invalid CIDR \"10.0.0.0/8x\": prefix length must be a number from 0 to 32");
}

TEST_F(CidrTest, RejectsWhatIsNotAnAddress) {
  EXPECT_EQ(ErrorOf("example.com/8"),
            "invalid CIDR \"example.com/8\": \"example.com\" is not an IP address");
  EXPECT_EQ(ErrorOf("10.0.0/8"), "invalid CIDR \"10.0.0/8\": \"10.0.0\" is not an IP address");
  EXPECT_EQ(ErrorOf(""),
            "invalid CIDR \"\": expected an IP address or ADDRESS/LENGTH, e.g. 10.0.0.0/8");
  EXPECT_EQ(ErrorOf("/8"),
            "invalid CIDR \"/8\": expected an IP address or ADDRESS/LENGTH, e.g. 10.0.0.0/8");
}

}  // namespace
}  // namespace outrigger::net
