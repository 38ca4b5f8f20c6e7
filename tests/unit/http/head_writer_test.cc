#include "proxy/http/head_writer.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"

namespace outrigger::http {
namespace {

// Parses a head from owned bytes and writes it for the other side.
class HeadWriterTest : public testing::Test {
 protected:
  std::string Upstream(std::string raw, ForwardedFor fwd = {"203.0.113.7", "http"},
                       const FieldEdits* edits = nullptr) {
    raw_ = std::move(raw);
    RequestHead req;
    const ParseResult r = ParseRequestHead(raw_, {}, &req);
    EXPECT_EQ(r.status, ParseStatus::kDone) << r.reason;
    std::string out;
    WriteUpstreamRequestHead(req, fwd, &out, edits);
    return out;
  }

  std::string Client(std::string raw, int client_version_minor = 1, bool client_keep_alive = true,
                     Method method = Method::kGet, const FieldEdits* edits = nullptr) {
    raw_ = std::move(raw);
    ResponseHead resp;
    const ParseResult r = ParseResponseHead(raw_, method, {}, &resp);
    EXPECT_EQ(r.status, ParseStatus::kDone) << r.reason;
    std::string out;
    WriteClientResponseHead(resp, client_version_minor, client_keep_alive, &out, {}, edits);
    return out;
  }

 private:
  std::string raw_;
};

// The fields the proxy adds for an untrusted client 203.0.113.7 whose Host is `host`.
std::string Forwarded(std::string_view host) {
  std::string fields = "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: http\r\n";
  if (!host.empty()) fields += "X-Forwarded-Host: " + std::string(host) + "\r\n";
  return fields + "X-Real-IP: 203.0.113.7\r\n";
}

TEST_F(HeadWriterTest, WritesRequestLineHostFieldsAndForwardingFields) {
  EXPECT_EQ(
      Upstream("GET /a?b HTTP/1.1\r\nUser-Agent: t\r\nHost: example.com\r\nAccept: */*\r\n\r\n"),
      "GET /a?b HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n" +
          Forwarded("example.com") + "\r\n");
}

TEST_F(HeadWriterTest, CopiesFieldsOfEveryLength) {
  // Short names and values are copied in overlapping pieces: every length up to past the
  // longest, each byte distinct from its neighbours, must come out whole and in order.
  for (size_t len = 1; len <= 40; ++len) {
    std::string name = "X-";
    std::string value;
    for (size_t i = 0; i < len; ++i) {
      name += static_cast<char>('a' + i % 26);
      value += static_cast<char>('A' + (i * 7) % 26);
    }
    const std::string field = name + ": " + value + "\r\n";
    const std::string out = Upstream("GET / HTTP/1.1\r\nHost: a\r\n" + field + "\r\n");
    EXPECT_NE(out.find("\r\n" + field), std::string::npos) << len;
    FieldEdits edits;
    edits.add.push_back({name, value});
    EXPECT_NE(Client("HTTP/1.1 204 No Content\r\n\r\n", 1, true, Method::kGet, &edits)
                  .find("\r\n" + field),
              std::string::npos)
        << len;
  }
}

// The edited fields are written in order and whole however much room they take together:
// many short ones, and one longer than any stack room.
TEST_F(HeadWriterTest, ManyAndLongEditedFieldsComeOutWholeInOrder) {
  std::vector<std::string> names;
  std::vector<std::string> values;
  for (size_t i = 0; i < 40; ++i) {
    names.push_back("X-Edit-" + std::to_string(i));
    values.push_back(std::string(i * 3, static_cast<char>('a' + i % 26)));
  }
  values[20] = std::string(3000, 'L');
  FieldEdits edits;
  std::string expected = "HTTP/1.1 204 No Content\r\n";
  for (size_t i = 0; i < names.size(); ++i) {
    (i % 2 == 0 ? edits.set : edits.add).push_back({names[i], values[i]});
  }
  for (size_t i = 0; i < names.size(); i += 2) expected += names[i] + ": " + values[i] + "\r\n";
  for (size_t i = 1; i < names.size(); i += 2) expected += names[i] + ": " + values[i] + "\r\n";
  EXPECT_EQ(Client("HTTP/1.1 204 No Content\r\n\r\n", 1, true, Method::kGet, &edits),
            expected + "\r\n");
}

TEST_F(HeadWriterTest, StripsHopByHopFields) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\n"
                     "Connection: keep-alive, X-Secret\r\n"
                     "Keep-Alive: timeout=5\r\n"
                     "Proxy-Connection: keep-alive\r\n"
                     "TE: trailers\r\n"
                     "Trailer: X-Checksum\r\n"
                     "Upgrade: h2c\r\n"
                     "X-Secret: s\r\n"
                     "x-secret: s2\r\n"
                     "X-Kept: k\r\n\r\n"),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: k\r\n" + Forwarded("a") + "\r\n");
}

TEST_F(HeadWriterTest, ReplacesClientSetProxyFields) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\nX-Real-IP: 1.1.1.1\r\n"
                     "X-Forwarded-Proto: https\r\n\r\n"),
            "GET / HTTP/1.1\r\nHost: a\r\n" + Forwarded("a") + "\r\n");
}

TEST_F(HeadWriterTest, ReplacesAnUntrustedClientsForwardedFor) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
                     "x-forwarded-for: 10.0.0.3\r\n\r\n"),
            "GET / HTTP/1.1\r\nHost: a\r\n" + Forwarded("a") + "\r\n");
}

TEST_F(HeadWriterTest, AppendsClientToForwardedForChain) {
  const std::string chain =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
      "x-forwarded-for: 10.0.0.3\r\n\r\n";
  const std::string expected =
      "GET / HTTP/1.1\r\nHost: a\r\n"
      "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 203.0.113.7\r\n"
      "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Real-IP: 203.0.113.7\r\n\r\n";
  EXPECT_EQ(Upstream(chain, {"203.0.113.7", "http", {}, /*trusted=*/true}), expected);
  EXPECT_EQ(Upstream(chain, {"203.0.113.7", "http", {}, false, /*append_untrusted_for=*/true}),
            expected);
}

TEST_F(HeadWriterTest, SetsRealIpToTheClientATrustedProxyReported) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 198.51.100.9\r\n\r\n",
                     {"10.0.0.5", "http", "198.51.100.9", /*trusted=*/true}),
            "GET / HTTP/1.1\r\nHost: a\r\n"
            "X-Forwarded-For: 198.51.100.9, 10.0.0.5\r\n"
            "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Real-IP: 198.51.100.9\r\n\r\n");
}

TEST_F(HeadWriterTest, RebuildsHostFromAbsoluteFormTarget) {
  EXPECT_EQ(Upstream("GET http://origin.example:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n"),
            "GET /p?q HTTP/1.1\r\nHost: origin.example:8080\r\n" +
                Forwarded("origin.example:8080") + "\r\n");
}

TEST_F(HeadWriterTest, CollapsesDuplicateContentLengths) {
  EXPECT_EQ(
      Upstream("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: 1\r\n"
               "Content-Length: 005, 5\r\n\r\n"),
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nX: 1\r\n" + Forwarded("a") + "\r\n");
}

TEST_F(HeadWriterTest, NormalisesTransferEncodingToChunked) {
  EXPECT_EQ(
      Upstream("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ChUnKeD\r\n\r\n"),
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n" + Forwarded("a") + "\r\n");
}

TEST_F(HeadWriterTest, KeepsFramingFieldsNamedByConnection) {
  EXPECT_EQ(Upstream("POST / HTTP/1.1\r\nHost: a\r\nConnection: Content-Length, Host\r\n"
                     "Content-Length: 3\r\n\r\n"),
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n" + Forwarded("a") + "\r\n");
}

TEST_F(HeadWriterTest, PassesWebSocketUpgradeOn) {
  EXPECT_EQ(Upstream("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
                     "Upgrade: websocket\r\nSec-WebSocket-Key: k\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n"),
            "GET /ws HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: k\r\nSec-WebSocket-Version: 13\r\n" +
                Forwarded("a") + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST_F(HeadWriterTest, SpeaksHttp10UpstreamForHttp10Client) {
  EXPECT_EQ(Upstream("GET / HTTP/1.0\r\nHost: a\r\n\r\n"),
            "GET / HTTP/1.0\r\nHost: a\r\n" + Forwarded("a") + "Connection: keep-alive\r\n\r\n");
}

TEST_F(HeadWriterTest, OmitsHostWhenHttp10ClientSentNone) {
  EXPECT_EQ(Upstream("GET / HTTP/1.0\r\n\r\n"),
            "GET / HTTP/1.0\r\n" + Forwarded("") + "Connection: keep-alive\r\n\r\n");
}

TEST_F(HeadWriterTest, WritesHttpsProto) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\n\r\n", {"2001:db8::1", "https"}),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 2001:db8::1\r\n"
            "X-Forwarded-Proto: https\r\nX-Forwarded-Host: a\r\nX-Real-IP: 2001:db8::1\r\n\r\n");
}

constexpr char kClientForwarded[] =
    "Forwarded: for=8.8.8.8\r\nX-Forwarded-Host: evil\r\nX-Forwarded-Port: 1\r\n"
    "X-Forwarded-Prefix: /p\r\nX-Forwarded-Proto: https\r\n";

TEST_F(HeadWriterTest, DropsForwardedFieldsFromAnUntrustedClient) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\n" + std::string(kClientForwarded) +
                         "forwarded: by=x\r\nX-Kept: k\r\n\r\n",
                     {"203.0.113.7", "http", {}, false, false, false, /*port=*/8080}),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Kept: k\r\nX-Forwarded-For: 203.0.113.7\r\n"
            "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Forwarded-Port: 8080\r\n"
            "X-Real-IP: 203.0.113.7\r\n\r\n");
}

TEST_F(HeadWriterTest, KeepsForwardedFieldsFromATrustedProxy) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\n" + std::string(kClientForwarded) + "\r\n",
                     {"10.0.0.5", "http", {}, /*trusted=*/true, false, false, /*port=*/8080}),
            "GET / HTTP/1.1\r\nHost: a\r\n" + std::string(kClientForwarded) +
                "X-Forwarded-For: 10.0.0.5\r\nX-Real-IP: 10.0.0.5\r\n\r\n");
}

TEST_F(HeadWriterTest, DropsTrustedForwardedFieldsTheConnectionHeaderNames) {
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Forwarded-Host\r\n"
                     "X-Forwarded-Host: h\r\n\r\n",
                     {"10.0.0.5", "http", {}, /*trusted=*/true}),
            "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.5\r\n"
            "X-Forwarded-Proto: http\r\nX-Forwarded-Host: a\r\nX-Real-IP: 10.0.0.5\r\n\r\n");
}

TEST_F(HeadWriterTest, WritesAnRfc7239ElementAfterATrustedProxysOnes) {
  const ForwardedFor v4{"10.0.0.5", "http", {}, /*trusted=*/true, false, /*rfc7239=*/true};
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: a.example\r\nForwarded: for=1.2.3.4\r\n\r\n", v4),
            "GET / HTTP/1.1\r\nHost: a.example\r\nForwarded: for=1.2.3.4\r\n"
            "X-Forwarded-For: 10.0.0.5\r\nX-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: a.example\r\nX-Real-IP: 10.0.0.5\r\n"
            "Forwarded: for=10.0.0.5;host=a.example;proto=http\r\n\r\n");
  const ForwardedFor v6{"2001:db8::1", "http", {}, false, false, /*rfc7239=*/true};
  const std::string out = Upstream("GET / HTTP/1.1\r\nHost: a:81\r\n\r\n", v6);
  EXPECT_NE(out.find("\r\nForwarded: for=\"[2001:db8::1]\";host=\"a:81\";proto=http\r\n"),
            std::string::npos)
      << out;
}

TEST_F(HeadWriterTest, AppendsWithoutAllocatingWhenCapacitySuffices) {
  const std::string raw =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nContent-Length: 0\r\n\r\n";
  RequestHead req;
  ASSERT_EQ(ParseRequestHead(raw, {}, &req).status, ParseStatus::kDone);
  std::string out = "previous";
  out.reserve(4096);
  const char* storage = out.data();
  WriteUpstreamRequestHead(req, {"203.0.113.7", "http"}, &out);
  EXPECT_EQ(out.data(), storage);
  EXPECT_EQ(out.substr(0, 23), "previousGET / HTTP/1.1\r");
}

TEST_F(HeadWriterTest, RequestIdReplacesTheClientsFieldUpstreamAndTheBackendsDownstream) {
  const std::string raw = "GET / HTTP/1.1\r\nHost: a\r\nx-request-id: bad id\r\nA: b\r\n\r\n";
  RequestHead req;
  ASSERT_EQ(ParseRequestHead(raw, {}, &req).status, ParseStatus::kDone);
  std::string out;
  WriteUpstreamRequestHead(
      req, {.client_ip = "203.0.113.7", .proto = "http", .request_id = {"X-Request-Id", "id1"}},
      &out);
  EXPECT_EQ(out.find("bad"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nA: b\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nX-Request-Id: id1\r\n"), std::string::npos) << out;

  ResponseHead resp;
  const std::string raw_resp =
      "HTTP/1.1 200 OK\r\nX-Request-Id: other\r\nContent-Length: 0\r\n\r\n";
  ASSERT_EQ(ParseResponseHead(raw_resp, Method::kGet, {}, &resp).status, ParseStatus::kDone);
  std::string client;
  WriteClientResponseHead(resp, 1, true, &client, {"X-Request-Id", "id1"});
  EXPECT_EQ(client, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Request-Id: id1\r\n\r\n");
}

TEST_F(HeadWriterTest, ClientCertSubjectIsTheProxysOnly) {
  const std::string raw =
      "GET / HTTP/1.1\r\nHost: a\r\nX-Client-Cert-Subject: CN=admin\r\n"
      "x-client-cert-SUBJECT: CN=root\r\nA: b\r\n\r\n";
  RequestHead req;
  ASSERT_EQ(ParseRequestHead(raw, {}, &req).status, ParseStatus::kDone);
  std::string plain;
  WriteUpstreamRequestHead(req, {.client_ip = "203.0.113.7", .proto = "http"}, &plain);
  EXPECT_EQ(plain, "GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n" + Forwarded("a") + "\r\n");
  std::string verified;
  WriteUpstreamRequestHead(
      req,
      {.client_ip = "203.0.113.7", .proto = "http", .client_cert_subject = "CN=alice,O=Example"},
      &verified);
  EXPECT_EQ(verified, "GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n" + Forwarded("a") +
                          "X-Client-Cert-Subject: CN=alice,O=Example\r\n\r\n");
}

TEST_F(HeadWriterTest, WritesResponseStatusLineAndFields) {
  EXPECT_EQ(Client("HTTP/1.1 200 Fine\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n"),
            "HTTP/1.1 200 Fine\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\n");
}

TEST_F(HeadWriterTest, FillsMissingReasonPhrase) {
  EXPECT_EQ(Client("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
}

TEST_F(HeadWriterTest, StripsHopByHopFieldsFromResponse) {
  EXPECT_EQ(Client("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\n"
                   "Keep-Alive: timeout=5\r\nX-Internal: 1\r\nTrailer: X-Sum\r\n"
                   "Transfer-Encoding: chunked\r\nServer: s\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nServer: s\r\n\r\n");
}

TEST_F(HeadWriterTest, TellsClientTheConnectionCloses) {
  EXPECT_EQ(Client("HTTP/1.1 200 OK\r\nServer: s\r\n\r\n", 1, false),
            "HTTP/1.1 200 OK\r\nServer: s\r\nConnection: close\r\n\r\n");
}

TEST_F(HeadWriterTest, KeepsHttp10ClientAliveExplicitly) {
  EXPECT_EQ(Client("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 0, true),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n");
}

TEST_F(HeadWriterTest, PassesSwitchingProtocolsOn) {
  EXPECT_EQ(Client("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
                   "Upgrade: websocket\r\nSec-WebSocket-Accept: x\r\n\r\n",
                   1, false),
            "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\n"
            "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
}

TEST_F(HeadWriterTest, KeepsContentLengthOfHeadResponse) {
  EXPECT_EQ(Client("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Length: 1234\r\n\r\n", 1,
                   true, Method::kHead),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");
}

TEST(FieldTokenTest, ComparesIgnoringAsciiCase) {
  EXPECT_TRUE(EqualsIgnoreCase("Content-Length", "content-LENGTH"));
  EXPECT_FALSE(EqualsIgnoreCase("Content-Length", "Content-Lengt"));
  EXPECT_FALSE(EqualsIgnoreCase("a", "b"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
}

TEST(FieldTokenTest, FindsTokensInLists) {
  EXPECT_TRUE(ListHasToken("keep-alive, Upgrade", "upgrade"));
  EXPECT_TRUE(ListHasToken(" close ", "close"));
  EXPECT_TRUE(ListHasToken("a,,\tb\t", "b"));
  EXPECT_FALSE(ListHasToken("closed", "close"));
  EXPECT_FALSE(ListHasToken("", "close"));
}

TEST_F(HeadWriterTest, FieldEditsApplyToTheClientsFieldsAndTheProxysOwn) {
  FieldEdits edits;
  edits.remove = {"x-debug", "X-Real-IP"};
  edits.set = {{"Host", "backend.internal"}, {"X-Forwarded-For", "1.2.3.4"}};
  edits.add = {{"X-Debug-Id", "7"}, {"Accept", "text/html"}};
  EXPECT_EQ(Upstream("GET / HTTP/1.1\r\nHost: example.com\r\nX-Debug: 1\r\nAccept: */*\r\n"
                     "X-Debug: 2\r\n\r\n",
                     {"203.0.113.7", "http"}, &edits),
            "GET / HTTP/1.1\r\nAccept: */*\r\nX-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: example.com\r\nHost: backend.internal\r\n"
            "X-Forwarded-For: 1.2.3.4\r\nX-Debug-Id: 7\r\nAccept: text/html\r\n\r\n");
}

TEST_F(HeadWriterTest, FieldEditsApplyToTheResponseBeforeConnectionFields) {
  FieldEdits edits;
  edits.remove = {"Server"};
  edits.set = {{"Strict-Transport-Security", "max-age=1"}};
  EXPECT_EQ(Client("HTTP/1.1 200 OK\r\nServer: a\r\nContent-Length: 0\r\nServer: b\r\n"
                   "Strict-Transport-Security: max-age=9\r\n\r\n",
                   1, /*client_keep_alive=*/false, Method::kGet, &edits),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nStrict-Transport-Security: max-age=1\r\n"
            "Connection: close\r\n\r\n");
  FieldEdits none;
  EXPECT_EQ(Client("HTTP/1.1 204 No Content\r\nServer: a\r\n\r\n", 1, true, Method::kGet, &none),
            "HTTP/1.1 204 No Content\r\nServer: a\r\n\r\n");
}

}  // namespace
}  // namespace outrigger::http

namespace outrigger::http {
namespace {

TEST(EditResponseFieldsTest, EditsTheFieldsOfAWholeAnswerAndKeepsItsBody) {
  FieldEdits edits;
  edits.remove.push_back("Server");
  edits.set.push_back({"Cache-Control", "no-store"});
  edits.add.push_back({"X-Frame-Options", "DENY"});
  std::string answer =
      "HTTP/1.1 502 Bad Gateway\r\nServer: outrigger\r\nContent-Length: 5\r\n\r\nx\r\n\r\n";
  EditResponseFields(edits, &answer);
  EXPECT_EQ(answer,
            "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\nCache-Control: no-store\r\n"
            "X-Frame-Options: DENY\r\n\r\nx\r\n\r\n");
}

TEST(EditResponseFieldsTest, LeavesAnAnswerAloneWithoutEditsOrWithoutAHeadEnd) {
  std::string answer = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
  EditResponseFields(FieldEdits{}, &answer);
  EXPECT_EQ(answer, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  FieldEdits edits;
  edits.add.push_back({"X-A", "1"});
  std::string cut = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n";
  EditResponseFields(edits, &cut);
  EXPECT_EQ(cut, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n");
}

}  // namespace
}  // namespace outrigger::http
