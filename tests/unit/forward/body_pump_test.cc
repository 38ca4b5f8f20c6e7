#include "proxy/forward/body_pump.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace outrigger::forward {
namespace {

class BodyPumpTest : public ::testing::Test {
 protected:
  BodyPumpTest() : in_(evbuffer_new()), out_(evbuffer_new()) {}

  void Feed(std::string_view bytes) { evbuffer_add(in_.get(), bytes.data(), bytes.size()); }
  BodyPump::Result Pump() { return pump_.Pump(in_.get(), out_.get()); }
  static std::string Drain(evbuffer* b) {
    std::string s(evbuffer_get_length(b), '\0');
    evbuffer_remove(b, s.data(), s.size());
    return s;
  }
  std::string Out() { return Drain(out_.get()); }
  std::string Left() { return Drain(in_.get()); }

  net::EvBufferPtr in_;
  net::EvBufferPtr out_;
  BodyPump pump_;
};

TEST_F(BodyPumpTest, ContentLengthStopsAtTheBodyEndLeavingThePipelinedRequest) {
  pump_.Start(http::BodyKind::kContentLength, 5);
  Feed("helloGET / HTTP/1.1\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Out(), "hello");
  EXPECT_EQ(Left(), "GET / HTTP/1.1\r\n");
}

TEST_F(BodyPumpTest, ContentLengthArrivingInPiecesIsMovedAsItComes) {
  pump_.Start(http::BodyKind::kContentLength, 10);
  Feed("abc");
  EXPECT_EQ(Pump(), BodyPump::Result::kMore);
  Feed("defghij");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Out(), "abcdefghij");
  EXPECT_EQ(pump_.moved(), 10u);
}

TEST_F(BodyPumpTest, EmptyBodiesAreDoneAtOnce) {
  pump_.Start(http::BodyKind::kContentLength, 0);
  EXPECT_TRUE(pump_.done());
  pump_.Start(http::BodyKind::kNone, 0);
  Feed("next");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Left(), "next");
}

TEST_F(BodyPumpTest, ChunkedBodyIsForwardedVerbatimWithTrailers) {
  const std::string body = "4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nX-Trailer: yes\r\n\r\n";
  pump_.Start(http::BodyKind::kChunked, 0);
  Feed(body + "GET /next");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Out(), body);
  EXPECT_EQ(Left(), "GET /next");
}

TEST_F(BodyPumpTest, ChunkedBodyFedOneByteAtATimeIsAcceptedWhole) {
  const std::string body = "a\r\n0123456789\r\n3\r\nabc\r\n0\r\n\r\n";
  pump_.Start(http::BodyKind::kChunked, 0);
  BodyPump::Result r = BodyPump::Result::kMore;
  for (char c : body) {
    ASSERT_NE(r, BodyPump::Result::kDone);
    Feed(std::string_view(&c, 1));
    r = Pump();
    ASSERT_NE(r, BodyPump::Result::kError) << pump_.error();
  }
  EXPECT_EQ(r, BodyPump::Result::kDone);
  EXPECT_EQ(Out(), body);
}

TEST_F(BodyPumpTest, DecodingPassesOnlyTheChunksDataAndStopsAtTheEnd) {
  pump_.Start(http::BodyKind::kChunked, 0, /*max_data=*/0, /*decode=*/true);
  Feed("5;ext=1\r\nhello\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kMore);
  EXPECT_EQ(Out(), "hello");
  Feed("1\r\n!\r\n0\r\nX-Trailer: t\r\n\r\nGET /");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Out(), "!");
  EXPECT_EQ(Left(), "GET /");
  EXPECT_EQ(pump_.moved(), 41u);  // everything taken, framing included
}

TEST_F(BodyPumpTest, DecodingKeepsTheTrailersAsFieldsWhenAsked) {
  std::string kept;
  pump_.Start(http::BodyKind::kChunked, 0, /*max_data=*/0, /*decode=*/true);
  pump_.KeepTrailers(&kept);
  Feed("2\r\nhi\r\n0\r\nX-Sum: abc\r\nX-More:\t 1 \r\nx-empty:\r\n\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Out(), "hi");
  std::vector<http::Header> fields;
  TrailerFields(kept, &fields);
  ASSERT_EQ(fields.size(), 3u);
  EXPECT_EQ(fields[0].name, "X-Sum");
  EXPECT_EQ(fields[0].value, "abc");
  EXPECT_EQ(fields[1].name, "X-More");
  EXPECT_EQ(fields[1].value, "1");
  EXPECT_EQ(fields[2].name, "x-empty");
  EXPECT_EQ(fields[2].value, "");
  TrailerFields("", &fields);
  EXPECT_TRUE(fields.empty());
}

TEST_F(BodyPumpTest, DecodingALengthBodyIsMovingIt) {
  pump_.Start(http::BodyKind::kContentLength, 3, /*max_data=*/0, /*decode=*/true);
  Feed("abcdef");
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_EQ(Out(), "abc");
}

TEST_F(BodyPumpTest, InvalidChunkSizeIsAnError) {
  pump_.Start(http::BodyKind::kChunked, 0);
  Feed("zz\r\nhello\r\n0\r\n\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kError);
  EXPECT_FALSE(pump_.error().empty());
}

TEST_F(BodyPumpTest, ChunkSizeLineLongerThanTheLimitIsAnError) {
  pump_.Start(http::BodyKind::kChunked, 0);
  Feed(std::string(http::ChunkedFramer::kMaxLineLength + 10, '1'));
  EXPECT_EQ(Pump(), BodyPump::Result::kError);
}

TEST_F(BodyPumpTest, CloseDelimitedBodyMovesEverythingAndNeverEnds) {
  pump_.Start(http::BodyKind::kCloseDelimited, 0);
  Feed("all of it");
  EXPECT_EQ(Pump(), BodyPump::Result::kMore);
  EXPECT_EQ(Out(), "all of it");
}

TEST_F(BodyPumpTest, LargeContentLengthBodyMovesWithoutLosingBytes) {
  std::string big(3 * 1024 * 1024 + 7, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  pump_.Start(http::BodyKind::kContentLength, big.size());
  for (size_t off = 0; off < big.size(); off += 65536) {
    Feed(std::string_view(big).substr(off, 65536));
    Pump();
  }
  EXPECT_TRUE(pump_.done());
  EXPECT_EQ(Out(), big);
}

TEST_F(BodyPumpTest, ChunkedBodyUpToMaxDataIsForwarded) {
  const std::string body = "4\r\nWiki\r\n6\r\npedia!\r\n0\r\n\r\n";
  pump_.Start(http::BodyKind::kChunked, 0, /*max_data=*/10);
  Feed(body);
  EXPECT_EQ(Pump(), BodyPump::Result::kDone);
  EXPECT_FALSE(pump_.too_large());
  EXPECT_EQ(Out(), body);
}

TEST_F(BodyPumpTest, ChunkedBodyGrowingPastMaxDataStopsBeforeTheChunkGoesOn) {
  pump_.Start(http::BodyKind::kChunked, 0, /*max_data=*/10);
  Feed("4\r\nWiki\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kMore);
  EXPECT_EQ(Out(), "4\r\nWiki\r\n");
  Feed("7\r\npedia!!\r\n0\r\n\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kError);
  EXPECT_TRUE(pump_.too_large());
  EXPECT_EQ(pump_.error(), "request body too large");
  EXPECT_EQ(Out(), "");  // not even the size line of the chunk that broke the limit
}

TEST_F(BodyPumpTest, AHugeDeclaredChunkIsRefusedWithoutWaitingForItsData) {
  pump_.Start(http::BodyKind::kChunked, 0, /*max_data=*/1024);
  Feed("ffffffffffffffff\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kError);
  EXPECT_TRUE(pump_.too_large());
}

TEST_F(BodyPumpTest, BadFramingIsNotReportedAsTooLarge) {
  pump_.Start(http::BodyKind::kChunked, 0, /*max_data=*/1024);
  Feed("-1\r\n");
  EXPECT_EQ(Pump(), BodyPump::Result::kError);
  EXPECT_FALSE(pump_.too_large());
}

}  // namespace
}  // namespace outrigger::forward
