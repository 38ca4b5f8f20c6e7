#include "proxy/http/response_parser.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace outrigger::http {
namespace {

using namespace std::literals;

std::string Response(std::string_view status_line, std::string_view fields) {
  std::string s(status_line);
  s += "\r\n";
  s += fields;
  s += "\r\n";
  return s;
}

// ---------------------------------------------------------------------------------------
// Valid heads and the body framing they imply.

struct ValidCase {
  std::string name;
  Method request_method;
  std::string head;
  int status;
  BodyKind body;
  uint64_t content_length;
  bool keep_alive;
};

std::vector<ValidCase> ValidCases() {
  return {
      {"FramesBodyByContentLength", Method::kGet,
       Response("HTTP/1.1 200 OK", "Content-Length: 12\r\nContent-Type: text/plain\r\n"), 200,
       BodyKind::kContentLength, 12, true},
      {"FramesChunkedBody", Method::kGet,
       Response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n"), 200, BodyKind::kChunked, 0,
       true},
      {"AcceptsMixedCaseChunked", Method::kPost,
       Response("HTTP/1.1 201 Created", "Transfer-Encoding: Chunked\r\n"), 201, BodyKind::kChunked,
       0, true},
      {"DelimitsUnframedBodyByClose", Method::kGet, Response("HTTP/1.1 200 OK", "Server: x\r\n"),
       200, BodyKind::kCloseDelimited, 0, false},
      {"HasNoBodyForHeadRequest", Method::kHead,
       Response("HTTP/1.1 200 OK", "Content-Length: 1234\r\n"), 200, BodyKind::kNone, 1234, true},
      {"HasNoBodyForHeadRequestWithoutFraming", Method::kHead, Response("HTTP/1.1 200 OK", ""), 200,
       BodyKind::kNone, 0, true},
      {"HasNoBodyFor204", Method::kGet, Response("HTTP/1.1 204 No Content", ""), 204,
       BodyKind::kNone, 0, true},
      {"HasNoBodyFor304", Method::kGet,
       Response("HTTP/1.1 304 Not Modified", "Content-Length: 99\r\n"), 304, BodyKind::kNone, 99,
       true},
      {"HasNoBodyFor100Continue", Method::kPost, Response("HTTP/1.1 100 Continue", ""), 100,
       BodyKind::kNone, 0, true},
      {"HasNoBodyFor103EarlyHints", Method::kGet,
       Response("HTTP/1.1 103 Early Hints", "Link: </a.css>; rel=preload\r\n"), 103,
       BodyKind::kNone, 0, true},
      {"NeverReusesAfter101", Method::kGet,
       Response("HTTP/1.1 101 Switching Protocols",
                "Connection: Upgrade\r\nUpgrade: websocket\r\n"),
       101, BodyKind::kNone, 0, false},
      {"HasNoBodyForConnect2xx", Method::kConnect,
       Response("HTTP/1.1 200 Connection established", ""), 200, BodyKind::kNone, 0, true},
      {"ClosesOnConnectionClose", Method::kGet,
       Response("HTTP/1.1 200 OK", "Content-Length: 0\r\nConnection: close\r\n"), 200,
       BodyKind::kContentLength, 0, false},
      {"ClosesHttp10ByDefault", Method::kGet, Response("HTTP/1.0 200 OK", "Content-Length: 2\r\n"),
       200, BodyKind::kContentLength, 2, false},
      {"KeepsHttp10AliveOnKeepAlive", Method::kGet,
       Response("HTTP/1.0 200 OK", "Content-Length: 2\r\nConnection: keep-alive\r\n"), 200,
       BodyKind::kContentLength, 2, true},
      {"AcceptsMissingReasonAndSpace", Method::kGet,
       Response("HTTP/1.1 200", "Content-Length: 0\r\n"), 200, BodyKind::kContentLength, 0, true},
      {"AcceptsEmptyReason", Method::kGet, Response("HTTP/1.1 404 ", "Content-Length: 0\r\n"), 404,
       BodyKind::kContentLength, 0, true},
      {"CollapsesIdenticalContentLengths", Method::kGet,
       Response("HTTP/1.1 200 OK", "Content-Length: 3\r\nContent-Length: 3, 3\r\n"), 200,
       BodyKind::kContentLength, 3, true},
  };
}

// Test names carry the case; gtest need not dump its bytes.
void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }

class ValidResponseTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidResponseTest, ParsesStatusAndFraming) {
  const ValidCase& c = GetParam();
  ResponseHead head;
  const ParseResult r = ParseResponseHead(c.head, c.request_method, {}, &head);
  ASSERT_EQ(r.status, ParseStatus::kDone) << r.reason;
  EXPECT_EQ(head.status, c.status);
  EXPECT_EQ(head.body, c.body);
  EXPECT_EQ(head.content_length, c.content_length);
  EXPECT_EQ(head.keep_alive, c.keep_alive);
  EXPECT_EQ(head.head_size, c.head.size());
}

TEST_P(ValidResponseTest, EveryPrefixIsIncomplete) {
  const ValidCase& c = GetParam();
  ResponseHead head;
  for (size_t n = 0; n < c.head.size(); ++n) {
    const ParseResult r =
        ParseResponseHead(std::string_view(c.head).substr(0, n), c.request_method, {}, &head);
    ASSERT_EQ(r.status, ParseStatus::kIncomplete) << "prefix of " << n << " bytes: " << r.reason;
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ValidResponseTest, testing::ValuesIn(ValidCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Invalid heads: every one is a 502 and the upstream connection is not reused.

struct InvalidCase {
  std::string name;
  std::string head;
};

std::vector<InvalidCase> InvalidCases() {
  std::string many_fields;
  for (int i = 0; i < 101; ++i) many_fields += "X-F" + std::to_string(i) + ": v\r\n";
  return {
      {"RejectsContentLengthWithTransferEncoding",
       Response("HTTP/1.1 200 OK", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n")},
      {"RejectsDifferingContentLengths",
       Response("HTTP/1.1 200 OK", "Content-Length: 5\r\nContent-Length: 6\r\n")},
      {"RejectsContentLengthListWithDifferentValues",
       Response("HTTP/1.1 200 OK", "Content-Length: 5, 6\r\n")},
      {"RejectsSignedContentLength", Response("HTTP/1.1 200 OK", "Content-Length: +5\r\n")},
      {"RejectsNonNumericContentLength", Response("HTTP/1.1 200 OK", "Content-Length: abc\r\n")},
      {"RejectsFinalCodingOtherThanChunked",
       Response("HTTP/1.1 200 OK", "Transfer-Encoding: gzip\r\n")},
      {"RejectsChunkedNotLast",
       Response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked, gzip\r\n")},
      {"RejectsCodingBeforeChunked",
       Response("HTTP/1.1 200 OK", "Transfer-Encoding: gzip, chunked\r\n")},
      {"RejectsChunkedTwice",
       Response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")},
      {"RejectsTransferEncodingInHttp10",
       Response("HTTP/1.0 200 OK", "Transfer-Encoding: chunked\r\n")},
      {"RejectsAmbiguousFramingEvenWithoutBody",
       Response("HTTP/1.1 304 Not Modified", "Content-Length: 1\r\nContent-Length: 2\r\n")},
      {"RejectsTwoDigitStatus", Response("HTTP/1.1 20 OK", "")},
      {"RejectsFourDigitStatus", Response("HTTP/1.1 2000 OK", "")},
      {"RejectsStatusBelow100", Response("HTTP/1.1 099 Odd", "")},
      {"RejectsStatusAbove599", Response("HTTP/1.1 600 Odd", "")},
      {"RejectsDoubleSpaceBeforeStatus", Response("HTTP/1.1  200 OK", "")},
      {"RejectsHttp2", Response("HTTP/2.0 200 OK", "")},
      {"RejectsHttp09StyleResponse", "<html>hello</html>"},
      {"RejectsLowercaseHttpName", Response("http/1.1 200 OK", "")},
      {"RejectsControlCharacterInReason", Response("HTTP/1.1 200 O\x01K", "")},
      {"RejectsBareLfAfterStatusLine", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"},
      {"RejectsBareCrInField", Response("HTTP/1.1 200 OK", "X-A: b\rc\r\n")},
      {"RejectsNulInField", Response("HTTP/1.1 200 OK", "X-A: b\0c\r\n"s)},
      {"RejectsObsFold", Response("HTTP/1.1 200 OK", "X-A: b\r\n c\r\n")},
      {"RejectsWhitespaceBeforeColon", Response("HTTP/1.1 200 OK", "Content-Length : 0\r\n")},
      {"RejectsTooManyFields", Response("HTTP/1.1 200 OK", many_fields)},
      {"RejectsHeadOverLimit",
       Response("HTTP/1.1 200 OK", "X-Big: " + std::string(33 * 1024, 'b') + "\r\n")},
  };
}

// Test names carry the case; gtest need not dump its bytes.
void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class InvalidResponseTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidResponseTest, RejectsWithBadGateway) {
  const InvalidCase& c = GetParam();
  ResponseHead head;
  const ParseResult r = ParseResponseHead(c.head, Method::kGet, {}, &head);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 502) << r.reason;
  EXPECT_FALSE(r.reason.empty());
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidResponseTest, testing::ValuesIn(InvalidCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------

TEST(ResponseParserTest, FillsStatusLineAndFields) {
  const std::string raw =
      Response("HTTP/1.1 404 Not Found Here", "Content-Length: 0\r\nX-A:\t1 \r\n");
  ResponseHead head;
  ASSERT_EQ(ParseResponseHead(raw, Method::kGet, {}, &head).status, ParseStatus::kDone);
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.reason, "Not Found Here");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[1].name, "X-A");
  EXPECT_EQ(head.headers[1].value, "1");
}

TEST(ResponseParserTest, LeavesBodyBytesOutOfTheHead) {
  const std::string head_bytes = Response("HTTP/1.1 200 OK", "Content-Length: 5\r\n");
  ResponseHead head;
  ASSERT_EQ(ParseResponseHead(head_bytes + "hello", Method::kGet, {}, &head).status,
            ParseStatus::kDone);
  EXPECT_EQ(head.head_size, head_bytes.size());
}

TEST(ResponseParserTest, ResetsStateFromThePreviousResponse) {
  ResponseHead head;
  const std::string first = Response("HTTP/1.1 200 OK", "Transfer-Encoding: chunked\r\n");
  ASSERT_EQ(ParseResponseHead(first, Method::kGet, {}, &head).status, ParseStatus::kDone);
  const std::string second = Response("HTTP/1.1 204 No Content", "");
  ASSERT_EQ(ParseResponseHead(second, Method::kGet, {}, &head).status, ParseStatus::kDone);
  EXPECT_EQ(head.body, BodyKind::kNone);
  EXPECT_TRUE(head.headers.empty());
  EXPECT_TRUE(head.reason == "No Content");
}

TEST(ResponseParserTest, RejectsGarbageBeforeTheHeadEnds) {
  ResponseHead head;
  EXPECT_EQ(ParseResponseHead("HTTX", Method::kGet, {}, &head).http_status, 502);
  EXPECT_EQ(ParseResponseHead("HTTP/1.1 2x", Method::kGet, {}, &head).http_status, 502);
}

// The rule an HTTP/2 backend's answer is framed by too (exchange_h2.cc): its codec frames by
// END_STREAM alone, so a HEAD answer or a 204 ended after its HEADERS must still have no body.
TEST(ResponseParserTest, StatusHasNoBodyFollowsTheMethodAndStatus) {
  EXPECT_TRUE(StatusHasNoBody(Method::kHead, 200));
  EXPECT_TRUE(StatusHasNoBody(Method::kGet, 103));
  EXPECT_TRUE(StatusHasNoBody(Method::kPost, 204));
  EXPECT_TRUE(StatusHasNoBody(Method::kGet, 304));
  EXPECT_TRUE(StatusHasNoBody(Method::kConnect, 200));
  EXPECT_FALSE(StatusHasNoBody(Method::kGet, 200));
  EXPECT_FALSE(StatusHasNoBody(Method::kConnect, 407));
  EXPECT_FALSE(StatusHasNoBody(Method::kPost, 205));
}

}  // namespace
}  // namespace outrigger::http
