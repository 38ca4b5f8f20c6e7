#include "proxy/http2/response_fields.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace outrigger::http2 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields Of(const ResponseFields& f) {
  Fields out;
  for (size_t i = 0; i < f.size(); ++i) {
    const nghttp2_nv& nv = f.data()[i];
    out.emplace_back(std::string(reinterpret_cast<const char*>(nv.name), nv.namelen),
                     std::string(reinterpret_cast<const char*>(nv.value), nv.valuelen));
  }
  return out;
}

TEST(ResponseFieldsTest, StatusComesFirstAndNamesAreLowercased) {
  ResponseFields f;
  f.Build(404, std::vector<http::Header>{{"Content-Type", "text/html"}, {"X-ID", "Ab"}});
  EXPECT_EQ(Of(f), (Fields{{":status", "404"}, {"content-type", "text/html"}, {"x-id", "Ab"}}));
}

TEST(ResponseFieldsTest, ConnectionSpecificFieldsAreDropped) {
  ResponseFields f;
  f.Build(200, std::vector<http::Header>{{"Connection", "keep-alive"},
                                         {"Keep-Alive", "timeout=5"},
                                         {"Proxy-Connection", "close"},
                                         {"Transfer-Encoding", "chunked"},
                                         {"Upgrade", "h2c"},
                                         {"Content-Length", "3"}});
  EXPECT_EQ(Of(f), (Fields{{":status", "200"}, {"content-length", "3"}}));
}

TEST(ResponseFieldsTest, FieldsAConnectionFieldNamesAreDropped) {
  ResponseFields f;
  f.Build(200, std::vector<http::Header>{{"Connection", "close"},
                                         {"X-Hop", "1"},
                                         {"connection", " x-other , X-HOP2"},
                                         {"x-other", "2"},
                                         {"X-Hop2", "3"},
                                         {"X-Kept", "4"}});
  // "close" is an option, not a field name: X-Hop stays.
  EXPECT_EQ(Of(f), (Fields{{":status", "200"}, {"x-hop", "1"}, {"x-kept", "4"}}));
}

TEST(ResponseFieldsTest, TrailersHaveNoStatus) {
  ResponseFields f;
  f.Build(0, std::vector<http::Header>{{"Grpc-Status", "0"}, {"grpc-message", ""}});
  EXPECT_EQ(Of(f), (Fields{{"grpc-status", "0"}, {"grpc-message", ""}}));
}

TEST(ResponseFieldsTest, TheListOutlivesTheCallersStrings) {
  ResponseFields f;
  {
    std::string name = "X-Temp", value(1000, 'v');
    f.Build(0, std::vector<http::Header>{{name, value}});
    name.assign(name.size(), '!');
    value.assign(value.size(), '!');
  }
  EXPECT_EQ(Of(f), (Fields{{"x-temp", std::string(1000, 'v')}}));
}

TEST(ResponseFieldsTest, BuildReplacesThePreviousList) {
  ResponseFields f;
  f.Build(200, std::vector<http::Header>{{"A", "1"}, {"B", "2"}});
  f.Build(204, std::vector<http::Header>{{"C", "3"}});
  EXPECT_EQ(Of(f), (Fields{{":status", "204"}, {"c", "3"}}));
  f.Clear();
  EXPECT_EQ(f.size(), 0u);
}

TEST(ResponseFieldsTest, ARequestHeadGetsItsPseudoFieldsAndLosesHostAndTe) {
  http::RequestHead head;
  head.method_text = "POST";
  head.path = "/pkg.Svc/Call?x=1";
  head.authority = "backend.test:8443";
  head.headers = {{"Host", "backend.test:8443"},
                  {"TE", "trailers"},
                  {"Content-Type", "application/grpc"},
                  {"Connection", "close"}};
  ResponseFields f;
  f.BuildRequest(head, "https");
  EXPECT_EQ(Of(f), (Fields{{":method", "POST"},
                           {":scheme", "https"},
                           {":authority", "backend.test:8443"},
                           {":path", "/pkg.Svc/Call?x=1"},
                           {"te", "trailers"},
                           {"content-type", "application/grpc"}}));
  // TE other than "trailers" is connection-specific in HTTP/2 (RFC 9113 §8.2.2).
  head.headers = {{"TE", "gzip"}};
  f.BuildRequest(head, "http");
  EXPECT_EQ(Of(f).size(), 4u);
}

TEST(ResponseFieldsTest, PseudoFieldValuesOutliveTheHeadTheyCameFrom) {
  ResponseFields f;
  {
    std::string path = "/short-lived";
    http::RequestHead head;
    head.method_text = "GET";
    head.path = path;
    head.authority = "a";
    f.BuildRequest(head, "http");
    path.assign(path.size(), 'x');
  }
  EXPECT_EQ(Of(f)[3], (std::pair<std::string, std::string>{":path", "/short-lived"}));
}

}  // namespace
}  // namespace outrigger::http2
