// ClientCodec against a backend that breaks the rules, frame by frame: each is a connection
// or stream error reported to the owner and counted, never a crash or a stream left open.
#include "client_codec_fixture.h"

namespace outrigger::http2 {
namespace {

const Fields kOk = {{":status", "200"}};

TEST_F(ClientCodecHostileTest, DataOnStreamZeroIsAConnectionError) {
  StartRaw();
  const int32_t id = Get();
  Out();
  EXPECT_FALSE(Feed(Frame(NGHTTP2_DATA, 0, 0, "x")));
  const std::vector<RawFrame> out = Out();
  const std::optional<RawFrame> goaway = Find(out, NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  ASSERT_TRUE(requester_.closed.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(requester_.closed[id].retryable);
  EXPECT_EQ(client_->stats().protocol_errors, 1u);
  EXPECT_FALSE(client_->WantsRead());
  EXPECT_FALSE(client_->CanOpenStream());
  EXPECT_EQ(Get(), -1);
}

TEST_F(ClientCodecHostileTest, AFrameOverTheMaxFrameSizeIsAConnectionError) {
  StartRaw();
  const int32_t id = Get();
  Out();
  EXPECT_FALSE(Feed(Headers(id, kOk, false) + Frame(NGHTTP2_DATA, 0, id, std::string(20000, 'x'))));
  const std::optional<RawFrame> goaway = Find(Out(), NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_FRAME_SIZE_ERROR);
  EXPECT_TRUE(requester_.body[id].empty());
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_FRAME_SIZE_ERROR);
}

TEST_F(ClientCodecHostileTest, ABrokenHpackBlockIsACompressionError) {
  StartRaw();
  const int32_t id = Get();
  Out();
  // Index 62: the dynamic table is empty, so no such entry.
  EXPECT_FALSE(Feed(Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, id, "\xbe")));
  const std::optional<RawFrame> goaway = Find(Out(), NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_COMPRESSION_ERROR);
  EXPECT_EQ(client_->stats().hpack_errors, 1u);
  EXPECT_TRUE(requester_.heads.empty());
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_COMPRESSION_ERROR);
}

TEST_F(ClientCodecHostileTest, APushPromiseIsRefusedSincePushIsOff) {
  StartRaw();
  const int32_t id = Get();
  Out();
  const std::string promise = Be32(2) + encoder_.Block({{":method", "GET"},
                                                        {":scheme", "https"},
                                                        {":authority", "backend.test"},
                                                        {":path", "/pushed"}});
  EXPECT_FALSE(Feed(Frame(NGHTTP2_PUSH_PROMISE, NGHTTP2_FLAG_END_HEADERS, id, promise)));
  const std::optional<RawFrame> goaway = Find(Out(), NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_TRUE(requester_.closed.count(id));
}

TEST_F(ClientCodecHostileTest, AHeadOverTheListLimitResetsTheStream) {
  client_limits_.fields.max_list_size = 256;
  StartRaw();
  const int32_t id = Get();
  const int32_t other = Get();
  Out();
  EXPECT_TRUE(Feed(Headers(id, {{":status", "200"}, {"x-big", std::string(300, 'v')}}, false)));
  const std::vector<RawFrame> out = Out();
  const std::optional<RawFrame> rst = Find(out, NGHTTP2_RST_STREAM);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->stream, id);
  EXPECT_EQ(rst->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_FALSE(requester_.heads.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(client_->stats().headers_too_large, 1u);
  // The connection goes on.
  EXPECT_TRUE(Feed(Headers(other, kOk)));
  ASSERT_EQ(requester_.heads[other].size(), 1u);
  EXPECT_EQ(requester_.closed[other].code, NGHTTP2_NO_ERROR);
}

TEST_F(ClientCodecHostileTest, AHeadWithoutStatusResetsOnlyThatStream) {
  StartRaw();
  const int32_t id = Get();
  Out();
  EXPECT_TRUE(Feed(Headers(id, {{"x-no-status", "1"}})));
  const std::optional<RawFrame> rst = Find(Out(), NGHTTP2_RST_STREAM);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(requester_.heads.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(requester_.closed[id].retryable);  // the backend may have acted on it
  EXPECT_TRUE(client_->CanOpenStream());
}

TEST_F(ClientCodecHostileTest, DataPastTheStreamWindowIsDroppedAndTheStreamReset) {
  client_limits_.stream_window = 16 * 1024;
  StartRaw();
  const int32_t id = Get();
  Out();
  EXPECT_TRUE(Feed(Headers(id, kOk, false) +
                   Frame(NGHTTP2_DATA, 0, id, std::string(16 * 1024, 'a')) +
                   Frame(NGHTTP2_DATA, 0, id, std::string(100, 'b'))));
  EXPECT_EQ(requester_.body[id].size(), 16u * 1024);
  EXPECT_EQ(requester_.body[id].find('b'), std::string::npos);
  const std::optional<RawFrame> rst = Find(Out(), NGHTTP2_RST_STREAM);
  ASSERT_TRUE(rst);
  EXPECT_EQ(rst->Code(), NGHTTP2_FLOW_CONTROL_ERROR);
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_FLOW_CONTROL_ERROR);
}

TEST_F(ClientCodecHostileTest, RapidResetsFromTheBackendEndTheConnection) {
  client_limits_.peer_reset_burst = 3;
  client_limits_.peer_reset_per_second = 0;
  StartRaw();
  std::vector<int32_t> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Get());
  Out();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Feed(RstStream(ids[i], NGHTTP2_CANCEL))) << i;
  EXPECT_FALSE(Feed(RstStream(ids[3], NGHTTP2_CANCEL)));
  const std::optional<RawFrame> goaway = Find(Out(), NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(client_->stats().rapid_resets, 1u);
  EXPECT_EQ(requester_.closed.size(), 5u);
  EXPECT_EQ(requester_.closed[ids[4]].code, NGHTTP2_ENHANCE_YOUR_CALM);
}

TEST_F(ClientCodecHostileTest, ResetsThatOnlyStopABodyAfterAWholeAnswerAreNotBudgeted) {
  // nginx answers before reading a request body (an error_page, a `return`), then resets the
  // stream NO_ERROR to stop the body (RFC 9113 §8.1). Charged as rapid resets, every 1,000
  // such answers ended the connection and failed the streams on it.
  client_limits_.peer_reset_burst = 3;
  client_limits_.peer_reset_per_second = 0;
  StartRaw();
  for (int i = 0; i < 6; ++i) {
    const int32_t id = client_->SubmitRequest(Request("POST", "/call"), "http", true);
    ASSERT_GT(id, 0);
    evbuffer_add(requester_.RequestBody(id), "x", 1);
    client_->ResumeData(id);
    Out();
    EXPECT_TRUE(Feed(Headers(id, kOk, false) +
                     Frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, id, "answer") +
                     RstStream(id, NGHTTP2_NO_ERROR)))
        << i;
    EXPECT_EQ(requester_.body[id], "answer");
    EXPECT_TRUE(requester_.ended.count(id));
  }
  // The same after a whole exchange, when the stream is already closed on both sides.
  for (int i = 0; i < 6; ++i) {
    const int32_t id = Get();
    Out();
    EXPECT_TRUE(Feed(Headers(id, kOk, true) + RstStream(id, NGHTTP2_NO_ERROR))) << i;
    EXPECT_TRUE(requester_.closed.count(id));
  }
  EXPECT_EQ(client_->stats().rapid_resets, 0u);
  EXPECT_TRUE(client_->CanOpenStream());
  // A NO_ERROR reset before the answer ended is still a reset, and budgeted.
  std::vector<int32_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Get());
  Out();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Feed(RstStream(ids[i], NGHTTP2_NO_ERROR))) << i;
  EXPECT_FALSE(Feed(RstStream(ids[3], NGHTTP2_NO_ERROR)));
  EXPECT_EQ(client_->stats().rapid_resets, 1u);
}

TEST_F(ClientCodecHostileTest, MalformedHeadsThatMakeUsResetAreBudgeted) {
  client_limits_.local_reset_burst = 2;
  client_limits_.local_reset_per_second = 0;
  StartRaw();
  std::vector<int32_t> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(Get());
  Out();
  for (int32_t id : ids) Feed(Headers(id, {{"x-no-status", "1"}}));
  EXPECT_FALSE(client_->Send(c2s_.get(), 1 << 24));
  const std::vector<RawFrame> out = Parse(Drain(c2s_.get()));
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out.back().type, NGHTTP2_GOAWAY);
  EXPECT_EQ(out.back().Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(client_->stats().local_reset_floods, 1u);
  EXPECT_EQ(requester_.closed.size(), 3u);
}

TEST_F(ClientCodecHostileTest, ContinuationFloodsEndTheConnection) {
  client_limits_.max_continuations = 4;
  StartRaw();
  const int32_t id = Get();
  Out();
  std::string flood = Frame(NGHTTP2_HEADERS, 0, id, encoder_.Block(kOk));
  for (int i = 0; i < 10; ++i) flood += Frame(NGHTTP2_CONTINUATION, 0, id, "");
  EXPECT_FALSE(Feed(flood));
  const std::optional<RawFrame> goaway = Find(Out(), NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(client_->stats().continuation_floods, 1u);
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(Feed(Headers(id, kOk)));  // nothing more is read
}

TEST_F(ClientCodecHostileTest, EmptyDataFramesEndTheConnection) {
  StartRaw();
  const int32_t id = Get();
  Out();
  EXPECT_FALSE(Feed(Headers(id, kOk, false) + Frame(NGHTTP2_DATA, 0, id, "") +
                    Frame(NGHTTP2_DATA, 0, id, "")));
  const std::optional<RawFrame> goaway = Find(Out(), NGHTTP2_GOAWAY);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(client_->stats().empty_frame_floods, 1u);
}

TEST_F(ClientCodecHostileTest, GarbageInsteadOfFramesIsAConnectionError) {
  client_ = std::make_unique<ClientCodec>(requester_, client_limits_);
  const int32_t id = Get();
  client_->Send(c2s_.get(), 1 << 24);
  evbuffer_drain(c2s_.get(), evbuffer_get_length(c2s_.get()));  // the preface: not frames
  EXPECT_FALSE(Feed("HTTP/1.1 400 Bad Request\r\n\r\n"));
  EXPECT_TRUE(Find(Out(), NGHTTP2_GOAWAY));
  EXPECT_TRUE(requester_.closed.count(id));
  EXPECT_FALSE(client_->WantsRead());
}

}  // namespace
}  // namespace outrigger::http2
