#include "proxy/http/error_page.h"

#include <gtest/gtest.h>

#include <string>

#include "proxy/http/response_parser.h"

namespace outrigger::http {
namespace {

TEST(ErrorPageTest, WritesCompleteResponseWithDetail) {
  std::string out;
  WriteErrorResponse(502, "upstream connect failed", true, "", false, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 502 Bad Gateway\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 41\r\n"
            "Connection: close\r\n"
            "\r\n"
            "502 Bad Gateway: upstream connect failed\n");
}

TEST(ErrorPageTest, CarriesTheRequestIdInHeadAndBody) {
  std::string out;
  WriteErrorResponse(502, "upstream connect failed", true, "", false, &out, "X-Request-Id", "r1");
  EXPECT_EQ(out,
            "HTTP/1.1 502 Bad Gateway\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 56\r\n"
            "Connection: close\r\n"
            "X-Request-Id: r1\r\n"
            "\r\n"
            "502 Bad Gateway: upstream connect failed\n"
            "request id: r1\n");
}

TEST(ErrorPageTest, OmitsConnectionCloseWhenKeepingTheConnection) {
  std::string out;
  WriteErrorResponse(503, "no backend available", false, "Retry-After: 1\r\n", false, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 503 Service Unavailable\r\n"
            "Content-Type: text/plain\r\n"
            "Content-Length: 46\r\n"
            "Retry-After: 1\r\n"
            "\r\n"
            "503 Service Unavailable: no backend available\n");
}

TEST(ErrorPageTest, WritesBodyWithoutDetail) {
  std::string out;
  WriteErrorResponse(404, "", false, "", false, &out);
  EXPECT_EQ(out,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 14\r\n\r\n"
            "404 Not Found\n");
}

TEST(ErrorPageTest, LeavesOutTheBodyForHeadButKeepsItsLength) {
  std::string get;
  WriteErrorResponse(404, "no route", false, "", false, &get);
  std::string head;
  WriteErrorResponse(404, "no route", false, "", true, &head);
  EXPECT_EQ(head,
            "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n\r\n");
  EXPECT_EQ(get, head + "404 Not Found: no route\n");
  ResponseHead parsed;
  ASSERT_EQ(ParseResponseHead(head, Method::kHead, {}, &parsed).status, ParseStatus::kDone);
  EXPECT_EQ(parsed.head_size, head.size());
  EXPECT_EQ(parsed.content_length, 24u);
}

TEST(ErrorPageTest, AppendsToExistingOutput) {
  std::string out = "x";
  WriteErrorResponse(400, "bad", true, "", false, &out);
  EXPECT_EQ(out.substr(0, 10), "xHTTP/1.1 ");
}

TEST(ErrorPageTest, ProducesResponsesOurOwnParserAccepts) {
  for (int status : {400, 413, 414, 431, 500, 501, 502, 503, 504, 505}) {
    std::string out;
    WriteErrorResponse(status, "detail", true, "", false, &out);
    ResponseHead head;
    ASSERT_EQ(ParseResponseHead(out, Method::kGet, {}, &head).status, ParseStatus::kDone);
    EXPECT_EQ(head.status, status);
    EXPECT_EQ(head.body, BodyKind::kContentLength);
    EXPECT_EQ(head.head_size + head.content_length, out.size());
    EXPECT_FALSE(head.keep_alive);
  }
}

TEST(ErrorPageTest, KnowsTheReasonPhrasesTheProxyUses) {
  EXPECT_EQ(ReasonPhrase(400), "Bad Request");
  EXPECT_EQ(ReasonPhrase(414), "URI Too Long");
  EXPECT_EQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_EQ(ReasonPhrase(501), "Not Implemented");
  EXPECT_EQ(ReasonPhrase(502), "Bad Gateway");
  EXPECT_EQ(ReasonPhrase(503), "Service Unavailable");
  EXPECT_EQ(ReasonPhrase(504), "Gateway Timeout");
  EXPECT_EQ(ReasonPhrase(505), "HTTP Version Not Supported");
  EXPECT_EQ(ReasonPhrase(299), "");
}

}  // namespace
}  // namespace outrigger::http
