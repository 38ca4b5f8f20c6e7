#include "proxy/import_nginx/translate.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/import_nginx/translate_util.h"

namespace outrigger::import_nginx {
namespace {

TEST(Translate, UpstreamBalancingAndServerParameters) {
  Model m = From(
      "http {\n"
      "  upstream api {\n"
      "    least_conn;\n"
      "    server 10.0.0.1:80 weight=3 max_fails=2 fail_timeout=15s;\n"
      "    server 10.0.0.2 backup;\n"
      "    server 10.0.0.3:80 down;\n"
      "    server api.internal:8080 resolve;\n"
      "    keepalive 16;\n"
      "  }\n"
      "  upstream h { hash $http_x_user consistent; server 10.0.0.4:1; }\n"
      "  upstream r { random two least_conn; server 10.0.0.5:1; }\n"
      "  upstream u { hash $request_uri; server 10.0.0.6:1; }\n"
      "}\n");
  ASSERT_EQ(m.pools.size(), 4u);
  const Pool& api = m.pools[0];
  EXPECT_EQ(api.balance, "least_conn");
  ASSERT_EQ(api.backends.size(), 2u);
  EXPECT_EQ(api.backends[0].target, "10.0.0.1:80");
  EXPECT_EQ(api.backends[0].weight, 3);
  EXPECT_EQ(api.backends[1].target, "api.internal:8080");
  EXPECT_TRUE(api.backends[1].dns);
  EXPECT_EQ(api.consecutive_failures, 2);
  EXPECT_EQ(api.open_for_ms, 15'000);
  EXPECT_EQ(api.keepalive, 16);
  EXPECT_TRUE(HasNote(m, 5, "backup")) << AllNotes(m);
  EXPECT_EQ(m.pools[1].balance, "ip_hash");
  EXPECT_EQ(m.pools[1].hash_on, "header:x-user");
  EXPECT_EQ(m.pools[2].balance, "p2c_ewma");
  EXPECT_EQ(m.pools[3].balance, "round_robin");
  EXPECT_TRUE(HasNote(m, 12, "hash $request_uri")) << AllNotes(m);
}

TEST(Translate, ServersBecomeHostRoutesAndTheDefaultServerCatchesTheRest) {
  Model m = From(
      "http {\n"
      "  upstream a { server 10.0.0.1:1; }\n"
      "  upstream b { server 10.0.0.2:1; }\n"
      "  server { listen 8080; server_name a.example.com; location / { proxy_pass http://a; } }\n"
      "  server { listen 8080 default_server; server_name b.example.com *.b.example.com;\n"
      "           location /x/ { proxy_pass http://b; proxy_set_header Host $host; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u);
  const Listener& l = m.listeners[0];
  EXPECT_EQ(l.listen, "0.0.0.0:8080");
  std::vector<std::string> got;
  for (const Route& r : l.routes) got.push_back(r.host + "|" + r.path_prefix + "|" + r.pool);
  EXPECT_EQ(got, (std::vector<std::string>{"a.example.com|/|a", "b.example.com|/x/|b",
                                           "*.b.example.com|/x/|b", "|/x/|b"}));
  EXPECT_TRUE(HasNote(m, 4, "Host")) << AllNotes(m);  // no proxy_set_header Host
  EXPECT_FALSE(HasNote(m, 6, "Host")) << AllNotes(m);
  EXPECT_EQ(l.routes[0].max_body, 1024u * 1024);  // nginx's default client_max_body_size
}

TEST(Translate, WebSocketIdiomTimeoutsAndBodyLimit) {
  Model m = From(
      "http {\n"
      "  client_max_body_size 20m;\n"
      "  proxy_connect_timeout 2s;\n"
      "  upstream ws { server 10.0.0.1:1; }\n"
      "  server { listen 127.0.0.1:80;\n"
      "    location /ws { proxy_pass http://ws; proxy_set_header Upgrade $http_upgrade;\n"
      "      proxy_set_header Connection \"upgrade\"; proxy_read_timeout 1h; }\n"
      "    location / { proxy_pass http://127.0.0.1:9000; proxy_read_timeout 30; }\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u);
  ASSERT_EQ(m.listeners[0].routes.size(), 2u);
  EXPECT_TRUE(m.listeners[0].routes[0].websocket);
  EXPECT_FALSE(m.listeners[0].routes[1].websocket);
  EXPECT_EQ(m.listeners[0].routes[0].max_body, 20u << 20);
  ASSERT_EQ(m.pools.size(), 2u);
  EXPECT_EQ(m.pools[0].tunnel_ms, 3'600'000);
  EXPECT_EQ(m.pools[0].connect_ms, 2'000);
  EXPECT_EQ(m.pools[1].name, "127.0.0.1-9000");
  EXPECT_EQ(m.pools[1].read_ms, 30'000);
}

TEST(Translate, WhatHasNoEquivalentIsReportedWhereItWasWritten) {
  Model m = From(
      "http {\n"
      "  limit_req_zone $binary_remote_addr zone=z:10m rate=1r/s;\n"
      "  server { listen 80;\n"
      "    listen 443 ssl;\n"
      "    ssl_certificate /c.pem;\n"
      "    location ~ \\.php$ { proxy_pass http://127.0.0.1:9; }\n"
      "    location /api/ { proxy_pass http://127.0.0.1:9/v1/; add_header X-A b; }\n"
      "    location = /ping { return 200; }\n"
      "  }\n"
      "}\n");
  EXPECT_TRUE(HasNote(m, 2, "rate_limit")) << AllNotes(m);
  // A certificate without its key: the TLS address is left out, said where the pair breaks.
  EXPECT_TRUE(HasNote(m, 5, "0 ssl_certificate_key; this address is left out")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 6, "prefix only")) << AllNotes(m);
  EXPECT_FALSE(HasNote(m, 7, "URI part")) << AllNotes(m);
  EXPECT_FALSE(HasNote(m, 8, "return")) << AllNotes(m);
  ASSERT_EQ(m.listeners.size(), 1u);
  EXPECT_EQ(m.listeners[0].listen, "0.0.0.0:80");
}

TEST(Translate, ProxyPassUriHeadersAndReturnBecomePlugins) {
  Model m = From(
      "http {\n"
      "  add_header Strict-Transport-Security \"max-age=9\" always;\n"
      "  server { listen 80;\n"
      "    location /api/ { proxy_pass http://127.0.0.1:9/v1/;\n"
      "      proxy_set_header Host $host; proxy_set_header X-Uri $request_uri?$args;\n"
      "      proxy_set_header X-Debug \"\"; proxy_set_header X-C $cookie_c; add_header X-A b; }\n"
      "    location = /ping { return 200 \"pong $host\\n\"; }\n"
      "    location /old/ { return 301 https://new.example.com$request_uri; }\n"
      "    location /go { return https://$host/x; }\n"
      "    location /bad/ { return 444; proxy_pass http://127.0.0.1:9; }\n"
      "  }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 1u);
  const std::vector<Route>& r = m.listeners[0].routes;
  ASSERT_EQ(r.size(), 4u) << AllNotes(m);
  EXPECT_EQ(r[0].plugins,
            (std::vector<std::string>{
                "{ rewrite: { replace_prefix: { from: \"/api/\", to: \"/v1/\" } } }",
                "{ headers: { request: { set: { \"X-Uri\": "
                "\"$request_uri?$query\" }, remove: [\"X-Debug\"] }, response: { add: { \"X-A\": "
                "\"b\" } } } }"}));
  // The location's own add_header replaced the http level's (nginx inherits none then).
  EXPECT_TRUE(HasNote(m, 6, "the variable $cookie_c has no Outrigger equivalent")) << AllNotes(m);
  EXPECT_TRUE(r[1].pool.empty());
  EXPECT_EQ(
      r[1].plugins,
      (std::vector<std::string>{
          "{ headers: { response: { add: { \"Strict-Transport-Security\": \"max-age=9\" } } } }",
          "{ respond: { status: 200, body: \"pong $host\\x0a\" } }"}));
  EXPECT_EQ(r[2].plugins.back(),
            "{ redirect: { to: \"https://new.example.com$request_uri\", status: 301 } }");
  EXPECT_EQ(r[3].plugins.back(), "{ redirect: { to: \"https://$host/x\", status: 302 } }");
  EXPECT_TRUE(HasNote(m, 10, "444 closes the connection")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 10, "never reached")) << AllNotes(m);
}

TEST(Translate, AnUpstreamWithNoUsableServerIsReportedAndNotRoutedTo) {
  Model m = From(
      "http {\n"
      "  upstream gone { server 10.0.0.1:1 backup; server unix:/run/app.sock; }\n"
      "  server { listen 80;\n"
      "    location / { proxy_pass http://gone; proxy_set_header Host $host; }\n"
      "    location /ok/ { proxy_pass http://10.0.0.2:80; proxy_set_header Host $host; }\n"
      "  }\n"
      "}\n");
  EXPECT_TRUE(HasNote(m, 2, "upstream gone not translated")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 4, "no server Outrigger can use")) << AllNotes(m);
  ASSERT_EQ(m.listeners.size(), 1u);
  ASSERT_EQ(m.listeners[0].routes.size(), 1u);
  EXPECT_EQ(m.listeners[0].routes[0].path_prefix, "/ok/");
  std::string yaml = EmitYaml(m, "t.conf");
  EXPECT_EQ(yaml.find("\"gone\":"), std::string::npos) << yaml;
}

TEST(Translate, TheDefaultServersAccessLogIsTheListenersInCombinedFormat) {
  Model m = From(
      "http {\n"
      "  access_log /var/log/nginx/a.log main buffer=32k;\n"
      "  proxy_set_header Host $host;\n"
      "  server { listen 8080; access_log /dev/stdout;\n"
      "    location / { proxy_pass http://127.0.0.1:9; access_log off; } }\n"
      "  server { listen 8081; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 8082; access_log off; location / { proxy_pass http://127.0.0.1:9; } }\n"
      "  server { listen 8083; access_log syslog:server=10.0.0.1;\n"
      "    location / { proxy_pass http://127.0.0.1:9; } }\n"
      "}\n");
  ASSERT_EQ(m.listeners.size(), 4u) << AllNotes(m);
  EXPECT_EQ(m.listeners[0].access_log, "stdout");
  EXPECT_EQ(m.listeners[1].access_log, "/var/log/nginx/a.log");  // inherited from http
  EXPECT_EQ(m.listeners[2].access_log, "");
  EXPECT_EQ(m.listeners[3].access_log, "");
  EXPECT_TRUE(HasNote(m, 2, "format `main`")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 2, "`buffer=32k` not translated")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 5, "one access log per listener")) << AllNotes(m);
  EXPECT_TRUE(HasNote(m, 8, "syslog")) << AllNotes(m);
  EXPECT_EQ(m.notes.size(), 4u) << AllNotes(m);  // each said once, however many listeners
}

TEST(Translate, NginxTextInACommentCannotEndItEarly) {
  // A quoted location may hold a line break: written into a comment it would start YAML.
  Model m = From(
      "http { server { listen 8080; proxy_set_header Host $host;\n"
      "  location = \"/a\nlisteners: {}\n#\" { proxy_pass http://127.0.0.1:9; } } }\n");
  std::string yaml = EmitYaml(m, "t.conf");
  EXPECT_EQ(yaml.find("\nlisteners: {}"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("# nginx: location = /a listeners: {} #"), std::string::npos) << yaml;
  EXPECT_NE(yaml.find("path_prefix: \"/a\\x0alisteners: {}\\x0a#\""), std::string::npos) << yaml;
}

}  // namespace
}  // namespace outrigger::import_nginx
