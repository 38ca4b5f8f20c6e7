// nginx's HTTP/2 settings through the translator (translate.cc's Http2For, why.cc, emit.cc):
// `listen ... http2` and `http2 on` become `tls.alpn: [h2, http/1.1]` on a TLS listener and
// `h2c: true` on a plain one; `grpc_pass` becomes a `protocol: h2` pool; the HTTP/2 tuning
// directives are reported.
#include <gtest/gtest.h>

#include <string>

#include "proxy/import_nginx/translate.h"
#include "tests/unit/import_nginx/translate_util.h"

namespace outrigger::import_nginx {
namespace {

bool InYaml(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Http2Translate, ListenHttp2OnATlsAddressOffersH2ByAlpn) {
  Model m = From(
      "http {\n"
      "  server { listen 443 ssl http2; ssl_certificate /c.crt; ssl_certificate_key /c.key;\n"
      "    location / { proxy_pass http://127.0.0.1:9; proxy_set_header Host $host; }\n"
      "  }\n"
      "  server { listen 8443 ssl; ssl_certificate /c.crt; ssl_certificate_key /c.key;\n"
      "    location / { proxy_pass http://127.0.0.1:9; proxy_set_header Host $host; }\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 2u) << AllNotes(m);
  ASSERT_TRUE(m.listeners[0].tls.has_value());
  EXPECT_TRUE(m.listeners[0].tls->h2);
  EXPECT_FALSE(m.listeners[0].h2c);
  EXPECT_FALSE(m.listeners[1].tls->h2);
  EXPECT_TRUE(m.notes.empty()) << AllNotes(m);
  const std::string yaml = EmitYaml(m, "t.conf");
  EXPECT_TRUE(InYaml(yaml, "listen: \"0.0.0.0:443\"\n    tls:\n")) << yaml;
  // Once: for the 443 listener only.
  const size_t alpn = yaml.find("      alpn: [h2, http/1.1]\n");
  ASSERT_NE(alpn, std::string::npos) << yaml;
  EXPECT_LT(alpn, yaml.find("8443")) << yaml;
  EXPECT_EQ(yaml.find("alpn:", alpn + 12), std::string::npos) << yaml;
  EXPECT_FALSE(InYaml(yaml, "h2c")) << yaml;
}

TEST(Http2Translate, HttpTwoOnIsInheritedFromHttpAndTurnedOffPerServer) {
  Model m = From(
      "http {\n"
      "  http2 on;\n"
      "  ssl_certificate /c.crt; ssl_certificate_key /c.key; proxy_set_header Host $host;\n"
      "  server { listen 443 ssl; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 8443 ssl; http2 off; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 8080; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 3u) << AllNotes(m);
  EXPECT_TRUE(m.listeners[0].tls->h2);
  EXPECT_FALSE(m.listeners[1].tls->h2);
  EXPECT_FALSE(m.listeners[2].tls.has_value());
  EXPECT_TRUE(m.listeners[2].h2c);
  EXPECT_TRUE(m.notes.empty()) << AllNotes(m);
}

TEST(Http2Translate, APlainAddressWithHttp2ServesH2cBesideHttp1) {
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  server { listen 127.0.0.1:8080 http2; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 127.0.0.1:8081; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 2u) << AllNotes(m);
  EXPECT_TRUE(m.listeners[0].h2c);
  EXPECT_FALSE(m.listeners[0].tls.has_value());
  EXPECT_FALSE(m.listeners[1].h2c);
  EXPECT_TRUE(m.notes.empty()) << AllNotes(m);
  const std::string yaml = EmitYaml(m, "t.conf");
  const size_t h2c = yaml.find("    h2c: true\n");
  ASSERT_NE(h2c, std::string::npos) << yaml;
  EXPECT_LT(h2c, yaml.find("127.0.0.1:8081")) << yaml;
  EXPECT_EQ(yaml.find("h2c: true", h2c + 14), std::string::npos) << yaml;
  EXPECT_FALSE(InYaml(yaml, "alpn")) << yaml;
}

TEST(Http2Translate, ListenHttp2OnAnyServerIsTheWholeAddresss) {
  // As nginx: the listen option is the address's, whichever server wrote it, and it wins
  // over a server's `http2 off`.
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  server { listen 8080 default_server; server_name a; http2 off;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 8080 http2; server_name b;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  EXPECT_TRUE(m.listeners[0].h2c);
  EXPECT_TRUE(m.notes.empty()) << AllNotes(m);
}

TEST(Http2Translate, ServersThatDifferFromTheDefaultServerAreReported) {
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  ssl_certificate /c.crt; ssl_certificate_key /c.key;\n"
      "  server { listen 443 ssl; server_name a; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 443 ssl; server_name b;\n"
      "    http2 on;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 80; server_name a; http2 on;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 80; server_name b; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 2u) << AllNotes(m);
  EXPECT_FALSE(m.listeners[0].tls->h2);  // the default server (a) does not have it
  EXPECT_TRUE(HasNote(m, 6, "here off as the default server has it")) << AllNotes(m);
  EXPECT_TRUE(m.listeners[1].h2c);  // the default server (a) has it
  EXPECT_TRUE(HasNote(m, 10, "here on as the default server has it")) << AllNotes(m);
  EXPECT_EQ(m.notes.size(), 2u) << AllNotes(m);
}

TEST(Http2Translate, WhatHttp2DoesNotCarryIsReported) {
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  upstream up { server 127.0.0.1:50051; }\n"
      "  http2_max_concurrent_streams 10;\n"
      "  server { listen 80;\n"
      "    http2 maybe;\n"
      "    http2_push_preload on;\n"
      "    http3 on;\n"
      "    location /g/ { grpc_pass grpc://up; }\n"
      "    location / { http2 on; proxy_pass http://127.0.0.1:9; }\n"
      "  }\n"
      "}\n");
  EXPECT_TRUE(HasNote(m, 4, "HTTP/2 limits are fixed")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 6, "`on` or `off`")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 7, "does not push")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 8, "not HTTP/3")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 10, "not allowed in a location")) << AllNotes(m);
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  EXPECT_FALSE(m.listeners[0].h2c);  // neither `maybe` nor the location's counts
}

const Pool* PoolNamed(const Model& m, const std::string& name) {
  for (const Pool& p : m.pools) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

TEST(Http2Translate, GrpcPassBecomesAnH2Pool) {
  Model m = From(
      "http {\n"
      "  upstream plain { server 127.0.0.1:50051; }\n"
      "  upstream secure { server 127.0.0.1:50052; }\n"
      "  server { listen 80 http2;\n"
      "    location /a.Svc/ { grpc_pass grpc://plain; }\n"
      "    location /b.Svc/ { grpc_pass grpcs://secure; }\n"
      "    location /c.Svc/ { grpc_pass 127.0.0.1:50053; }\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  ASSERT_EQ(m.listeners[0].routes.size(), 3u) << AllNotes(m);
  EXPECT_EQ(m.listeners[0].routes[0].pool, "plain");
  EXPECT_EQ(m.listeners[0].routes[1].pool, "secure");
  const Pool* plain = PoolNamed(m, "plain");
  const Pool* secure = PoolNamed(m, "secure");
  const Pool* literal = PoolNamed(m, m.listeners[0].routes[2].pool);
  ASSERT_TRUE(plain && secure && literal) << AllNotes(m);
  EXPECT_TRUE(plain->h2);
  EXPECT_FALSE(plain->tls.has_value());
  EXPECT_TRUE(secure->h2);
  ASSERT_TRUE(secure->tls.has_value());
  EXPECT_EQ(secure->tls->server_name, "");  // nginx's grpc_ssl_verify is off: nothing to name
  EXPECT_TRUE(literal->h2);
  EXPECT_FALSE(literal->tls.has_value());
  EXPECT_EQ(literal->backends[0].target, "127.0.0.1:50053");
  const std::string yaml = EmitYaml(m, "t.conf");
  EXPECT_TRUE(InYaml(yaml, "  \"plain\":\n    balance: round_robin\n    protocol: h2\n")) << yaml;
  EXPECT_TRUE(InYaml(yaml, "  \"secure\":\n    balance: round_robin\n    protocol: h2\n")) << yaml;
  EXPECT_TRUE(InYaml(yaml,
                     "    tls:\n      verify: false\n    backends:\n"
                     "      - address: \"127.0.0.1:50052\"\n"))
      << yaml;
}

TEST(Http2Translate, APoolReachedByProxyPassAndGrpcPassKeepsTheFirst) {
  Model m = From(
      "http {\n"
      "  upstream up { server 127.0.0.1:50051; }\n"
      "  server { listen 80;\n"
      "    location / { proxy_pass http://up; proxy_set_header Host $host; }\n"
      "    location /g.Svc/ { grpc_pass grpc://up; }\n"
      "  }\n"
      "}\n");
  EXPECT_TRUE(HasNote(m, 5, "one protocol per pool")) << AllNotes(m);
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  ASSERT_EQ(m.listeners[0].routes.size(), 1u) << AllNotes(m);
  const Pool* up = PoolNamed(m, "up");
  ASSERT_NE(up, nullptr);
  EXPECT_FALSE(up->h2);
}

}  // namespace
}  // namespace outrigger::import_nginx
