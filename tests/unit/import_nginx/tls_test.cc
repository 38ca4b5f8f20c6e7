// nginx's TLS directives through the translator (proxy/import_nginx/tls.cc).
#include "proxy/import_nginx/tls.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/import_nginx/translate.h"
#include "tests/unit/import_nginx/translate_util.h"

namespace outrigger::import_nginx {
namespace {

TEST(TlsTranslate, ServersOnOneTlsAddressShareItsListenerWithACertificateEach) {
  Model m = From(
      "http {\n"
      "  ssl_session_cache shared:SSL:10m;\n"
      "  server { listen 443 ssl http2; server_name b.example;\n"
      "    ssl_certificate /b.crt; ssl_certificate_key /b.key;\n"
      "    location / { proxy_pass http://127.0.0.1:9002; }\n"
      "  }\n"
      "  server { listen 443 ssl default_server; server_name a.example;\n"
      "    ssl_certificate /a.ec.crt; ssl_certificate_key /a.ec.key;\n"
      "    ssl_certificate /a.rsa.crt; ssl_certificate_key /a.rsa.key;\n"
      "    ssl_protocols TLSv1.3;\n"
      "    ssl_ciphers HIGH;\n"
      "    location / { proxy_pass http://127.0.0.1:9001; }\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  const Listener& l = m.listeners[0];
  EXPECT_EQ(l.name, "https-443");
  EXPECT_EQ(l.listen, "0.0.0.0:443");
  ASSERT_TRUE(l.tls.has_value());
  ASSERT_EQ(l.tls->certificates.size(), 3u);
  EXPECT_EQ(l.tls->certificates[0].cert, "/a.ec.crt");  // the default server's first
  EXPECT_EQ(l.tls->certificates[1].key, "/a.rsa.key");
  EXPECT_EQ(l.tls->certificates[2].cert, "/b.crt");
  EXPECT_EQ(l.tls->min_version, "1.3");
  EXPECT_FALSE(l.redirect_https);
  // `listen ... http2` on b.example's is the whole address's, as in nginx.
  EXPECT_TRUE(l.tls->h2);
  EXPECT_FALSE(HasNote(m, 3, "http2")) << AllNotes(m);
  // b.example's protocols differ from the default server's: said at its listen.
  EXPECT_TRUE(HasNote(m, 3, "default server's kept")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 2, "tickets")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 11, "intermediate")) << AllNotes(m);
  ASSERT_EQ(l.routes.size(), 3u);  // a host route each, then the default's for any host
  EXPECT_EQ(l.routes[2].pool, "127.0.0.1-9001");
}

TEST(TlsTranslate, HttpLevelCertificatesAreInheritedAndReplacedPerServer) {
  Model m = From(
      "http {\n"
      "  ssl_certificate /http.crt; ssl_certificate_key /http.key; proxy_set_header Host $host;\n"
      "  server { listen 8443 ssl; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 9443 ssl; ssl_certificate /own.crt; ssl_certificate_key /own.key;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 2u) << AllNotes(m);
  ASSERT_EQ(m.listeners[0].tls->certificates.size(), 1u);
  EXPECT_EQ(m.listeners[0].tls->certificates[0].cert, "/http.crt");
  ASSERT_EQ(m.listeners[1].tls->certificates.size(), 1u);
  EXPECT_EQ(m.listeners[1].tls->certificates[0].cert, "/own.crt");
  EXPECT_TRUE(m.notes.empty()) << AllNotes(m);
}

TEST(TlsTranslate, ClientCertificatesAndWhatCannotBeCarriedOver) {
  Model m = From(
      "http {\n"
      "  server { listen 443 ssl;\n"
      "    ssl_certificate certs/site.crt; ssl_certificate_key /site.key;\n"
      "    ssl_client_certificate /clients.pem; ssl_verify_client optional;\n"
      "    ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n"
      "    ssl_stapling on;\n"
      "    location / { proxy_pass http://127.0.0.1:9; }\n"
      "  }\n"
      "  server { listen 8443 ssl; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  const ListenerTls& tls = *m.listeners[0].tls;
  EXPECT_EQ(tls.client_ca, "/clients.pem");
  EXPECT_EQ(tls.client_mode, "optional");
  EXPECT_EQ(tls.min_version, "");  // 1.2, Outrigger's default
  EXPECT_TRUE(HasNote(m, 3, "relative path")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 5, "`TLSv1` not translated")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 5, "`TLSv1.1` not translated")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 6, "OCSP")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 9, "no ssl_certificate; this address is left out")) << AllNotes(m);
}

TEST(TlsTranslate, AServerThatOnlyRedirectsToHttpsBecomesRedirectHttps) {
  Model m = From(
      "http {\n"
      "  server { listen 80; server_name a.example;\n"
      "    return 301 https://$host$request_uri;\n"
      "    location / { proxy_pass http://127.0.0.1:9; }\n"
      "  }\n"
      "  server { listen 8080; return 302 https://$server_name$request_uri; }\n"
      "  server { listen 8081; return 301 https://$host$request_uri; }\n"
      "  server { listen 8081; server_name b.example; location / { proxy_pass http://127.0.0.1:9; "
      "} }\n"
      "  server { listen 8082; return 301 https://example.com$request_uri; }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 3u) << AllNotes(m);
  EXPECT_EQ(m.listeners[0].listen, "0.0.0.0:80");
  EXPECT_TRUE(m.listeners[0].redirect_https);
  EXPECT_TRUE(m.listeners[0].routes.empty());  // the return answers before any location
  EXPECT_TRUE(m.listeners[1].redirect_https);
  EXPECT_TRUE(HasNote(m, 6, "return 302: translated as redirect_https")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 6, "$server_name")) << AllNotes(m);
  // Only one of the two servers on 8081 redirects: redirect_https would take the other too.
  EXPECT_EQ(m.listeners[2].listen, "0.0.0.0:8081");
  EXPECT_FALSE(m.listeners[2].redirect_https);
  EXPECT_TRUE(HasNote(m, 7, "whole listener")) << AllNotes(m);
  // Another host is not the same URL on https://, and a server-level return is reported.
  EXPECT_TRUE(HasNote(m, 9, "a location's `return` only")) << AllNotes(m);
}

TEST(TlsTranslate, HttpsBackendsGetAPoolTlsBlockWithNginxsDefaults) {
  Model m = From(
      "http {\n"
      "  upstream api { server 10.0.0.1:8443; }\n"
      "  upstream mixed { server 10.0.0.2:80; }\n"
      "  server { listen 80;\n"
      "    location /api/ { proxy_pass https://api;\n"
      "      proxy_ssl_verify on; proxy_ssl_trusted_certificate /ca.pem;\n"
      "      proxy_ssl_name api.internal; proxy_ssl_server_name on;\n"
      "      proxy_ssl_protocols TLSv1.3; }\n"
      "    location /raw/ { proxy_pass https://10.0.0.9; }\n"
      "    location /m1/ { proxy_pass http://mixed; }\n"
      "    location /m2/ { proxy_pass https://mixed; }\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(m.pools.size(), 3u);
  ASSERT_TRUE(m.pools[0].tls.has_value());
  EXPECT_TRUE(m.pools[0].tls->verify);
  EXPECT_EQ(m.pools[0].tls->ca, "/ca.pem");
  EXPECT_EQ(m.pools[0].tls->server_name, "api.internal");
  EXPECT_TRUE(HasNote(m, 8, "proxy_ssl_protocols")) << AllNotes(m);
  EXPECT_FALSE(m.pools[1].tls.has_value());  // `mixed`: reached over http:// first
  EXPECT_EQ(m.pools[2].name, "10.0.0.9-443");
  ASSERT_TRUE(m.pools[2].tls.has_value());
  EXPECT_FALSE(m.pools[2].tls->verify);  // nginx's proxy_ssl_verify off
  EXPECT_TRUE(HasNote(m, 11, "already reached over http://")) << AllNotes(m);
  ASSERT_EQ(m.listeners.size(), 1u);
  EXPECT_EQ(m.listeners[0].routes.size(), 3u);  // /m2/ left out
}

TEST(TlsTranslate, SslOnMakesTheServersAddressesTlsAndLocationsCannotSetIt) {
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  server { listen 8443; ssl on;\n"
      "    ssl_certificate /c.crt; ssl_certificate_key /c.key;\n"
      "    location / { proxy_pass http://127.0.0.1:9; ssl_certificate /d.crt; } }\n"
      "  server { ssl on; ssl_certificate /c.crt; ssl_certificate_key /c.key;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  // A TLS address is never served in plain text.
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  EXPECT_EQ(m.listeners[0].name, "https-8443");
  ASSERT_TRUE(m.listeners[0].tls.has_value());
  EXPECT_EQ(m.listeners[0].tls->certificates[0].cert, "/c.crt");
  EXPECT_TRUE(HasNote(m, 5, "not allowed in a location")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 6, "implicit `listen 80`")) << AllNotes(m);
}

// Found by helper-26's attack: each of these was translated wrongly without a word.
TEST(TlsTranslate, AServerOnNginxsImplicitListen80SharesATlsPort80) {
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  server { server_name a.example; ssl_certificate /a.crt; ssl_certificate_key /a.key;\n"
      "    location / { proxy_pass http://127.0.0.1:8081; } }\n"
      "  server { listen 80 ssl default_server; server_name b.example;\n"
      "    ssl_certificate /b.crt; ssl_certificate_key /b.key;\n"
      "    location / { proxy_pass http://127.0.0.1:8082; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  ASSERT_EQ(m.listeners[0].tls->certificates.size(), 2u);
  EXPECT_EQ(m.listeners[0].tls->certificates[0].cert, "/b.crt");
  EXPECT_EQ(m.listeners[0].tls->certificates[1].cert, "/a.crt");
  EXPECT_TRUE(HasNote(m, 5, "picks one by the names it holds")) << AllNotes(m);
}

TEST(TlsTranslate, AVerifiedUpstreamIsCheckedAgainstItsNameAsNginxsProxyHost) {
  Model m = From(
      "http {\n"
      "  upstream api { server 127.0.0.1:9443; }\n"
      "  upstream 127.0.0.1-8081 { server 10.9.9.9:80; }\n"
      "  server { listen 8080; proxy_set_header Host $host;\n"
      "    location / { proxy_pass https://api; proxy_ssl_verify on;\n"
      "      proxy_ssl_trusted_certificate /ca.pem; }\n"
      "    location /y/ { proxy_pass http://127.0.0.1:8081; } }\n"
      "}\n");
  ASSERT_EQ(m.pools.size(), 3u) << AllNotes(m);
  EXPECT_EQ(m.pools[0].tls->server_name, "api");
  // A literal address whose pool name an upstream already has gets a pool of its own.
  EXPECT_EQ(m.pools[2].name, "127.0.0.1-8081-address");
  EXPECT_EQ(m.pools[2].backends[0].target, "127.0.0.1:8081");
  EXPECT_EQ(m.listeners[0].routes[1].pool, "127.0.0.1-8081-address");
}

TEST(TlsTranslate, SslOnCountsOnlyWhereTheDefaultServerHasIt) {
  Model m = From(
      "http {\n"
      "  ssl_certificate /b.crt; ssl_certificate_key /b.key; proxy_set_header Host $host;\n"
      "  server { listen 8090; server_name a.example;\n"
      "    location / { proxy_pass http://127.0.0.1:8081; } }\n"
      "  server { listen 8090; server_name b.example; ssl on;\n"
      "    location / { proxy_pass http://127.0.0.1:8082; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u) << AllNotes(m);
  EXPECT_EQ(m.listeners[0].name, "http-8090");
  EXPECT_FALSE(m.listeners[0].tls.has_value());
  EXPECT_TRUE(HasNote(m, 5, "nginx ignores it")) << AllNotes(m);
}

TEST(TlsTranslate, WhatOutriggerCannotNarrowOrReadIsReported) {
  Model m = From(
      "http {\n"
      "  proxy_set_header Host $host;\n"
      "  server { listen 443 ssl; ssl_protocols TLSv1.2;\n"
      "    ssl_certificate /c.crt; ssl_certificate_key /c.key;\n"
      "    ssl_client_certificate \"data:-----BEGIN CERTIFICATE-----\"; ssl_verify_client on;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 80; return 308 https://$host$request_uri; }\n"
      "}\n");
  EXPECT_TRUE(HasNote(m, 3, "always offers TLS 1.3")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 5, "reads certificates and keys from files")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 7, "return 308: translated as redirect_https")) << AllNotes(m);
  ASSERT_EQ(m.listeners.size(), 2u) << AllNotes(m);
  EXPECT_EQ(m.listeners[0].tls->client_mode, "");
}

}  // namespace
}  // namespace outrigger::import_nginx
