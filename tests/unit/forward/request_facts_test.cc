#include "proxy/forward/request_facts.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace outrigger::forward {
namespace {

http::RequestHead Head(std::initializer_list<http::Header> headers) {
  http::RequestHead req;
  req.headers = headers;
  return req;
}

config::ListenerConfig Trusting(std::initializer_list<const char*> cidrs) {
  config::ListenerConfig listener;
  for (const char* c : cidrs) listener.trusted_proxies.push_back(*net::ParseCidr(c));
  return listener;
}

config::PoolConfig HashingOn(config::HashOn::Kind kind, std::string name) {
  config::PoolConfig pool;
  pool.hash_on = config::HashOn{kind, std::move(name)};
  return pool;
}

// --- ClientIp ---

TEST(ClientIpTest, WithoutTrustedProxiesThePeerIsTheClientWhateverItForwards) {
  const http::RequestHead req = Head({{"X-Forwarded-For", "1.1.1.1"}});
  EXPECT_EQ(ClientIp(config::ListenerConfig(), "10.0.0.1", req), "10.0.0.1");
}

TEST(ClientIpTest, AnUntrustedPeerIsTheClientWhateverItForwards) {
  const http::RequestHead req = Head({{"X-Forwarded-For", "1.1.1.1"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "192.0.2.9", req), "192.0.2.9");
}

TEST(ClientIpTest, ATrustedPeerWithoutXForwardedForIsTheClient) {
  const http::RequestHead req = Head({{"Host", "a"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", req), "10.0.0.1");
}

TEST(ClientIpTest, ATrustedPeerNamesTheClientInXForwardedFor) {
  const http::RequestHead req = Head({{"x-forwarded-for", " 1.1.1.1 "}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", req), "1.1.1.1");
}

TEST(ClientIpTest, TheRightmostUntrustedEntryWinsOverWhatTheClientClaimedLeftOfIt) {
  // 2.2.2.2 is what the client wrote; 1.1.1.1 is what the trusted hops saw.
  const http::RequestHead req = Head({{"X-Forwarded-For", "2.2.2.2, 1.1.1.1, 10.0.0.7"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", req), "1.1.1.1");
}

TEST(ClientIpTest, WhenEveryEntryIsTrustedTheLeftmostIsTheClient) {
  const http::RequestHead req = Head({{"X-Forwarded-For", "10.0.0.3, 10.0.0.2"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", req), "10.0.0.3");
}

TEST(ClientIpTest, SeveralLinesAreOneListScannedFromTheLastLine) {
  // The client sent the first line; the trusted balancer appended the second.
  const http::RequestHead req =
      Head({{"X-Forwarded-For", "2.2.2.2"}, {"Host", "a"}, {"X-Forwarded-For", "1.1.1.1"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", req), "1.1.1.1");
  const http::RequestHead trusted_last =
      Head({{"X-Forwarded-For", "2.2.2.2"}, {"X-Forwarded-For", "10.0.0.5"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", trusted_last), "2.2.2.2");
}

TEST(ClientIpTest, EmptyEntriesAreSkipped) {
  const http::RequestHead req = Head({{"X-Forwarded-For", "1.1.1.1, ,,"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", req), "1.1.1.1");
  const http::RequestHead only_empty = Head({{"X-Forwarded-For", " , "}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), "10.0.0.1", only_empty), "10.0.0.1");
}

TEST(ClientIpTest, IPv6PeersAndEntriesAreMatchedAgainstTheirPrefixes) {
  const http::RequestHead req = Head({{"X-Forwarded-For", "2001:db8::1, fd00::2"}});
  EXPECT_EQ(ClientIp(Trusting({"::1", "fd00::/8"}), "::1", req), "2001:db8::1");
}

TEST(ClientIpTest, TheAnswerPointsIntoTheHeadOrThePeer) {
  // HashKey's caller tells a key it must copy (one from the head) by where it points.
  const std::string peer = "10.0.0.1";
  const http::RequestHead req = Head({{"X-Forwarded-For", "1.1.1.1"}});
  EXPECT_EQ(ClientIp(Trusting({"10.0.0.0/8"}), peer, req).data(), req.headers[0].value.data());
  EXPECT_EQ(ClientIp(config::ListenerConfig(), peer, req).data(), peer.data());
}

// --- HashKey ---

TEST(HashKeyTest, ClientIpKindIsTheClientsAddressWhateverTheHead) {
  const http::RequestHead req = Head({{"Cookie", "sid=abc"}, {"X-User", "u1"}});
  EXPECT_EQ(HashKey(config::PoolConfig(), "1.1.1.1", req), "1.1.1.1");
  EXPECT_EQ(HashKey(HashingOn(config::HashOn::Kind::kClientIp, ""), "1.1.1.1", req), "1.1.1.1");
}

TEST(HashKeyTest, HeaderKindIsTheFirstSuchFieldsValueMatchedWithoutCase) {
  const config::PoolConfig pool = HashingOn(config::HashOn::Kind::kHeader, "X-User");
  const http::RequestHead req = Head({{"Host", "a"}, {"x-user", "u1"}, {"X-USER", "u2"}});
  EXPECT_EQ(HashKey(pool, "1.1.1.1", req), "u1");
}

TEST(HashKeyTest, AnAbsentHeaderGivesTheEmptyKeyNotTheClientIp) {
  const config::PoolConfig pool = HashingOn(config::HashOn::Kind::kHeader, "X-User");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"X-Users", "u1"}})), "");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({})), "");
}

TEST(HashKeyTest, CookieKindFindsTheNamedCookieAmongOthers) {
  const config::PoolConfig pool = HashingOn(config::HashOn::Kind::kCookie, "sid");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"Cookie", "a=1; sid=abc; b=2"}})), "abc");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"cookie", "sid=abc"}})), "abc");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"Cookie", "a=1;sid=x=y"}})), "x=y");
}

TEST(HashKeyTest, CookieKindSearchesEveryCookieLineInOrder) {
  const config::PoolConfig pool = HashingOn(config::HashOn::Kind::kCookie, "sid");
  const http::RequestHead req =
      Head({{"Cookie", "a=1"}, {"Cookie", "sid=two"}, {"Cookie", "sid=3"}});
  EXPECT_EQ(HashKey(pool, "1.1.1.1", req), "two");
}

TEST(HashKeyTest, CookieNamesMatchWholeAndWithCase) {
  const config::PoolConfig pool = HashingOn(config::HashOn::Kind::kCookie, "sid");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"Cookie", "SID=abc; xsid=1; sidx=2; sid"}})), "");
}

TEST(HashKeyTest, AnAbsentCookieGivesTheEmptyKeyNotTheClientIp) {
  const config::PoolConfig pool = HashingOn(config::HashOn::Kind::kCookie, "sid");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"Cookie", "a=1"}})), "");
  EXPECT_EQ(HashKey(pool, "1.1.1.1", Head({{"Host", "a"}})), "");
}

// --- RouteAllowsUpgrade ---

http::RequestHead UpgradeHead(std::string_view upgrade, bool websocket) {
  http::RequestHead req = Head({{"Connection", "upgrade"}, {"Upgrade", upgrade}});
  req.upgrade = upgrade;
  req.upgrade_websocket = websocket;
  return req;
}

TEST(RouteAllowsUpgradeTest, AWebSocketUpgradeGoesOnARouteThatAllowsIt) {
  EXPECT_TRUE(RouteAllowsUpgrade(config::RouteConfig(), UpgradeHead("websocket", true)));
  EXPECT_TRUE(RouteAllowsUpgrade(config::RouteConfig(), UpgradeHead("WebSocket/13", true)));
}

TEST(RouteAllowsUpgradeTest, ARouteWithoutUpgradesRefusesWebSocket) {
  config::RouteConfig route;
  route.upgrades.clear();
  EXPECT_FALSE(RouteAllowsUpgrade(route, UpgradeHead("websocket", true)));
}

TEST(RouteAllowsUpgradeTest, EveryProtocolAskedForMustBeAllowed) {
  EXPECT_FALSE(RouteAllowsUpgrade(config::RouteConfig(), UpgradeHead("h2c, websocket", true)));
  http::RequestHead two_lines = UpgradeHead("websocket", true);
  two_lines.headers.push_back({"Upgrade", "h2c"});
  EXPECT_FALSE(RouteAllowsUpgrade(config::RouteConfig(), two_lines));
}

TEST(RouteAllowsUpgradeTest, OnlyWebSocketIsTunnelledEvenWhereTheRouteListsMore) {
  config::RouteConfig route;
  route.upgrades = {"websocket", "h2c"};
  EXPECT_FALSE(RouteAllowsUpgrade(route, UpgradeHead("h2c", false)));
  EXPECT_TRUE(RouteAllowsUpgrade(route, UpgradeHead("h2c, websocket", true)));
}

// --- ExceedsMaxBody ---

http::RequestHead Body(http::BodyKind kind, uint64_t length) {
  http::RequestHead req;
  req.body = kind;
  req.content_length = length;
  return req;
}

config::RouteConfig MaxBody(uint64_t max_body) {
  config::RouteConfig route;
  route.max_body = max_body;
  return route;
}

TEST(ExceedsMaxBodyTest, AContentLengthIsRefusedOnlyAboveTheLimit) {
  EXPECT_FALSE(ExceedsMaxBody(MaxBody(100), Body(http::BodyKind::kContentLength, 99)));
  EXPECT_FALSE(ExceedsMaxBody(MaxBody(100), Body(http::BodyKind::kContentLength, 100)));
  EXPECT_TRUE(ExceedsMaxBody(MaxBody(100), Body(http::BodyKind::kContentLength, 101)));
}

TEST(ExceedsMaxBodyTest, ZeroMeansNoLimit) {
  EXPECT_FALSE(ExceedsMaxBody(MaxBody(0), Body(http::BodyKind::kContentLength, UINT64_MAX)));
}

TEST(ExceedsMaxBodyTest, TheDefaultLimitIsTenMebibytes) {
  const config::RouteConfig route;
  EXPECT_FALSE(ExceedsMaxBody(route, Body(http::BodyKind::kContentLength, 10u << 20)));
  EXPECT_TRUE(ExceedsMaxBody(route, Body(http::BodyKind::kContentLength, (10u << 20) + 1)));
}

TEST(ExceedsMaxBodyTest, AChunkedBodyIsNeverRefusedUpFront) {
  // The pump holds it to the limit as it streams; its length is unknown here.
  EXPECT_FALSE(ExceedsMaxBody(MaxBody(1), Body(http::BodyKind::kChunked, 0)));
  EXPECT_FALSE(ExceedsMaxBody(MaxBody(1), Body(http::BodyKind::kChunked, 5)));
  EXPECT_FALSE(ExceedsMaxBody(MaxBody(1), Body(http::BodyKind::kNone, 0)));
}

// --- HasBody ---

TEST(HasBodyTest, AChunkedOrNonEmptyBodyCountsAnEmptyOneDoesNot) {
  EXPECT_TRUE(HasBody(Body(http::BodyKind::kChunked, 0)));
  EXPECT_TRUE(HasBody(Body(http::BodyKind::kContentLength, 1)));
  EXPECT_FALSE(HasBody(Body(http::BodyKind::kContentLength, 0)));
  EXPECT_FALSE(HasBody(Body(http::BodyKind::kNone, 0)));
}

}  // namespace
}  // namespace outrigger::forward
