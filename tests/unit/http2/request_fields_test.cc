#include "proxy/http2/request_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace outrigger::http2 {
namespace {

using http::BodyKind;
using http::Method;
using http::ParseStatus;
using Fields = std::vector<std::pair<std::string, std::string>>;

const Fields kGet = {
    {":method", "GET"}, {":scheme", "https"}, {":authority", "example.com"}, {":path", "/a?b=c"}};

Fields With(Fields base, const Fields& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

class RequestFieldsTest : public ::testing::Test {
 protected:
  http::ParseResult Finish(const Fields& fields, bool end_stream = true) {
    rf_.Clear();
    for (const auto& [name, value] : fields) {
      if (!rf_.Add(name, value)) break;
    }
    return rf_.Finish(end_stream, &head_);
  }
  // The reason a request is refused with `status`; "" when it is not refused so.
  std::string Refusal(const Fields& fields, int status = 400, bool end_stream = true) {
    const http::ParseResult r = Finish(fields, end_stream);
    if (r.status != ParseStatus::kError || r.http_status != status) return "";
    return std::string(r.reason);
  }

  RequestFields rf_{RequestFields::Limits{}};
  http::RequestHead head_;
};

TEST_F(RequestFieldsTest, AGetBecomesTheHeadAnHttp11UpstreamIsSent) {
  ASSERT_EQ(Finish(With(kGet, {{"accept", "*/*"}})).status, ParseStatus::kDone);
  EXPECT_EQ(head_.method, Method::kGet);
  EXPECT_EQ(head_.method_text, "GET");
  EXPECT_EQ(head_.target, "/a?b=c");
  EXPECT_EQ(head_.path, "/a?b=c");
  EXPECT_EQ(head_.authority, "example.com");
  EXPECT_FALSE(head_.absolute_form);
  EXPECT_EQ(head_.version_minor, 1);
  EXPECT_TRUE(head_.keep_alive);
  EXPECT_EQ(head_.body, BodyKind::kNone);
  ASSERT_EQ(head_.headers.size(), 1u);  // pseudo-fields are not fields
  EXPECT_EQ(head_.headers[0].name, "accept");
  EXPECT_EQ(head_.headers[0].value, "*/*");
}

TEST_F(RequestFieldsTest, TheBodyIsFramedByLengthOrElseChunked) {
  const Fields post = {
      {":method", "POST"}, {":scheme", "http"}, {":authority", "h"}, {":path", "/"}};
  ASSERT_EQ(Finish(With(post, {{"content-length", "12"}}), false).status, ParseStatus::kDone);
  EXPECT_EQ(head_.body, BodyKind::kContentLength);
  EXPECT_EQ(head_.content_length, 12u);
  ASSERT_EQ(Finish(post, false).status, ParseStatus::kDone);
  EXPECT_EQ(head_.body, BodyKind::kChunked);  // length unknown: chunked to HTTP/1.1
  ASSERT_EQ(Finish(With(post, {{"content-length", "0"}}), true).status, ParseStatus::kDone);
  EXPECT_EQ(head_.body, BodyKind::kContentLength);
  EXPECT_EQ(head_.content_length, 0u);
  EXPECT_NE(Refusal(With(post, {{"content-length", "5"}}), 400, true), "");
  EXPECT_NE(Refusal(With(post, {{"content-length", "5"}, {"content-length", "6"}}), 400, false),
            "");
  EXPECT_NE(Refusal(With(post, {{"content-length", "-1"}}), 400, false), "");
  ASSERT_EQ(Finish(With(post, {{"content-length", "7"}, {"content-length", "7"}}), false).status,
            ParseStatus::kDone);
  EXPECT_EQ(head_.content_length, 7u);
}

TEST_F(RequestFieldsTest, CookiesAreJoinedIntoOneFieldWhereTheFirstWas) {
  ASSERT_EQ(
      Finish(With(kGet, {{"cookie", "a=1"}, {"x", "y"}, {"cookie", "b=2"}, {"cookie", "c=3"}}))
          .status,
      ParseStatus::kDone);
  ASSERT_EQ(head_.headers.size(), 2u);
  EXPECT_EQ(head_.headers[0].name, "cookie");
  EXPECT_EQ(head_.headers[0].value, "a=1; b=2; c=3");
  EXPECT_EQ(head_.headers[1].name, "x");
  // A single cookie is left as it came.
  ASSERT_EQ(Finish(With(kGet, {{"cookie", "a=1"}})).status, ParseStatus::kDone);
  EXPECT_EQ(head_.headers[0].value, "a=1");
}

TEST_F(RequestFieldsTest, ConnectionSpecificFieldsAreRefused) {
  for (const char* name :
       {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}) {
    EXPECT_EQ(Refusal(With(kGet, {{name, "x"}})), "connection-specific field") << name;
  }
  EXPECT_EQ(Refusal(With(kGet, {{"te", "gzip"}})), "TE other than trailers");
  EXPECT_EQ(Finish(With(kGet, {{"te", "trailers"}})).status, ParseStatus::kDone);
}

TEST_F(RequestFieldsTest, PseudoFieldsFollowTheRules) {
  EXPECT_EQ(Refusal({{":scheme", "https"}, {":authority", "h"}, {":path", "/"}}),
            "missing or invalid :method");
  EXPECT_EQ(Refusal({{":method", "GET"}, {":authority", "h"}, {":path", "/"}}), "missing :scheme");
  EXPECT_EQ(Refusal({{":method", "GET"}, {":scheme", "https"}, {":authority", "h"}}),
            "missing :path");
  EXPECT_EQ(Refusal(With(kGet, {{":path", "/again"}})), "repeated pseudo-header field");
  EXPECT_EQ(Refusal(With(kGet, {{":status", "200"}})), "unknown pseudo-header field");
  EXPECT_EQ(Refusal({{":method", "GET"},
                     {"accept", "*/*"},
                     {":scheme", "https"},
                     {":authority", "h"},
                     {":path", "/"}}),
            "pseudo-header field after a regular one");
  EXPECT_EQ(
      Refusal({{":method", "GET"}, {":scheme", "https"}, {":authority", "h"}, {":path", "a"}}),
      "invalid :path");
  EXPECT_EQ(
      Refusal({{":method", "GET"}, {":scheme", "https"}, {":authority", "h"}, {":path", "/a b"}}),
      "invalid :path");
  EXPECT_EQ(
      Refusal({{":method", "GET"}, {":scheme", "https"}, {":authority", "h"}, {":path", "*"}}),
      "'*' target requires OPTIONS");
  ASSERT_EQ(
      Finish({{":method", "OPTIONS"}, {":scheme", "https"}, {":authority", "h"}, {":path", "*"}})
          .status,
      ParseStatus::kDone);
  EXPECT_EQ(head_.path, "*");
}

TEST_F(RequestFieldsTest, ConnectNamesOnlyItsAuthority) {
  ASSERT_EQ(Finish({{":method", "CONNECT"}, {":authority", "db.internal:5432"}}, false).status,
            ParseStatus::kDone);
  EXPECT_EQ(head_.method, Method::kConnect);
  EXPECT_EQ(head_.path, "db.internal:5432");
  EXPECT_EQ(Refusal({{":method", "CONNECT"}, {":authority", "h:1"}, {":path", "/"}}),
            "CONNECT with :scheme or :path");
  EXPECT_EQ(Refusal({{":method", "CONNECT"}}), "CONNECT without :authority");
}

TEST_F(RequestFieldsTest, HostStandsInForAuthorityAndMustAgreeWithIt) {
  const Fields no_authority = {{":method", "GET"}, {":scheme", "https"}, {":path", "/"}};
  ASSERT_EQ(Finish(With(no_authority, {{"host", "b.example"}})).status, ParseStatus::kDone);
  EXPECT_EQ(head_.authority, "b.example");
  EXPECT_EQ(Refusal(no_authority), "missing or invalid :authority");
  EXPECT_EQ(Refusal(With(kGet, {{"host", "other.example"}})), ":authority and Host differ");
  EXPECT_EQ(Finish(With(kGet, {{"host", "example.com"}})).status, ParseStatus::kDone);
  EXPECT_EQ(Refusal(With(kGet, {{"host", "example.com"}, {"host", "example.com"}})),
            "multiple Host fields");
  EXPECT_EQ(
      Refusal({{":method", "GET"}, {":scheme", "https"}, {":authority", "a b"}, {":path", "/"}}),
      "missing or invalid :authority");
}

TEST_F(RequestFieldsTest, NamesAndValuesMustBeWhatHttp11CanCarry) {
  EXPECT_EQ(Refusal(With(kGet, {{"Accept", "x"}})), "invalid field name");
  EXPECT_EQ(Refusal(With(kGet, {{"a b", "x"}})), "invalid field name");
  EXPECT_EQ(Refusal(With(kGet, {{"", "x"}})), "invalid field name");
  EXPECT_EQ(Refusal(With(kGet, {{"x", "a\r\nInjected: 1"}})), "invalid field value");
  EXPECT_EQ(Refusal(With(kGet, {{"x", std::string("a\0b", 3)}})), "invalid field value");
  EXPECT_EQ(Refusal(With(kGet, {{"x", " padded"}})), "invalid field value");
  EXPECT_EQ(Refusal(With(kGet, {{"x", "padded\t"}})), "invalid field value");
  EXPECT_EQ(Finish(With(kGet, {{"x", ""}, {"y", "in side"}})).status, ParseStatus::kDone);
}

TEST_F(RequestFieldsTest, ExpectContinueIsNoted) {
  ASSERT_EQ(Finish(With(kGet, {{"expect", "100-continue"}}), false).status, ParseStatus::kDone);
  EXPECT_TRUE(head_.expect_continue);
  ASSERT_EQ(Finish(kGet).status, ParseStatus::kDone);
  EXPECT_FALSE(head_.expect_continue);  // nothing carried over from the last stream
}

TEST_F(RequestFieldsTest, TooManyFieldsOrTooLargeAListIs431) {
  RequestFields small(RequestFields::Limits{.max_list_size = 260, .max_fields = 6});
  for (const auto& [name, value] : kGet) ASSERT_TRUE(small.Add(name, value));
  ASSERT_TRUE(small.Add("a", "1"));
  ASSERT_TRUE(small.Add("b", "2"));
  EXPECT_FALSE(small.Add("c", "3"));  // the seventh field
  EXPECT_FALSE(small.Add("d", "4"));  // and it stays refused
  EXPECT_EQ(small.Finish(true, &head_).http_status, 431);

  small.Clear();
  for (const auto& [name, value] : kGet) ASSERT_TRUE(small.Add(name, value));
  // 4 pseudo-fields: 7+3 + 7+5 + 10+11 + 5+6 + 4*32 = 182 of 260.
  EXPECT_EQ(small.list_size(), 182u);
  ASSERT_TRUE(small.Add("x", std::string(45, 'v')));  // 182 + 1+45+32 = 260: at the limit
  EXPECT_FALSE(small.Add("y", ""));                   // + 1+0+32: over it
  EXPECT_EQ(small.Finish(true, &head_).http_status, 431);

  small.Clear();  // a new stream starts within its limits again
  for (const auto& [name, value] : kGet) ASSERT_TRUE(small.Add(name, value));
  EXPECT_EQ(small.Finish(true, &head_).status, ParseStatus::kDone);
}

TEST_F(RequestFieldsTest, MethodsAreCaseSensitive) {
  ASSERT_EQ(Finish({{":method", "get"}, {":scheme", "https"}, {":authority", "h"}, {":path", "/"}})
                .status,
            ParseStatus::kDone);
  EXPECT_EQ(head_.method, Method::kOther);
  EXPECT_EQ(
      Refusal({{":method", "G T"}, {":scheme", "https"}, {":authority", "h"}, {":path", "/"}}),
      "missing or invalid :method");
}

}  // namespace
}  // namespace outrigger::http2
