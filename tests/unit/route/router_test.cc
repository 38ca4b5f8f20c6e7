// Router: nginx-style host then longest-prefix matching.
#include "proxy/route/router.h"

#include <gtest/gtest.h>

#include <string>

namespace outrigger::route {
namespace {

class RouterTest : public ::testing::Test {
 protected:
  // Adds a route to `pool`; `host` empty means any host.
  void Route(std::string prefix, std::string host, std::string pool) {
    config::RouteConfig r;
    r.path_prefix = std::move(prefix);
    if (!host.empty()) r.host = std::move(host);
    r.pool = std::move(pool);
    routes_.push_back(std::move(r));
  }

  // The pool of the route that serves the request, or "404".
  std::string Pool(std::string_view host, std::string_view path) {
    Router router(routes_);
    std::optional<size_t> i = router.Match(host, path);
    return i ? routes_[*i].pool : "404";
  }

 private:
  std::vector<config::RouteConfig> routes_;
};

TEST_F(RouterTest, LongestPrefixWins) {
  Route("/", "", "root");
  Route("/api/v2", "", "v2");
  Route("/api", "", "api");
  EXPECT_EQ(Pool("x", "/"), "root");
  EXPECT_EQ(Pool("x", "/index.html"), "root");
  EXPECT_EQ(Pool("x", "/api"), "api");
  EXPECT_EQ(Pool("x", "/api/v1/users"), "api");
  EXPECT_EQ(Pool("x", "/api/v2/users"), "v2");
}

TEST_F(RouterTest, PrefixIsPlainStringPrefixIncludingTheQuery) {
  Route("/api", "", "api");
  Route("/search?q=", "", "search");
  EXPECT_EQ(Pool("x", "/apiv2"), "api");
  EXPECT_EQ(Pool("x", "/search?q=cats"), "search");
  EXPECT_EQ(Pool("x", "/search"), "404");
}

TEST_F(RouterTest, HostExactMatchBeatsHostlessRoutes) {
  Route("/api/long/prefix", "", "any");
  Route("/", "api.example.com", "api");
  EXPECT_EQ(Pool("api.example.com", "/api/long/prefix/x"), "api");
  EXPECT_EQ(Pool("www.example.com", "/api/long/prefix/x"), "any");
}

TEST_F(RouterTest, FallsBackToHostlessRoutesWhenNoHostRouteMatchesThePath) {
  Route("/admin", "api.example.com", "admin");
  Route("/", "", "default");
  EXPECT_EQ(Pool("api.example.com", "/admin/x"), "admin");
  EXPECT_EQ(Pool("api.example.com", "/other"), "default");
}

TEST_F(RouterTest, LongestPrefixWinsAmongHostRoutes) {
  Route("/", "api.example.com", "api-root");
  Route("/v2", "api.example.com", "api-v2");
  EXPECT_EQ(Pool("api.example.com", "/v2/x"), "api-v2");
  EXPECT_EQ(Pool("api.example.com", "/v1/x"), "api-root");
}

TEST_F(RouterTest, IgnoresHostPortCaseAndTrailingDot) {
  Route("/", "api.example.com", "api");
  Route("/", "", "default");
  EXPECT_EQ(Pool("api.example.com:8080", "/"), "api");
  EXPECT_EQ(Pool("API.Example.COM", "/"), "api");
  EXPECT_EQ(Pool("Api.Example.Com.:443", "/"), "api");
  EXPECT_EQ(Pool("api.example.com.evil", "/"), "default");
  EXPECT_EQ(Pool("", "/"), "default");
}

TEST_F(RouterTest, NormalizesTheConfiguredHostToo) {
  Route("/", "API.Example.com.", "api");
  EXPECT_EQ(Pool("api.example.com", "/"), "api");
}

TEST_F(RouterTest, MatchesBracketedIpv6Hosts) {
  Route("/", "[::1]", "v6");
  Route("/", "", "default");
  EXPECT_EQ(Pool("[::1]:8080", "/"), "v6");
  EXPECT_EQ(Pool("[::1]", "/"), "v6");
  EXPECT_EQ(Pool("[::2]:8080", "/"), "default");
}

TEST_F(RouterTest, ReturnsNothingWhenNoRouteMatches) {
  Route("/api", "", "api");
  Route("/", "only.example.com", "only");
  EXPECT_EQ(Pool("other.example.com", "/"), "404");
  EXPECT_EQ(Pool("other.example.com", "/ap"), "404");
  EXPECT_EQ(Pool("other.example.com", ""), "404");
}

// issue 20.11: "*.example.com" was accepted but compared as a literal name, so it never matched.
TEST_F(RouterTest, LeadingWildcardHostMatchesSubdomainsOnly) {
  Route("/", "*.example.com", "wild");
  Route("/", "", "any");
  EXPECT_EQ(Pool("www.example.com", "/"), "wild");
  EXPECT_EQ(Pool("A.B.Example.COM:8080", "/x"), "wild");
  EXPECT_EQ(Pool("www.example.com.", "/"), "wild");
  EXPECT_EQ(Pool("example.com", "/"), "any") << "nginx's *.example.com excludes example.com";
  EXPECT_EQ(Pool("wwwexample.com", "/"), "any");
}

TEST_F(RouterTest, ExactHostBeatsWildcardAndTheLongestWildcardWins) {
  Route("/", "*.example.com", "wild");
  Route("/", "*.api.example.com", "api-wild");
  Route("/", "www.api.example.com", "exact");
  Route("/", "", "any");
  EXPECT_EQ(Pool("www.api.example.com", "/"), "exact");
  EXPECT_EQ(Pool("v1.api.example.com", "/"), "api-wild");
  EXPECT_EQ(Pool("www.example.com", "/"), "wild");
  EXPECT_EQ(Pool("example.org", "/"), "any");
}

TEST_F(RouterTest, FallsBackFromAWildcardWhosePrefixDoesNotMatch) {
  Route("/api", "*.example.com", "wild");
  Route("/", "", "any");
  EXPECT_EQ(Pool("www.example.com", "/api/x"), "wild");
  EXPECT_EQ(Pool("www.example.com", "/other"), "any");
}

TEST_F(RouterTest, EmptyRouterMatchesNothing) { EXPECT_EQ(Pool("x", "/"), "404"); }

TEST_F(RouterTest, FirstOfEqualRoutesWins) {
  Route("/a", "", "first");
  Route("/b", "", "other");
  Route("/a", "", "second");
  EXPECT_EQ(Pool("x", "/a"), "first");
}

TEST_F(RouterTest, ReturnsTheIndexOfTheConfiguredRoute) {
  std::vector<config::RouteConfig> routes(3);
  routes[0].path_prefix = "/";
  routes[1].path_prefix = "/x";
  routes[2].path_prefix = "/x";
  routes[2].host = "h";
  Router router(routes);
  EXPECT_EQ(router.Match("h", "/x"), 2u);
  EXPECT_EQ(router.Match("g", "/x"), 1u);
  EXPECT_EQ(router.Match("g", "/y"), 0u);
}

}  // namespace
}  // namespace outrigger::route
