// ServerCodec against a hostile client and a careless owner: the owner calling back into the
// codec from inside its callbacks, late calls for streams whose slot was reused, connection
// errors with streams open, window games, and header blocks at and past the limits. Each
// test states the contract of server_codec.h it holds the codec to.
#include <event2/buffer.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <string>
#include <vector>

#include "proxy/http2/server_codec.h"
#include "unit/http2/server_codec_fixture.h"

namespace outrigger::http2 {
namespace {

std::string Data(int32_t stream, const std::string& bytes, bool end_stream = false) {
  return Frame(NGHTTP2_DATA, end_stream ? NGHTTP2_FLAG_END_STREAM : 0, stream, bytes);
}

std::string WindowUpdate(int32_t stream, uint32_t increment) {
  return Frame(NGHTTP2_WINDOW_UPDATE, 0, stream, Be32(increment));
}

std::string Settings(uint16_t id, uint32_t value) {
  return Frame(NGHTTP2_SETTINGS, 0, 0, std::string{char(id >> 8), char(id)} + Be32(value));
}

size_t DataBytes(const std::vector<RawFrame>& frames, int32_t stream) {
  size_t n = 0;
  for (const RawFrame& f : frames) {
    if (f.type == NGHTTP2_DATA && f.stream == stream) n += f.payload.size();
  }
  return n;
}

size_t Count(const std::vector<RawFrame>& frames, uint8_t type, int32_t stream) {
  size_t n = 0;
  for (const RawFrame& f : frames) n += f.type == type && f.stream == stream;
  return n;
}

using ServerCodecOwnerTest = ServerCodecAttackTest;

// ---- every stream with a head gets its close, whatever ends the connection ----

TEST_F(ServerCodecOwnerTest, AnOwnersGoawayWithAnErrorClosesEveryOpenStream) {
  Raw(Preface() + Headers(1, kGet));
  Raw(Headers(3, kPost, /*end_stream=*/false));
  ASSERT_EQ(owner_.heads.size(), 2u);
  codec_.Goaway(NGHTTP2_INTERNAL_ERROR);
  const auto frames = Raw("");
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_INTERNAL_ERROR);
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
  // The connection is over: the owner must hear of both streams, or it holds their state
  // (upstream requests, buffers) until the codec is destroyed, and never learns why.
  EXPECT_EQ(owner_.closed.size(), 2u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(owner_.closed[3], NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(codec_.open_streams(), 0u);
}

TEST_F(ServerCodecOwnerTest, AConnectionErrorNghttp2FindsClosesEveryDeliveredStream) {
  // A connection WINDOW_UPDATE past 2^31-1: FLOW_CONTROL_ERROR, decided inside nghttp2.
  Raw(Preface() + Headers(1, kGet));
  const auto frames = Raw(Headers(3, kPost, false) + WindowUpdate(0, 0x7fffffff));
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_FLOW_CONTROL_ERROR);
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_EQ(owner_.closed.size(), 2u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_FLOW_CONTROL_ERROR);
  EXPECT_EQ(owner_.closed[3], NGHTTP2_FLOW_CONTROL_ERROR);
  // Late moves for those streams are no-ops, not touches of a reused slot.
  EXPECT_FALSE(codec_.SubmitResponse(1, Head(200), false));
  codec_.Consume(3, 10);
  codec_.ResetStream(3, NGHTTP2_CANCEL);
  EXPECT_TRUE(Raw("").empty());
}

TEST_F(ServerCodecOwnerTest, TooManyStreamsAfterSettingsCloseTheHundredDeliveredOnes) {
  std::string bytes = Preface() + Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
  for (int32_t i = 0; i < 101; ++i) bytes += Headers(1 + 2 * i, kGet);
  Raw(bytes);
  ASSERT_EQ(owner_.heads.size(), 100u);
  EXPECT_EQ(owner_.closed.size(), 100u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_PROTOCOL_ERROR);
}

TEST_F(ServerCodecOwnerTest, AnHpackTableSizeUpdatePastOurSettingEndsAndClosesStreams) {
  Raw(Preface() + Headers(1, kPost, false));
  // 0x3f 0xe2 0x1f: a dynamic table size update to 4,097, one more than SETTINGS allows.
  const auto frames = Raw(Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, 3,
                                std::string("\x3f\xe2\x1f", 3) + encoder_.Block(kGet)));
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_COMPRESSION_ERROR);
  EXPECT_EQ(codec_.stats().hpack_errors, 1u);
  EXPECT_FALSE(owner_.heads.count(3));
  EXPECT_EQ(owner_.closed[1], NGHTTP2_COMPRESSION_ERROR);
}

// ---- the owner calling back in from its callbacks ----

TEST_F(ServerCodecOwnerTest, ResetFromOnStreamHeadIsSentAndClosesOnce) {
  owner_.on_head = [&](int32_t s) { codec_.ResetStream(s, NGHTTP2_CANCEL); };
  const auto frames = Raw(Preface() + Headers(1, kPost, false) + Data(1, "abc"));
  const RawFrame* rst = Find(frames, NGHTTP2_RST_STREAM, 1);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->Code(), NGHTTP2_CANCEL);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_CANCEL);
  EXPECT_EQ(codec_.stats().local_reset_floods, 0u);
  EXPECT_EQ(codec_.open_streams(), 0u);
  // The owner is done with the stream: its DATA, even in the same read, is not delivered.
  EXPECT_TRUE(owner_.body[1].empty());
  Raw(Data(1, std::string(1000, 'x')));
  EXPECT_TRUE(owner_.body[1].empty());
}

TEST_F(ServerCodecOwnerTest, GoawayFromOnStreamHeadStopsTheRestOfTheInput) {
  owner_.on_head = [&](int32_t) { codec_.Goaway(NGHTTP2_ENHANCE_YOUR_CALM); };
  // One string, so stream 3's HEADERS is in the same Receive (the encoder runs in order).
  std::string bytes = Preface() + Headers(1, kGet);
  bytes += Headers(3, kGet);
  const auto frames = Raw(bytes);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().protocol_errors, 0u) << "the owner's GOAWAY is no limit of ours";
  for (const auto& [id, head] : owner_.heads) EXPECT_TRUE(owner_.closed.count(id)) << id;
}

TEST_F(ServerCodecOwnerTest, ARequestIsAnsweredFromOnStreamDataAndConsumedLateOnClose) {
  owner_.on_data = [&](int32_t s, size_t size) {
    codec_.Consume(s, size);
    if (owner_.body[s].size() == size) {  // the first bytes: answer at once
      EXPECT_TRUE(codec_.SubmitResponse(s, Head(200), true));
      evbuffer_add(owner_.ResponseBody(s), "early", 5);
      codec_.FinishResponse(s);
    }
  };
  owner_.on_close = [&](int32_t s, uint32_t) {
    codec_.Consume(s, 1 << 20);
    codec_.ResumeData(s);
    codec_.FinishResponse(s);
    codec_.ResetStream(s, NGHTTP2_CANCEL);
    EXPECT_FALSE(codec_.SubmitResponse(s, Head(200), false));
  };
  Client client;
  Client::Upload up(std::string(100000, 'u'));
  const int32_t id = client.Request(kPost, &up);
  Pump(client);
  EXPECT_EQ(client.Status(id), "200");
  EXPECT_EQ(client.responses[id].body, "early");
  EXPECT_EQ(owner_.closed[id], NGHTTP2_NO_ERROR);
  // The answer was complete before the body: RST_STREAM NO_ERROR after it stopped the upload
  // (RFC 9113 §8.1), within the first window.
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_NO_ERROR);
  EXPECT_GT(owner_.body[id].size(), 0u);
  EXPECT_LE(owner_.body[id].size(), 65535u);
}

// ---- the response: submitted once, body buffer games ----

TEST_F(ServerCodecOwnerTest, ASecondFinalResponseIsRefused) {
  Raw(Preface() + Headers(1, kGet));
  ASSERT_TRUE(codec_.SubmitResponse(1, Head(200), true));
  // A careless owner answers again (a retry path, an error page after a partial answer):
  // a second HEADERS without END_STREAM after the final one is malformed (RFC 9113 §8.1).
  EXPECT_FALSE(codec_.SubmitResponse(1, Head(502), false));
  EXPECT_FALSE(codec_.SubmitResponse(1, Head(100), false)) << "no 1xx after the final head";
  evbuffer_add(owner_.ResponseBody(1), "body", 4);
  codec_.FinishResponse(1);
  const auto frames = Raw("");
  EXPECT_EQ(Count(frames, NGHTTP2_HEADERS, 1), 1u);
  EXPECT_EQ(DataBytes(frames, 1), 4u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_NO_ERROR);
}

TEST_F(ServerCodecOwnerTest, ABodyBufferEmptiedAndRefilledAroundResumeData) {
  Raw(Preface() + Headers(1, kGet));
  ASSERT_TRUE(codec_.SubmitResponse(1, Head(200), true));
  evbuffer* body = owner_.ResponseBody(1);
  evbuffer_add(body, "first", 5);
  codec_.ResumeData(1);
  evbuffer_drain(body, 5);  // taken back before Send ran
  auto frames = Raw("");
  EXPECT_EQ(DataBytes(frames, 1), 0u);
  EXPECT_FALSE(owner_.closed.count(1));
  evbuffer_add(body, "second", 6);
  codec_.ResumeData(1);
  codec_.ResumeData(1);  // twice: harmless
  frames = Raw("");
  EXPECT_EQ(DataBytes(frames, 1), 6u);
  evbuffer_add(body, "third", 5);
  codec_.FinishResponse(1);
  // After FinishResponse, trailers still fit: the body has not run out on the wire yet.
  const http::Header trailers[] = {{"X-Sum", "1"}};
  codec_.SubmitTrailers(1, trailers);
  frames = Raw("");
  EXPECT_EQ(DataBytes(frames, 1), 5u);
  const RawFrame* last = &frames.back();
  EXPECT_EQ(last->type, NGHTTP2_HEADERS);
  EXPECT_TRUE(last->flags & NGHTTP2_FLAG_END_STREAM);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_NO_ERROR);
  // And after the close: no-ops.
  codec_.SubmitTrailers(1, trailers);
  codec_.FinishResponse(1);
  EXPECT_TRUE(Raw("").empty());
}

TEST_F(ServerCodecOwnerTest, TheClientsResetWhileTheBodyIsDeferredEndsTheStreamOnce) {
  Raw(Preface() + Headers(1, kGet));
  ASSERT_TRUE(codec_.SubmitResponse(1, Head(200), true));
  Raw("");  // HEADERS out, DATA deferred on an empty buffer
  Raw(RstStream(1, NGHTTP2_CANCEL));
  EXPECT_EQ(owner_.closed[1], NGHTTP2_CANCEL);
  codec_.ResumeData(1);
  codec_.FinishResponse(1);
  EXPECT_TRUE(Raw("").empty());
  EXPECT_EQ(codec_.open_streams(), 0u);
}

// ---- slot reuse ----

TEST(ServerCodecSlotTest, ALateCallForAClosedStreamNeverTouchesTheStreamInItsSlot) {
  Owner owner;
  CodecLimits limits;
  limits.max_concurrent_streams = 1;  // stream 3 must take stream 1's slot
  ServerCodec codec(owner, limits);
  Encoder encoder;
  EvBuffer in = NewBuffer(), out = NewBuffer();
  auto raw = [&](const std::string& bytes) {
    evbuffer_add(in.get(), bytes.data(), bytes.size());
    codec.Receive(in.get());
    codec.Send(out.get(), 1 << 24);
    return Parse(Drain(out.get()));
  };
  auto headers = [&](int32_t stream, const Fields& f) {
    return Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS, stream, encoder.Block(f));
  };
  raw(Preface() + headers(1, kPost) + Data(1, std::string(1000, 'a')) +
      RstStream(1, NGHTTP2_CANCEL));
  ASSERT_EQ(owner.closed[1], NGHTTP2_CANCEL);
  // Stream 3 fills its window; nothing is consumed.
  raw(headers(3, kPost) + Data(3, std::string(16384, 'b')) + Data(3, std::string(16384, 'b')) +
      Data(3, std::string(16384, 'b')) + Data(3, std::string(16383, 'b')));
  ASSERT_EQ(owner.body[3].size(), 65535u);
  // The owner, still holding state for 1, consumes, resumes and resets it late.
  codec.Consume(1, 1000);
  codec.ResumeData(1);
  codec.FinishResponse(1);
  codec.ResetStream(1, NGHTTP2_CANCEL);
  http::ResponseHead ok;
  ok.status = 200;
  EXPECT_FALSE(codec.SubmitResponse(1, ok, false));
  const auto frames = raw("");
  for (const RawFrame& f : frames) {
    EXPECT_NE(f.stream, 3) << "frame type " << int(f.type) << " on stream 3";
  }
  EXPECT_FALSE(owner.closed.count(3));
  // Stream 3's own bytes still count: one more byte is a flow-control error.
  const auto over = raw(Data(3, "c"));
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].type, NGHTTP2_RST_STREAM);
  EXPECT_EQ(over[0].Code(), NGHTTP2_FLOW_CONTROL_ERROR);
}

// ---- windows ----

TEST_F(ServerCodecOwnerTest, ANegativeWindowFromSettingsHoldsTheBodyUntilWindowUpdates) {
  Raw(Preface() + WindowUpdate(0, 1 << 20) + Headers(1, kGet));
  ASSERT_TRUE(codec_.SubmitResponse(1, Head(200), true));
  evbuffer_add(owner_.ResponseBody(1), std::string(50000, 'x').data(), 50000);
  auto frames = Raw("");
  EXPECT_EQ(DataBytes(frames, 1), 50000u);
  // The client shrinks every stream's window to 0: stream 1's is now 15,535 - 65,535.
  frames = Raw(Settings(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 0));
  evbuffer_add(owner_.ResponseBody(1), std::string(20000, 'y').data(), 20000);
  codec_.FinishResponse(1);
  frames = Raw("");
  EXPECT_EQ(DataBytes(frames, 1), 0u);
  frames = Raw(WindowUpdate(1, 50000));  // back to 0: still nothing
  EXPECT_EQ(DataBytes(frames, 1), 0u);
  frames = Raw(WindowUpdate(1, 12000));
  EXPECT_EQ(DataBytes(frames, 1), 12000u);
  frames = Raw(Settings(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 65535));  // +65,535
  EXPECT_EQ(DataBytes(frames, 1), 8000u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_NO_ERROR);
}

TEST_F(ServerCodecOwnerTest, DataPastTheStreamWindowNeverReachesTheOwner) {
  // Found by http2_codec_fuzz. nghttp2 answers DATA past a stream's window with RST_STREAM
  // FLOW_CONTROL_ERROR, but still hands the bytes to on_data_chunk_recv, and all the frames
  // after it in the same read: without a check of ours, one stream could make the owner hold
  // up to the connection's 1 MiB.
  std::string bytes = Preface() + Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "") +
                      Headers(1, kPost, /*end_stream=*/false);
  for (int i = 0; i < 4; ++i) bytes += Data(1, std::string(16384, 'u'));  // the whole window
  Raw(bytes);
  ASSERT_EQ(owner_.body[1].size(), 65536u);
  std::string past;
  for (int i = 0; i < 8; ++i) past += Data(1, std::string(16384, 'v'));
  past += Data(1, "", /*end_stream=*/true);
  const auto frames = Raw(past);
  EXPECT_EQ(owner_.body[1].size(), 65536u);
  EXPECT_FALSE(owner_.ended.count(1)) << "a body cut short must not look complete";
  const RawFrame* rst = Find(frames, NGHTTP2_RST_STREAM, 1);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->Code(), NGHTTP2_FLOW_CONTROL_ERROR);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_FLOW_CONTROL_ERROR);
  // The dropped bytes went back to the connection: another stream can still fill its window.
  std::string next = Headers(3, kPost, false);
  for (int i = 0; i < 4; ++i) next += Data(3, std::string(16384, 'w'));
  bool ok = false;
  Raw(next, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(owner_.body[3].size(), 65536u);
}

TEST_F(ServerCodecOwnerTest, PaddingIsNotChargedToTheOwnersWindow) {
  // The owner consumes every body byte; padding (up to 255 bytes a frame) is nghttp2's to
  // return, or a padded upload stalls the stream for good.
  owner_.on_data = [&](int32_t s, size_t size) { codec_.Consume(s, size); };
  std::string bytes = Preface() + Headers(1, kPost, false);
  for (int i = 0; i < 600; ++i) {
    bytes += Frame(NGHTTP2_DATA, NGHTTP2_FLAG_PADDED, 1,
                   std::string(1, char(254)) + "d" + std::string(254, '\0'));
    if (i % 100 == 99) {  // the client waits for its windows between bursts
      Raw(bytes);
      bytes.clear();
    }
  }
  bytes += Data(1, "", true);
  bool ok = false;
  Raw(bytes, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(owner_.body[1].size(), 600u);
  EXPECT_TRUE(owner_.ended.count(1));
  EXPECT_FALSE(owner_.closed.count(1)) << "not reset for flow control";
}

// ---- a client that never reads ----

TEST_F(ServerCodecOwnerTest, PingsAndSettingsFromAClientThatNeverReadsEndTheConnection) {
  Raw(Preface() + Headers(1, kGet));
  const size_t high_water = 64;
  evbuffer_add(s2c_.get(), std::string(high_water, 'q').data(), high_water);  // full
  std::string flood;
  for (int i = 0; i < 600; ++i) {
    flood += Frame(NGHTTP2_PING, 0, 0, std::string(8, 'p')) + Frame(NGHTTP2_SETTINGS, 0, 0, "");
  }
  evbuffer_add(c2s_.get(), flood.data(), flood.size());
  EXPECT_FALSE(codec_.Receive(c2s_.get()));
  EXPECT_EQ(codec_.stats().control_floods, 1u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_FALSE(codec_.Send(s2c_.get(), high_water));
  // What the client would read: its unread bytes, then the GOAWAY; none of the replies.
  const std::string out = Drain(s2c_.get());
  ASSERT_EQ(out.size(), high_water + 17);
  const auto frames = Parse(out.substr(high_water));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].type, NGHTTP2_GOAWAY);
}

// ---- odd but valid clients ----

TEST_F(ServerCodecOwnerTest, APrefaceAndRequestSplitByteByByteAreServed) {
  const std::string bytes = Preface() + Headers(1, kGet);
  for (char c : bytes) {
    evbuffer_add(c2s_.get(), &c, 1);
    ASSERT_TRUE(codec_.Receive(c2s_.get()));
  }
  EXPECT_TRUE(owner_.heads.count(1));
}

TEST_F(ServerCodecOwnerTest, AClientGoawayLetsOpenStreamsFinish) {
  Raw(Preface() + Headers(1, kGet));
  Raw(Frame(NGHTTP2_GOAWAY, 0, 0, Be32(0) + Be32(NGHTTP2_NO_ERROR)));
  EXPECT_FALSE(owner_.closed.count(1));
  Respond(1, "after goaway");
  const auto frames = Raw("");
  EXPECT_EQ(DataBytes(frames, 1), 12u);
  EXPECT_EQ(owner_.closed[1], NGHTTP2_NO_ERROR);
}

// ---- header blocks at the limits ----

// HEADERS plus CONTINUATIONs carrying `block` in frames of at most 16,384 bytes.
std::string Split(int32_t stream, const std::string& block) {
  std::string out;
  size_t at = 0;
  do {
    const std::string piece = block.substr(at, 16384);
    at += piece.size();
    const uint8_t flags = (at == block.size() ? NGHTTP2_FLAG_END_HEADERS : 0) |
                          (out.empty() ? NGHTTP2_FLAG_END_STREAM : 0);
    out += Frame(out.empty() ? NGHTTP2_HEADERS : NGHTTP2_CONTINUATION, flags, stream, piece);
  } while (at < block.size());
  return out;
}

size_t ListSize(const Fields& fields) {
  size_t n = 0;
  for (const auto& [name, value] : fields) n += name.size() + value.size() + 32;
  return n;
}

TEST_F(ServerCodecOwnerTest, AHeaderListOfExactly32KiBPassesAndOneByteMoreIsRefused) {
  Fields at_limit = kGet;
  at_limit.emplace_back("x-pad", "");
  at_limit.back().second.assign(32 * 1024 - ListSize(at_limit), 'p');
  ASSERT_EQ(ListSize(at_limit), 32u * 1024);
  Fields over = at_limit;
  over.back().second += 'p';
  Raw(Preface() + Split(1, encoder_.Block(at_limit)));
  EXPECT_TRUE(owner_.heads.count(1));
  const auto frames = Raw(Split(3, encoder_.Block(over)));
  EXPECT_FALSE(owner_.heads.count(3));
  const RawFrame* headers = Find(frames, NGHTTP2_HEADERS, 3);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(decoder_.Block(headers->payload), (Fields{{":status", "431"}}));
}

TEST_F(ServerCodecOwnerTest, AHundredFieldsPassAndTheHundredAndFirstIsRefused) {
  Fields at_limit = kGet;
  while (at_limit.size() < 100) at_limit.emplace_back("x-f" + std::to_string(at_limit.size()), "v");
  Fields over = at_limit;
  over.emplace_back("x-one-more", "v");
  Raw(Preface() + Headers(1, at_limit));
  EXPECT_TRUE(owner_.heads.count(1));
  Raw(Headers(3, over));
  EXPECT_FALSE(owner_.heads.count(3));
  EXPECT_EQ(codec_.stats().headers_too_large, 1u);
}

TEST_F(ServerCodecOwnerTest, EightContinuationsOfAFullListPass) {
  Fields f = kGet;
  f.emplace_back("x-pad", std::string(32 * 1024 - ListSize(kGet) - 32 - 5, 'q'));
  const std::string block = encoder_.Block(f);
  const size_t piece = block.size() / 9 + 1;
  std::string bytes = Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block.substr(0, piece));
  for (int i = 1; i <= 8; ++i) {
    bytes += Frame(NGHTTP2_CONTINUATION, i == 8 ? NGHTTP2_FLAG_END_HEADERS : 0, 1,
                   block.substr(piece * i, i == 8 ? std::string::npos : piece));
  }
  bool ok = false;
  Raw(Preface() + bytes, &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(owner_.heads.count(1));
}

TEST_F(ServerCodecOwnerTest, AHugeHuffmanCodedFieldIs431AndTheConnectionLives) {
  // 60,000 'a's Huffman-code to 5 bits each: 37.5 KB on the wire, 60 KB decoded.
  const std::string block = encoder_.Block(With(kGet, {{"x-huge", std::string(60000, 'a')}}));
  ASSERT_LT(block.size(), 40000u);
  bool ok = false;
  const auto frames = Raw(Preface() + Split(1, block), &ok);
  EXPECT_TRUE(ok);
  EXPECT_FALSE(owner_.heads.count(1));
  const RawFrame* headers = Find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(decoder_.Block(headers->payload), (Fields{{":status", "431"}}));
  Raw(Headers(3, kGet));
  EXPECT_TRUE(owner_.heads.count(3));
}

// ---- many streams ----

TEST_F(ServerCodecOwnerTest, AThousandStreamsAtOnceGetAHundredSlotsAndTheRestRefused) {
  std::string bytes = Preface();
  for (int32_t i = 0; i < 1000; ++i) bytes += Headers(1 + 2 * i, kGet);
  bool ok = false;
  const auto frames = Raw(bytes, &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(owner_.heads.size(), 100u);
  EXPECT_EQ(codec_.stats().streams_refused, 900u);
  EXPECT_EQ(codec_.open_streams(), 100u);
  // The slots come back as the streams end.
  for (const auto& [id, head] : owner_.heads) Respond(id, "");
  Raw("");
  EXPECT_EQ(owner_.closed.size(), 100u);
  EXPECT_EQ(codec_.open_streams(), 0u);
  Raw(Headers(2001, kGet));
  EXPECT_TRUE(owner_.heads.count(2001));
}

TEST_F(ServerCodecOwnerTest, TenThousandHeadersAndResetPairsEndBoundedWithEveryStreamClosed) {
  std::string bytes = Preface();
  for (int32_t i = 0; i < 10000; ++i) {
    bytes += Headers(1 + 2 * i, kGet) + RstStream(1 + 2 * i, NGHTTP2_CANCEL);
  }
  bool ok = true;
  const auto frames = Raw(bytes, &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(codec_.stats().rapid_resets, 1u);
  EXPECT_LE(owner_.heads.size(), 1100u);
  EXPECT_EQ(owner_.closed.size(), owner_.heads.size());
  EXPECT_EQ(codec_.open_streams(), 0u);
}

TEST_F(ServerCodecOwnerTest, AStreamWhoseHeadIsStillArrivingIsNoStreamToTheOwner) {
  // Found by http2_codec_fuzz. A HEADERS frame waiting for its CONTINUATION already has a slot
  // in the codec, but the owner was never given its id: a response submitted for it would
  // have the codec ask the owner for the body of a stream it does not know.
  const std::string block = encoder_.Block(kGet);
  const size_t half = block.size() / 2;
  Raw(Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 1, block.substr(0, half)));
  ASSERT_FALSE(owner_.heads.count(1));
  http::ResponseHead head;
  head.status = 200;
  EXPECT_FALSE(codec_.SubmitResponse(1, head, /*has_body=*/true));
  codec_.FinishResponse(1);
  codec_.ResetStream(1, NGHTTP2_CANCEL);
  const auto frames =
      Raw(Frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 1, block.substr(half)));
  EXPECT_EQ(Find(frames, NGHTTP2_HEADERS, 1), nullptr);
  EXPECT_EQ(Find(frames, NGHTTP2_RST_STREAM, 1), nullptr);
  ASSERT_TRUE(owner_.heads.count(1));
  EXPECT_TRUE(codec_.SubmitResponse(1, head, /*has_body=*/false));
  EXPECT_NE(Find(Raw(""), NGHTTP2_HEADERS, 1), nullptr);
}

}  // namespace
}  // namespace outrigger::http2
