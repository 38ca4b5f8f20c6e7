#include "proxy/http2/request_trailers.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace outrigger::http2 {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

Fields Of(std::span<const http::Header> headers) {
  Fields out;
  for (const http::Header& h : headers) out.emplace_back(h.name, h.value);
  return out;
}

TEST(RequestTrailersTest, FieldsComeBackInOrderAndOutliveTheCallersStrings) {
  RequestTrailers t(RequestFields::Limits{});
  for (int i = 0; i < 50; ++i) {
    std::string name = "x-" + std::to_string(i), value(100, char('a' + i % 26));
    EXPECT_TRUE(t.Add(name, value));
  }
  const Fields got = Of(t.Finish());
  ASSERT_EQ(got.size(), 50u);
  EXPECT_EQ(got[0], (std::pair<std::string, std::string>{"x-0", std::string(100, 'a')}));
  EXPECT_EQ(got[49], (std::pair<std::string, std::string>{"x-49", std::string(100, 'x')}));
}

TEST(RequestTrailersTest, TheFieldCountIsBounded) {
  RequestTrailers t(RequestFields::Limits{.max_list_size = 1 << 20, .max_fields = 3});
  EXPECT_TRUE(t.Add("a", "1"));
  EXPECT_TRUE(t.Add("b", "2"));
  EXPECT_TRUE(t.Add("c", "3"));
  EXPECT_FALSE(t.Add("d", "4"));
  EXPECT_TRUE(t.over_limit());
}

TEST(RequestTrailersTest, TheListSizeCountsThirtyTwoBytesAField) {
  // Two fields of 1 + 1 bytes cost 2 x 34 = 68: 68 fits, 67 does not.
  RequestTrailers fits(RequestFields::Limits{.max_list_size = 68, .max_fields = 100});
  EXPECT_TRUE(fits.Add("a", "1"));
  EXPECT_TRUE(fits.Add("b", "2"));
  RequestTrailers over(RequestFields::Limits{.max_list_size = 67, .max_fields = 100});
  EXPECT_TRUE(over.Add("a", "1"));
  EXPECT_FALSE(over.Add("b", "2"));
  EXPECT_FALSE(over.Add("c", "")) << "once over, always over";
}

TEST(RequestTrailersTest, ClearForgetsTheFieldsAndTheOverrun) {
  RequestTrailers t(RequestFields::Limits{.max_list_size = 40, .max_fields = 100});
  EXPECT_FALSE(t.Add("name", std::string(10, 'v')));
  t.Clear();
  EXPECT_FALSE(t.over_limit());
  EXPECT_TRUE(t.Add("a", "1"));
  EXPECT_EQ(Of(t.Finish()), (Fields{{"a", "1"}}));
}

}  // namespace
}  // namespace outrigger::http2
