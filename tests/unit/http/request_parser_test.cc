#include "proxy/http/request_parser.h"

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace outrigger::http {
namespace {

using namespace std::literals;

// A minimal valid HTTP/1.1 head plus `fields` (each line ending in CRLF) and the empty line.
std::string Head(std::string_view request_line, std::string_view fields) {
  std::string s(request_line);
  s += "\r\n";
  s += fields;
  s += "\r\n";
  return s;
}

std::string Post(std::string_view fields) { return Head("POST /upload HTTP/1.1", fields); }

ParseResult Parse(std::string_view data, RequestHead* out, const HeadLimits& limits = {}) {
  return ParseRequestHead(data, limits, out);
}

// ---------------------------------------------------------------------------------------
// Valid heads: each must parse to kDone, and every proper prefix must be kIncomplete.

struct ValidCase {
  std::string name;
  std::string head;
  BodyKind body = BodyKind::kNone;
  uint64_t content_length = 0;
  bool keep_alive = true;
};

std::vector<ValidCase> ValidCases() {
  return {
      {"AcceptsSimpleGet", Head("GET / HTTP/1.1", "Host: example.com\r\n")},
      {"AcceptsBrowserGet",
       Head("GET /index.html?q=1 HTTP/1.1",
            "Host: www.example.com\r\n"
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
            "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n"
            "Accept-Language: en-US,en;q=0.5\r\n"
            "Accept-Encoding: gzip, deflate, br\r\n"
            "Connection: keep-alive\r\n"
            "Upgrade-Insecure-Requests: 1\r\n")},
      {"IgnoresEmptyLinesBeforeRequestLine", "\r\n\r\n" + Head("GET / HTTP/1.1", "Host: a\r\n")},
      {"AcceptsContentLength", Post("Host: a\r\nContent-Length: 5\r\n"), BodyKind::kContentLength,
       5},
      {"AcceptsZeroContentLength", Post("Host: a\r\nContent-Length: 0\r\n"),
       BodyKind::kContentLength, 0},
      {"AcceptsContentLengthWithOwsAroundValue", Post("Host: a\r\nContent-Length:  5 \t\r\n"),
       BodyKind::kContentLength, 5},
      {"AcceptsContentLengthWithLeadingZeros", Post("Host: a\r\nContent-Length: 007\r\n"),
       BodyKind::kContentLength, 7},
      {"CollapsesIdenticalDuplicateContentLengths",
       Post("Host: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n"), BodyKind::kContentLength, 5},
      {"CollapsesIdenticalContentLengthList", Post("Host: a\r\nContent-Length: 5, 5\r\n"),
       BodyKind::kContentLength, 5},
      {"AcceptsLargestContentLength", Post("Host: a\r\nContent-Length: 9223372036854775807\r\n"),
       BodyKind::kContentLength, 9223372036854775807ULL},
      {"AcceptsChunked", Post("Host: a\r\nTransfer-Encoding: chunked\r\n"), BodyKind::kChunked},
      {"AcceptsMixedCaseChunked", Post("Host: a\r\nTransfer-Encoding: ChUnKeD\r\n"),
       BodyKind::kChunked},
      {"AcceptsLowercaseTransferEncodingName", Post("Host: a\r\ntransfer-encoding: chunked\r\n"),
       BodyKind::kChunked},
      {"AcceptsOwsBeforeChunked", Post("Host: a\r\nTransfer-Encoding: \t chunked\r\n"),
       BodyKind::kChunked},
      {"IgnoresEmptyTransferCodingListElements",
       Post("Host: a\r\nTransfer-Encoding: , chunked,\r\n"), BodyKind::kChunked},
      {"AcceptsHtabAndObsTextInValues",
       Head("GET / HTTP/1.1", "Host: a\r\nX-Note: caf\xc3\xa9\tau lait\r\n")},
      {"AcceptsEmptyFieldValue", Head("GET / HTTP/1.1", "Host: a\r\nX-Empty:\r\n")},
      {"AcceptsHttp10WithoutHost", Head("GET / HTTP/1.0", ""), BodyKind::kNone, 0, false},
      {"KeepsHttp10AliveOnKeepAliveToken", Head("GET / HTTP/1.0", "Connection: Keep-Alive\r\n"),
       BodyKind::kNone, 0, true},
      {"ClosesOnConnectionClose", Head("GET / HTTP/1.1", "Host: a\r\nConnection: close\r\n"),
       BodyKind::kNone, 0, false},
      {"ClosesWhenCloseIsAmongConnectionTokens",
       Head("GET / HTTP/1.1", "Host: a\r\nConnection: keep-alive, CLOSE\r\n"), BodyKind::kNone, 0,
       false},
      {"AcceptsAbsoluteForm", Head("GET http://example.com/a?b HTTP/1.1", "Host: other\r\n")},
      {"AcceptsOptionsAsterisk", Head("OPTIONS * HTTP/1.1", "Host: a\r\n")},
      {"AcceptsConnectAuthorityForm", Head("CONNECT example.com:443 HTTP/1.1", "Host: a\r\n")},
      {"AcceptsExtensionMethod", Head("PURGE /cache HTTP/1.1", "Host: a\r\n")},
      {"AcceptsIpv6HostWithPort", Head("GET / HTTP/1.1", "Host: [::1]:8080\r\n")},
  };
}

// Test names carry the case; gtest need not dump its bytes.
void PrintTo(const ValidCase& c, std::ostream* os) { *os << c.name; }

class ValidRequestTest : public testing::TestWithParam<ValidCase> {};

TEST_P(ValidRequestTest, ParsesAndReportsFraming) {
  const ValidCase& c = GetParam();
  RequestHead head;
  const ParseResult r = Parse(c.head, &head);
  ASSERT_EQ(r.status, ParseStatus::kDone) << r.http_status << " " << r.reason;
  EXPECT_EQ(head.head_size, c.head.size());
  EXPECT_EQ(head.body, c.body);
  EXPECT_EQ(head.content_length, c.content_length);
  EXPECT_EQ(head.keep_alive, c.keep_alive);
}

TEST_P(ValidRequestTest, EveryPrefixIsIncomplete) {
  const ValidCase& c = GetParam();
  RequestHead head;
  for (size_t n = 0; n < c.head.size(); ++n) {
    const ParseResult r = Parse(std::string_view(c.head).substr(0, n), &head);
    ASSERT_EQ(r.status, ParseStatus::kIncomplete)
        << "prefix of " << n << " bytes: " << r.http_status << " " << r.reason;
  }
  EXPECT_EQ(Parse(c.head, &head).status, ParseStatus::kDone);
}

TEST_P(ValidRequestTest, LeavesFollowingBytesOutOfTheHead) {
  const ValidCase& c = GetParam();
  RequestHead head;
  const std::string pipelined = c.head + "hello" + c.head;
  ASSERT_EQ(Parse(pipelined, &head).status, ParseStatus::kDone);
  EXPECT_EQ(head.head_size, c.head.size());
}

INSTANTIATE_TEST_SUITE_P(Table, ValidRequestTest, testing::ValuesIn(ValidCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Invalid heads, with the status the proxy must answer before closing.

struct InvalidCase {
  std::string name;
  std::string head;
  int status;
};

std::vector<InvalidCase> InvalidCases() {
  const std::string long_target(8 * 1024, 'a');
  std::string many_fields;
  for (int i = 0; i < 101; ++i) many_fields += "X-F" + std::to_string(i) + ": v\r\n";
  return {
      // Request smuggling: CL.TE and TE.CL.
      {"RejectsContentLengthWithTransferEncoding",
       Post("Host: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"RejectsTransferEncodingWithContentLength",
       Post("Host: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n"), 400},
      {"RejectsZeroContentLengthWithTransferEncoding",
       Post("Host: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n"), 400},
      // TE.TE obfuscations.
      {"RejectsXchunked", Post("Host: a\r\nTransfer-Encoding: xchunked\r\n"), 400},
      {"RejectsChunkedFollowedByIdentity",
       Post("Host: a\r\nTransfer-Encoding: chunked, identity\r\n"), 400},
      {"RejectsSpaceBeforeColonInTransferEncoding",
       Post("Host: a\r\nTransfer-Encoding : chunked\r\n"), 400},
      {"RejectsTabBeforeColonInTransferEncoding",
       Post("Host: a\r\nTransfer-Encoding\t: chunked\r\n"), 400},
      {"RejectsObsFoldedTransferEncoding", Post("Host: a\r\nTransfer-Encoding:\r\n chunked\r\n"),
       400},
      {"RejectsDuplicateChunkedFields",
       Post("Host: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"), 400},
      {"RejectsChunkedListedTwice", Post("Host: a\r\nTransfer-Encoding: chunked, chunked\r\n"),
       400},
      {"RejectsChunkedNotLast", Post("Host: a\r\nTransfer-Encoding: chunked, gzip\r\n"), 400},
      {"RejectsFinalCodingOtherThanChunked", Post("Host: a\r\nTransfer-Encoding: gzip\r\n"), 400},
      {"RejectsEmptyTransferEncoding", Post("Host: a\r\nTransfer-Encoding:\r\n"), 400},
      {"RejectsChunkedWithParameters", Post("Host: a\r\nTransfer-Encoding: chunked;q=1\r\n"), 400},
      {"RejectsVerticalTabAfterChunked", Post("Host: a\r\nTransfer-Encoding: chunked\x0b\r\n"),
       400},
      {"RejectsUnknownCodingBeforeChunked", Post("Host: a\r\nTransfer-Encoding: gzip, chunked\r\n"),
       501},
      {"RejectsUnknownCodingInEarlierTransferEncodingField",
       Post("Host: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n"), 501},
      {"RejectsTransferEncodingInHttp10", Head("POST / HTTP/1.0", "Transfer-Encoding: chunked\r\n"),
       400},
      // Content-Length syntax.
      {"RejectsContentLengthWithPlusSign", Post("Host: a\r\nContent-Length: +5\r\n"), 400},
      {"RejectsNegativeContentLength", Post("Host: a\r\nContent-Length: -1\r\n"), 400},
      {"RejectsContentLengthListWithDifferentValues", Post("Host: a\r\nContent-Length: 5,6\r\n"),
       400},
      {"RejectsHexContentLength", Post("Host: a\r\nContent-Length: 0x5\r\n"), 400},
      {"RejectsContentLengthWithInnerSpace", Post("Host: a\r\nContent-Length: 5 5\r\n"), 400},
      {"RejectsDecimalPointContentLength", Post("Host: a\r\nContent-Length: 1.5\r\n"), 400},
      {"RejectsEmptyContentLength", Post("Host: a\r\nContent-Length:\r\n"), 400},
      {"RejectsContentLengthListWithEmptyElement", Post("Host: a\r\nContent-Length: 5,,5\r\n"),
       400},
      {"RejectsOverflowingContentLength",
       Post("Host: a\r\nContent-Length: 99999999999999999999\r\n"), 400},
      {"RejectsContentLengthAboveInt64", Post("Host: a\r\nContent-Length: 9223372036854775808\r\n"),
       400},
      {"RejectsDifferingDuplicateContentLengths",
       Post("Host: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n"), 400},
      // Field syntax.
      {"RejectsWhitespaceBeforeColon", Head("GET / HTTP/1.1", "Host : a\r\n"), 400},
      {"RejectsObsFold", Head("GET / HTTP/1.1", "Host: a\r\nX-A: b\r\n c\r\n"), 400},
      {"RejectsWhitespaceBeforeFirstField", Head("GET / HTTP/1.1", " Host: a\r\n"), 400},
      {"RejectsEmptyFieldName", Head("GET / HTTP/1.1", "Host: a\r\n: b\r\n"), 400},
      {"RejectsFieldLineWithoutColon", Head("GET / HTTP/1.1", "Host: a\r\nX-A\r\n"), 400},
      {"RejectsInvalidCharacterInFieldName", Head("GET / HTTP/1.1", "Host: a\r\nX(A): b\r\n"), 400},
      {"RejectsBareCrInFieldValue", Head("GET / HTTP/1.1", "Host: a\r\nX-A: b\rc\r\n"), 400},
      {"RejectsBareCrAsFieldLineEnd", Head("GET / HTTP/1.1", "Host: a\rX-A: b\r\n"), 400},
      {"RejectsBareLfAsFieldLineEnd", Head("GET / HTTP/1.1", "Host: a\nX-A: b\r\n"), 400},
      {"RejectsBareLfAsHeadEnd", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
      {"RejectsBareLfAfterRequestLine", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
      {"RejectsNulInFieldValue", Head("GET / HTTP/1.1", "Host: a\r\nX-A: b\0c\r\n"s), 400},
      {"RejectsNulInFieldName", Head("GET / HTTP/1.1", "Host: a\r\nX\0A: b\r\n"s), 400},
      {"RejectsControlCharacterInFieldValue", Head("GET / HTTP/1.1", "Host: a\r\nX-A: \x01\r\n"),
       400},
      {"RejectsDelInFieldValue", Head("GET / HTTP/1.1", "Host: a\r\nX-A: b\x7f\r\n"), 400},
      // Host.
      {"RejectsTwoHostFields", Head("GET / HTTP/1.1", "Host: a\r\nHost: b\r\n"), 400},
      {"RejectsTwoIdenticalHostFields", Head("GET / HTTP/1.1", "Host: a\r\nHost: a\r\n"), 400},
      {"RejectsTwoHostFieldsInHttp10", Head("GET / HTTP/1.0", "Host: a\r\nHost: b\r\n"), 400},
      {"RejectsMissingHostInHttp11", Head("GET / HTTP/1.1", "Accept: */*\r\n"), 400},
      {"RejectsMissingHostWithAbsoluteForm", Head("GET http://a/ HTTP/1.1", ""), 400},
      {"RejectsEmptyHost", Head("GET / HTTP/1.1", "Host:\r\n"), 400},
      {"RejectsHostWithSpace", Head("GET / HTTP/1.1", "Host: a b\r\n"), 400},
      {"RejectsHostWithUserinfo", Head("GET / HTTP/1.1", "Host: user@a\r\n"), 400},
      {"RejectsHostWithPath", Head("GET / HTTP/1.1", "Host: a/b\r\n"), 400},
      {"RejectsHostWithNonNumericPort", Head("GET / HTTP/1.1", "Host: a:http\r\n"), 400},
      // Request line.
      {"RejectsInvalidMethodToken", Head("G(T / HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsEmptyMethod", Head(" / HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsTabAfterMethod", Head("GET\t/ HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsDoubleSpaceAfterMethod", Head("GET  / HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsDoubleSpaceBeforeVersion", Head("GET /  HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsControlCharacterInTarget", Head("GET /a\x01 HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsNonAsciiInTarget", Head("GET /caf\xc3\xa9 HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsMissingVersion", Head("GET /", "Host: a\r\n"), 400},
      {"RejectsTrailingSpaceAfterVersion", Head("GET / HTTP/1.1 ", "Host: a\r\n"), 400},
      {"RejectsLowercaseHttpName", Head("GET / http/1.1", "Host: a\r\n"), 400},
      {"RejectsTwoDigitMinorVersion", Head("GET / HTTP/1.10", "Host: a\r\n"), 400},
      {"RejectsVersionWithoutDot", Head("GET / HTTP/11", "Host: a\r\n"), 400},
      {"RejectsBareCrBeforeRequestLine", "\r" + Head("GET / HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsAsteriskForGet", Head("GET * HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsOriginFormForConnect", Head("CONNECT / HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsConnectWithoutPort", Head("CONNECT example.com HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsUnknownScheme", Head("GET ftp://a/ HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsAbsoluteFormWithEmptyAuthority", Head("GET http:///x HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsAbsoluteFormWithUserinfo", Head("GET http://u@a/ HTTP/1.1", "Host: a\r\n"), 400},
      {"RejectsAbsoluteFormWithQueryButNoPath", Head("GET http://a?q HTTP/1.1", "Host: a\r\n"),
       400},
      {"RejectsHttp2", Head("GET / HTTP/2.0", "Host: a\r\n"), 505},
      {"RejectsHttp12", Head("GET / HTTP/1.2", "Host: a\r\n"), 505},
      {"RejectsHttp09", Head("GET / HTTP/0.9", "Host: a\r\n"), 505},
      // Limits.
      {"RejectsRequestLineOverLimit", Head("GET /" + long_target + " HTTP/1.1", "Host: a\r\n"),
       414},
      {"RejectsMoreThanMaxFields", Head("GET / HTTP/1.1", "Host: a\r\n" + many_fields), 431},
      {"RejectsHeadOverLimit",
       Head("GET / HTTP/1.1", "Host: a\r\nX-Big: " + std::string(33 * 1024, 'b') + "\r\n"), 431},
  };
}

// Test names carry the case; gtest need not dump its bytes.
void PrintTo(const InvalidCase& c, std::ostream* os) { *os << c.name; }

class InvalidRequestTest : public testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidRequestTest, RejectsWithStatus) {
  const InvalidCase& c = GetParam();
  RequestHead head;
  const ParseResult r = Parse(c.head, &head);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, c.status) << r.reason;
  EXPECT_FALSE(r.reason.empty());
}

TEST_P(InvalidRequestTest, NoPrefixIsAcceptedAsComplete) {
  const InvalidCase& c = GetParam();
  RequestHead head;
  for (size_t n = 0; n < c.head.size(); n += 1 + n / 64) {
    const ParseResult r = Parse(std::string_view(c.head).substr(0, n), &head);
    ASSERT_NE(r.status, ParseStatus::kDone) << "prefix of " << n << " bytes";
  }
}

INSTANTIATE_TEST_SUITE_P(Table, InvalidRequestTest, testing::ValuesIn(InvalidCases()),
                         [](const auto& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------
// Fields of the parsed head.

// Owns the bytes a head's views point into for the duration of a test.
class RequestParserTest : public testing::Test {
 protected:
  ParseResult ParseOwned(std::string raw, const HeadLimits& limits = {}) {
    raw_ = std::move(raw);
    return ParseRequestHead(raw_, limits, &head_);
  }

  RequestHead head_;

 private:
  std::string raw_;
};

TEST_F(RequestParserTest, FillsRequestLineAndFields) {
  const std::string raw = Head("GET /a/b?c=d HTTP/1.1", "Host: Example.com:8080\r\nX-A:  1  \r\n");
  ASSERT_EQ(ParseOwned(raw).status, ParseStatus::kDone);
  EXPECT_EQ(head_.method_text, "GET");
  EXPECT_EQ(head_.method, Method::kGet);
  EXPECT_EQ(head_.target, "/a/b?c=d");
  EXPECT_EQ(head_.path, "/a/b?c=d");
  EXPECT_EQ(head_.authority, "Example.com:8080");
  EXPECT_FALSE(head_.absolute_form);
  EXPECT_EQ(head_.version_minor, 1);
  ASSERT_EQ(head_.headers.size(), 2u);
  EXPECT_EQ(head_.headers[0].name, "Host");
  EXPECT_EQ(head_.headers[1].name, "X-A");
  EXPECT_EQ(head_.headers[1].value, "1");
}

TEST_F(RequestParserTest, RecognisesMethodsCaseSensitively) {
  const std::pair<std::string_view, Method> cases[] = {
      {"GET", Method::kGet},     {"HEAD", Method::kHead},     {"POST", Method::kPost},
      {"PUT", Method::kPut},     {"DELETE", Method::kDelete}, {"OPTIONS", Method::kOptions},
      {"PATCH", Method::kPatch}, {"TRACE", Method::kTrace},   {"get", Method::kOther},
      {"PURGE", Method::kOther},
  };
  for (const auto& [text, method] : cases) {
    const std::string raw = Head(std::string(text) + " / HTTP/1.1", "Host: a\r\n");
    ASSERT_EQ(ParseOwned(raw).status, ParseStatus::kDone);
    EXPECT_EQ(head_.method, method) << text;
    EXPECT_EQ(head_.method_text, text);
  }
}

TEST_F(RequestParserTest, TakesAuthorityAndPathFromAbsoluteForm) {
  ASSERT_EQ(
      ParseOwned(Head("GET HTTP://api.example.com:81/v1?x=1 HTTP/1.1", "Host: ignored\r\n")).status,
      ParseStatus::kDone);
  EXPECT_TRUE(head_.absolute_form);
  EXPECT_EQ(head_.authority, "api.example.com:81");
  EXPECT_EQ(head_.path, "/v1?x=1");
  EXPECT_EQ(head_.target, "HTTP://api.example.com:81/v1?x=1");
}

TEST_F(RequestParserTest, UsesSlashForAbsoluteFormWithoutPath) {
  ASSERT_EQ(ParseOwned(Head("GET https://example.com HTTP/1.1", "Host: x\r\n")).status,
            ParseStatus::kDone);
  EXPECT_EQ(head_.authority, "example.com");
  EXPECT_EQ(head_.path, "/");
}

TEST_F(RequestParserTest, LeavesAuthorityEmptyForHttp10WithoutHost) {
  ASSERT_EQ(ParseOwned(Head("GET / HTTP/1.0", "")).status, ParseStatus::kDone);
  EXPECT_EQ(head_.version_minor, 0);
  EXPECT_TRUE(head_.authority.empty());
}

TEST_F(RequestParserTest, DetectsWebSocketUpgrade) {
  ASSERT_EQ(ParseOwned(Head("GET /ws HTTP/1.1",
                            "Host: a\r\nConnection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n"))
                .status,
            ParseStatus::kDone);
  EXPECT_TRUE(head_.upgrade_websocket);
  EXPECT_EQ(head_.upgrade, "WebSocket");
  EXPECT_TRUE(head_.keep_alive);
}

TEST_F(RequestParserTest, ReportsNonWebSocketUpgradeWithoutFlaggingIt) {
  ASSERT_EQ(ParseOwned(Head("GET / HTTP/1.1", "Host: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n"))
                .status,
            ParseStatus::kDone);
  EXPECT_FALSE(head_.upgrade_websocket);
  EXPECT_EQ(head_.upgrade, "h2c");
}

TEST_F(RequestParserTest, IgnoresUpgradeNotNamedByConnection) {
  ASSERT_EQ(ParseOwned(Head("GET / HTTP/1.1", "Host: a\r\nUpgrade: websocket\r\n")).status,
            ParseStatus::kDone);
  EXPECT_FALSE(head_.upgrade_websocket);
  EXPECT_TRUE(head_.upgrade.empty());
}

TEST_F(RequestParserTest, IgnoresUpgradeInHttp10) {
  ASSERT_EQ(
      ParseOwned(Head("GET / HTTP/1.0", "Connection: upgrade\r\nUpgrade: websocket\r\n")).status,
      ParseStatus::kDone);
  EXPECT_FALSE(head_.upgrade_websocket);
}

TEST_F(RequestParserTest, DetectsExpectContinue) {
  ASSERT_EQ(ParseOwned(Post("Host: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n")).status,
            ParseStatus::kDone);
  EXPECT_TRUE(head_.expect_continue);
}

TEST_F(RequestParserTest, AcceptsRequestLineAtExactLimit) {
  const std::string request_line = "GET /" + std::string(8 * 1024 - 14, 'a') + " HTTP/1.1";
  ASSERT_EQ(request_line.size(), 8u * 1024);
  EXPECT_EQ(ParseOwned(Head(request_line, "Host: a\r\n")).status, ParseStatus::kDone);
  EXPECT_EQ(ParseOwned(Head("GET /a" + request_line.substr(5), "Host: a\r\n")).http_status, 414);
}

TEST_F(RequestParserTest, RejectsOverlongRequestLineBeforeItEnds) {
  const std::string partial = "GET /" + std::string(9000, 'a');
  const ParseResult r = ParseOwned(partial);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 414);
}

TEST_F(RequestParserTest, RejectsOversizedHeadBeforeItEnds) {
  const std::string partial = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(40000, 'a');
  const ParseResult r = ParseOwned(partial);
  ASSERT_EQ(r.status, ParseStatus::kError);
  EXPECT_EQ(r.http_status, 431);
}

TEST_F(RequestParserTest, AcceptsHeadAtExactLimits) {
  HeadLimits limits;
  limits.max_headers = 3;
  std::string raw = Head("GET / HTTP/1.1", "Host: a\r\nA: 1\r\nB: 2\r\n");
  limits.max_head = raw.size();
  EXPECT_EQ(ParseOwned(raw, limits).status, ParseStatus::kDone);
  limits.max_head = raw.size() - 1;
  EXPECT_EQ(ParseOwned(raw, limits).http_status, 431);
  limits.max_head = raw.size();
  limits.max_headers = 2;
  EXPECT_EQ(ParseOwned(raw, limits).http_status, 431);
}

TEST_F(RequestParserTest, RejectsGarbageBeforeTheHeadEnds) {
  EXPECT_EQ(ParseOwned("\x16\x03\x01\x02").http_status, 400);  // a TLS ClientHello
  EXPECT_EQ(ParseOwned("GET /\x01").http_status, 400);
  EXPECT_EQ(ParseOwned(std::string("GET / HTTP/1.1\r\nHost: a\r\nX\0"sv)).http_status, 400);
}

TEST_F(RequestParserTest, ReusesTheHeadersVector) {
  const std::string raw = Head("GET / HTTP/1.1", "Host: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n");
  ASSERT_EQ(ParseOwned(raw).status, ParseStatus::kDone);
  const Header* storage = head_.headers.data();
  ASSERT_EQ(ParseOwned(raw).status, ParseStatus::kDone);
  EXPECT_EQ(head_.headers.data(), storage);
  EXPECT_EQ(head_.headers.size(), 4u);
}

TEST_F(RequestParserTest, ResetsStateFromThePreviousRequest) {
  ASSERT_EQ(ParseOwned(Post("Host: a\r\nContent-Length: 5\r\nConnection: close\r\n")).status,
            ParseStatus::kDone);
  ASSERT_EQ(ParseOwned(Head("GET / HTTP/1.1", "Host: b\r\n")).status, ParseStatus::kDone);
  EXPECT_EQ(head_.body, BodyKind::kNone);
  EXPECT_EQ(head_.content_length, 0u);
  EXPECT_TRUE(head_.keep_alive);
  EXPECT_EQ(head_.authority, "b");
  EXPECT_EQ(head_.headers.size(), 1u);
}

}  // namespace
}  // namespace outrigger::http
