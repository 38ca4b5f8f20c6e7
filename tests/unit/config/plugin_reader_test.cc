// A route's `plugins:` list: each plugin's settings read, and the exact "FILE:LINE:COL:
// message" of each wrong one.
#include "proxy/config/plugin_reader.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <fstream>
#include <string>
#include <string_view>

#include "proxy/config/loader.h"

namespace outrigger::config {
namespace {

// A route with `plugins` (lines indented by eight spaces) and `pool_line` (or none).
std::string Route(std::string_view plugins, std::string_view pool_line = "        pool: api\n") {
  return "listeners:\n  web:\n    listen: 127.0.0.1:8080\n    routes:\n      - path_prefix: /\n" +
         std::string(pool_line) + "        plugins:\n" + std::string(plugins) +
         "pools:\n  api:\n    backends:\n      - address: 127.0.0.1:9001\n";
}

absl::StatusOr<Config> Load(std::string_view plugins,
                            std::string_view pool_line = "        pool: api\n") {
  return LoadConfigString(Route(plugins, pool_line), "t.yaml");
}

const std::vector<PluginConfig>& Plugins(const absl::StatusOr<Config>& c) {
  return c->listeners[0].routes[0].plugins;
}

TEST(PluginReaderTest, ReadsEveryPluginInOrder) {
  absl::StatusOr<Config> c = Load(
      "          - rewrite: { strip_prefix: /api }\n"
      "          - headers:\n"
      "              request: { set: { Host: b.internal, X-Id: $request_id }, remove: [X-A] }\n"
      "              response: { add: { X-B: '1' } }\n"
      "          - ip_filter: { allow: [10.0.0.0/8], deny: [10.9.0.0/16] }\n"
      "          - rate_limit: { key: 'header:X-Api-Key', rate: 100/15m, burst: 20 }\n"
      "          - redirect: { to: 'https://x$request_uri', status: 308 }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& p = Plugins(c);
  ASSERT_EQ(p.size(), 5u);
  EXPECT_EQ(p[0].name, "rewrite");
  const auto& rewrite = std::get<RewritePluginConfig>(p[0].spec);
  EXPECT_EQ(rewrite.kind, RewritePluginConfig::Kind::kStripPrefix);
  EXPECT_EQ(rewrite.from, "/api");
  const auto& headers = std::get<HeadersPluginConfig>(p[1].spec);
  ASSERT_EQ(headers.request.set.size(), 2u);
  EXPECT_EQ(headers.request.set[0].first, "Host");
  EXPECT_EQ(headers.request.set[1].second.source(), "$request_id");
  EXPECT_EQ(headers.request.remove, std::vector<std::string>{"X-A"});
  EXPECT_EQ(headers.response.add[0].second.constant(), "1");
  const auto& filter = std::get<IpFilterPluginConfig>(p[2].spec);
  EXPECT_EQ(filter.allow.size(), 1u);
  EXPECT_EQ(filter.deny.size(), 1u);
  const auto& limit = std::get<RateLimitPluginConfig>(p[3].spec);
  EXPECT_EQ(limit.key, RateLimitPluginConfig::Key::kHeader);
  EXPECT_EQ(limit.header, "X-Api-Key");
  EXPECT_EQ(limit.count, 100u);
  EXPECT_EQ(limit.period, std::chrono::minutes(15));
  EXPECT_EQ(limit.burst, 20u);
  const auto& redirect = std::get<RedirectPluginConfig>(p[4].spec);
  EXPECT_EQ(redirect.status, 308);
  EXPECT_TRUE(p[4].AlwaysAnswers());
}

TEST(PluginReaderTest, RegexTakesNginxCaptures) {
  absl::StatusOr<Config> c = Load(
      "          - rewrite: { regex: { match: '^/u/(\\d+)/(\\w+)$', to: '/users/$1?tab=$2' } }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& r = std::get<RewritePluginConfig>(Plugins(c)[0].spec);
  ASSERT_NE(r.regex, nullptr);
  std::string path = "/u/42/posts";
  ASSERT_TRUE(RE2::Replace(&path, *r.regex, r.to));
  EXPECT_EQ(path, "/users/42?tab=posts");
}

TEST(PluginReaderTest, RateDefaultsAndUnits) {
  absl::StatusOr<Config> c = Load(
      "          - rate_limit: { rate: 10/s }\n"
      "          - rate_limit: { rate: 5/h, key: route }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& a = std::get<RateLimitPluginConfig>(Plugins(c)[0].spec);
  EXPECT_EQ(a.key, RateLimitPluginConfig::Key::kClientIp);
  EXPECT_EQ(a.period, std::chrono::seconds(1));
  EXPECT_EQ(a.burst, 10u);  // default: the rate's count
  EXPECT_TRUE(a.headers);
  const auto& b = std::get<RateLimitPluginConfig>(Plugins(c)[1].spec);
  EXPECT_EQ(b.period, std::chrono::hours(1));
  EXPECT_EQ(b.key, RateLimitPluginConfig::Key::kRoute);
}

TEST(PluginReaderTest, StoreSettingsAndZonesNamedAfterTheRoute) {
  absl::StatusOr<Config> c = Load(
      "          - rate_limit: { rate: 10/s, store: 'redis://redis:6379' }\n"
      "          - rate_limit: { rate: 5/h, store: 'redis://[::1]:7000/', on_store_error: deny,\n"
      "                          store_timeout: 20ms }\n"
      "          - rate_limit: { rate: 1/s, store: 'redis://10.0.0.1:6379', zone: shared }\n"
      "          - rate_limit: { rate: 1/s }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& a = std::get<RateLimitPluginConfig>(Plugins(c)[0].spec);
  EXPECT_EQ(a.store_host, "redis");
  EXPECT_EQ(a.store_port, 6379);
  EXPECT_EQ(a.store_timeout, std::chrono::milliseconds(100));
  EXPECT_FALSE(a.deny_on_store_error);
  EXPECT_EQ(a.zone, "*/");
  const auto& b = std::get<RateLimitPluginConfig>(Plugins(c)[1].spec);
  EXPECT_EQ(b.store_host, "::1");
  EXPECT_EQ(b.store_port, 7000);
  EXPECT_EQ(b.store_timeout, std::chrono::milliseconds(20));
  EXPECT_TRUE(b.deny_on_store_error);
  EXPECT_EQ(b.zone, "*/#1");
  EXPECT_EQ(std::get<RateLimitPluginConfig>(Plugins(c)[2].spec).zone, "shared");
  EXPECT_TRUE(std::get<RateLimitPluginConfig>(Plugins(c)[3].spec).store_host.empty());
}

TEST(PluginReaderTest, StoreMistakes) {
  absl::StatusOr<Config> c = Load(
      "          - rate_limit: { rate: 1/s, store: 'http://x:1' }\n"
      "          - rate_limit: { rate: 1/s, store: 'redis://nohost' }\n"
      "          - rate_limit: { rate: 1/s, store: 'redis://h:0' }\n"
      "          - rate_limit: { rate: 1/s, zone: z, on_store_error: allow }\n"
      "          - rate_limit: { rate: 1/s, store: 'redis://h:1', on_store_error: maybe }\n"
      "          - rate_limit: { rate: 1/s, store: 'redis://h:1', store_timeout: 11s }\n"
      "          - rate_limit: { rate: 1/s, store: 'redis://h:1', zone: 'a b' }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:8:45: listeners.web.routes[0].plugins[0].rate_limit.store: expected "
            "\"redis://HOST:PORT\", got \"http://x:1\"\n"
            "t.yaml:9:45: listeners.web.routes[0].plugins[1].rate_limit.store: expected "
            "\"redis://HOST:PORT\", got \"redis://nohost\"\n"
            "t.yaml:10:45: listeners.web.routes[0].plugins[2].rate_limit.store: expected "
            "\"redis://HOST:PORT\", got \"redis://h:0\"\n"
            "t.yaml:11:38: listeners.web.routes[0].plugins[3].rate_limit.zone: only applies "
            "with `store`\n"
            "t.yaml:11:47: listeners.web.routes[0].plugins[3].rate_limit.on_store_error: only "
            "applies with `store`\n"
            "t.yaml:12:76: listeners.web.routes[0].plugins[4].rate_limit.on_store_error: expected "
            "`allow` or `deny`, got \"maybe\"\n"
            "t.yaml:13:75: listeners.web.routes[0].plugins[5].rate_limit.store_timeout: at most "
            "10s: a request waits this long for its store\n"
            "t.yaml:14:66: listeners.web.routes[0].plugins[6].rate_limit.zone: expected 1 to 200 "
            "visible characters");
}

TEST(PluginReaderTest, BasicAuthReadsItsUsersFileAndNamesItsMistakes) {
  std::string dir = ::testing::TempDir();
  if (dir.ends_with('/')) dir.pop_back();
  {
    std::ofstream good(dir + "/users");
    good << "alice:$2b$04$HUHWyhBnOEi6A5ZXM8bDsefbD21SbbcduOHocj2VBWT/uV/6KvmMm\n";
    std::ofstream bad(dir + "/weak");
    bad << "# old\nbob:$apr1$abc$0123456789012345678901\n";
  }
  absl::StatusOr<Config> c = Load("          - basic_auth: { users_file: '" + dir +
                                  "/users', realm: Staff, forward_authorization: true }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& a = std::get<BasicAuthPluginConfig>(Plugins(c)[0].spec);
  EXPECT_EQ(a.users.size(), 1u);
  EXPECT_EQ(a.users[0].name, "alice");
  EXPECT_EQ(a.realm, "Staff");
  EXPECT_TRUE(a.forward_authorization);
  c = Load("          - basic_auth: { users_file: '" + dir + "/weak', realm: 'a\"b' }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:8:39: listeners.web.routes[0].plugins[0].basic_auth.users_file: " + dir +
                "/weak:2: user \"bob\": an MD5 hash; write bcrypt (`htpasswd -B`) or SHA-crypt "
                "(`openssl passwd -6`) hashes\n"
                "t.yaml:8:" +
                std::to_string(39 + dir.size() + 16) +
                ": listeners.web.routes[0].plugins[0].basic_auth.realm: expected visible text "
                "without '\"' or '\\'");
  c = Load("          - basic_auth: { realm: x }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:8:13: listeners.web.routes[0].plugins[0].basic_auth: missing required key "
            "`users_file`");
}

TEST(PluginReaderTest, CompressSettingsAndMistakes) {
  absl::StatusOr<Config> c = Load(
      "          - compress: { encodings: [gzip], types: [Text/*, image/svg+xml], min_size: 1KiB, "
      "gzip_level: 6 }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& z = std::get<CompressPluginConfig>(Plugins(c)[0].spec);
  EXPECT_EQ(z.encodings, (std::vector<std::string>{"gzip"}));
  EXPECT_EQ(z.types, (std::vector<std::string>{"text/*", "image/svg+xml"}));
  EXPECT_EQ(z.min_size, 1024u);
  EXPECT_EQ(z.gzip_level, 6);
  EXPECT_EQ(z.brotli_quality, 4);

  // One compress a route: each mistake on a route of its own.
  const std::pair<std::string_view, std::string_view> mistakes[] = {
      {"          - compress: { encodings: [zstd, gzip, gzip] }\n",
       "t.yaml:8:37: listeners.web.routes[0].plugins[0].compress.encodings[0]: expected gzip or "
       "br, got \"zstd\"\n"
       "t.yaml:8:49: listeners.web.routes[0].plugins[0].compress.encodings[2]: gzip is listed "
       "twice"},
      {"          - compress: { encodings: [] }\n",
       "t.yaml:8:36: listeners.web.routes[0].plugins[0].compress.encodings: expected at least one "
       "of gzip, br"},
      {"          - compress: { types: [html, 'text/', '*/*'] }\n",
       "t.yaml:8:33: listeners.web.routes[0].plugins[0].compress.types[0]: expected a media type "
       "(\"text/html\", \"text/*\"), got \"html\"\n"
       "t.yaml:8:39: listeners.web.routes[0].plugins[0].compress.types[1]: expected a media type "
       "(\"text/html\", \"text/*\"), got \"text/\"\n"
       "t.yaml:8:48: listeners.web.routes[0].plugins[0].compress.types[2]: expected a media type "
       "(\"text/html\", \"text/*\"), got \"*/*\""},
      {"          - compress: { gzip_level: 0, brotli_quality: 12, min_size: lots }\n",
       "t.yaml:8:37: listeners.web.routes[0].plugins[0].compress.gzip_level: must be between 1 and "
       "9, got 0\n"
       "t.yaml:8:56: listeners.web.routes[0].plugins[0].compress.brotli_quality: must be between 0 "
       "and 11, got 12\n"
       "t.yaml:8:70: listeners.web.routes[0].plugins[0].compress.min_size: invalid size \"lots\": "
       "expected an integer of bytes, or one with a unit (KiB, MiB, GiB), e.g. 65536, 512KiB, "
       "10MiB"},
      {"          - compress: {}\n          - rewrite: { strip_prefix: /a }\n"
       "          - compress: {}\n",
       "t.yaml:10:13: listeners.web.routes[0].plugins[2].compress: compress is already on this "
       "route: list it once"},
  };
  for (const auto& [yaml, message] : mistakes) {
    c = Load(yaml);
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_EQ(std::string(c.status().message()), message);
  }
}

TEST(PluginReaderTest, RouteThatAlwaysAnswersNeedsNoPool) {
  absl::StatusOr<Config> c = Load("          - respond: { status: 204 }\n", "");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->listeners[0].routes[0].pool.empty());
  c = Load("          - headers: { response: { add: { X-A: b } } }\n", "");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:5:9: listeners.web.routes[0]: missing required key `pool`");
}

TEST(PluginReaderTest, RefusesABodilessBodyAndAnEmptyAllowList) {
  absl::StatusOr<Config> c = Load(
      "          - ip_filter: { allow: [] }\n"
      "          - respond: { status: 204, body: x }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:8:33: listeners.web.routes[0].plugins[0].ip_filter.allow: an empty list would "
            "allow every client; leave `allow` out to allow all but `deny`\n"
            "t.yaml:9:43: listeners.web.routes[0].plugins[1].respond.body: a 204 response has no "
            "body");
}

TEST(PluginReaderTest, CorsOriginsAndItsMistakes) {
  absl::StatusOr<Config> c = Load(
      "          - cors: { origins: ['HTTPS://App.example.com:8443'], methods: [GET, PUT] }\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  const auto& cors = std::get<CorsPluginConfig>(Plugins(c)[0].spec);
  EXPECT_EQ(cors.origins, std::vector<std::string>{"https://app.example.com:8443"});
  EXPECT_EQ(cors.methods, "GET, PUT");
  EXPECT_EQ(cors.max_age, std::chrono::minutes(10));
  c = Load(
      "          - cors: { origins: ['*'], credentials: true }\n"
      "          - cors: { origins: [app.example.com, 'https://a.test/x'], methods: ['G T'] }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:8:50: listeners.web.routes[0].plugins[0].cors.credentials: browsers refuse "
            "credentials with origin \"*\": list the origins\n"
            "t.yaml:9:31: listeners.web.routes[0].plugins[1].cors.origins[0]: expected \"*\" or "
            "an origin as browsers send it (\"https://app.example.com\", no path), got "
            "\"app.example.com\"\n"
            "t.yaml:9:48: listeners.web.routes[0].plugins[1].cors.origins[1]: expected \"*\" or "
            "an origin as browsers send it (\"https://app.example.com\", no path), got "
            "\"https://a.test/x\"\n"
            "t.yaml:9:79: listeners.web.routes[0].plugins[1].cors.methods[0]: expected a method or "
            "header name, got \"G T\"");
}

TEST(PluginReaderTest, NamesFileLineAndKeyOfEachMistake) {
  absl::StatusOr<Config> c = Load(
      "          - header: { request: { set: { A: b } } }\n"
      "          - { respond: { status: 200 }, redirect: { to: /x } }\n"
      "          - headers: { request: { set: { Content-Length: '1', 'a b': c } } }\n"
      "          - headers: { response: { add: { X-A: $hots } }, request: { remove: [Host] } }\n"
      "          - rewrite: { regex: { match: '(', to: /x } }\n"
      "          - rewrite: { strip_prefix: api }\n"
      "          - redirect: { to: /x, status: 200 }\n"
      "          - respond: { status: 99 }\n"
      "          - ip_filter: { allow: [10.0.0.0/33] }\n"
      "          - rate_limit: { rate: 10/fortnight, key: cookie }\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(std::string(c.status().message()),
            "t.yaml:8:13: listeners.web.routes[0].plugins[0]: unknown key `header`; did you mean "
            "`headers`?\n"
            "t.yaml:9:13: listeners.web.routes[0].plugins[1]: one plugin per list item (`- "
            "headers: ...`, then `- rewrite: ...`), got 2\n"
            "t.yaml:10:42: listeners.web.routes[0].plugins[2].headers.request.set.Content-Length: "
            "Content-Length is the proxy's to write (framing and connection fields cannot be "
            "changed by a plugin)\n"
            "t.yaml:10:63: listeners.web.routes[0].plugins[2].headers.request.set.a b: expected a "
            "header name, got \"a b\"\n"
            "t.yaml:11:48: listeners.web.routes[0].plugins[3].headers.response.add.X-A: unknown "
            "variable $hots in \"$hots\" (variables: $host $path $query $request_uri $scheme "
            "$remote_addr $request_id; $$ for a '$')\n"
            "t.yaml:11:79: listeners.web.routes[0].plugins[3].headers.request.remove[0]: Host "
            "cannot be removed or added to; `set` replaces it\n"
            "t.yaml:12:40: listeners.web.routes[0].plugins[4].rewrite.regex.match: invalid regular "
            "expression: missing ): (\n"
            "t.yaml:13:38: listeners.web.routes[0].plugins[5].rewrite.strip_prefix: must start "
            "with '/', got \"api\"\n"
            "t.yaml:14:41: listeners.web.routes[0].plugins[6].redirect.status: expected 301, 302, "
            "303, 307 or 308, got 200\n"
            "t.yaml:15:32: listeners.web.routes[0].plugins[7].respond.status: must be between 200 "
            "and 599, got 99\n"
            "t.yaml:16:34: listeners.web.routes[0].plugins[8].ip_filter.allow[0]: invalid CIDR "
            "\"10.0.0.0/33\": prefix length must be a number from 0 to 32\n"
            "t.yaml:17:33: listeners.web.routes[0].plugins[9].rate_limit.rate: expected N/s, N/m, "
            "N/h or N/DURATION (\"100/15m\"), got \"10/fortnight\"\n"
            "t.yaml:17:52: listeners.web.routes[0].plugins[9].rate_limit.key: expected "
            "`client_ip`, `header:NAME` or `route`, got \"cookie\"");
}

}  // namespace
}  // namespace outrigger::config
