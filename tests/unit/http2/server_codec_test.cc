#include "proxy/http2/server_codec.h"

#include <event2/buffer.h>
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <string>

#include "unit/http2/server_codec_fixture.h"

namespace outrigger::http2 {
namespace {

TEST_F(ServerCodecTest, AGetBecomesTheTranslatedHeadAndItsResponseGoesBack) {
  Client client;
  const int32_t id = client.Request({{":method", "GET"},
                                     {":scheme", "https"},
                                     {":authority", "example.com"},
                                     {":path", "/a?b=c"},
                                     {"cookie", "a=1"},
                                     {"accept", "*/*"},
                                     {"cookie", "b=2"}});
  Pump(client);
  ASSERT_TRUE(owner_.heads.count(id));
  const Owner::Head& h = owner_.heads[id];
  EXPECT_EQ(h.method, "GET");
  EXPECT_EQ(h.path, "/a?b=c");
  EXPECT_EQ(h.authority, "example.com");
  EXPECT_TRUE(h.end_stream);
  EXPECT_EQ(h.headers, (Fields{{"cookie", "a=1; b=2"}, {"accept", "*/*"}}));
  EXPECT_FALSE(owner_.ended.count(id)) << "a head that ended the stream gets no OnStreamEnd";

  // HTTP/1 fields: names lowercased, hop-by-hop ones (and those Connection names) dropped.
  ASSERT_TRUE(codec_.SubmitResponse(id,
                                    Head(200, {{"Content-Type", "text/plain"},
                                               {"Connection", "keep-alive, X-Hop"},
                                               {"Keep-Alive", "timeout=5"},
                                               {"X-Hop", "1"},
                                               {"Transfer-Encoding", "chunked"},
                                               {"X-End", "2"}}),
                                    true));
  evbuffer_add(owner_.ResponseBody(id), "hello", 5);
  codec_.FinishResponse(id);
  Pump(client);
  EXPECT_EQ(client.responses[id].fields,
            (Fields{{":status", "200"}, {"content-type", "text/plain"}, {"x-end", "2"}}));
  EXPECT_EQ(client.responses[id].body, "hello");
  EXPECT_TRUE(client.responses[id].closed);
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_NO_ERROR);
  ASSERT_TRUE(owner_.closed.count(id));
  EXPECT_EQ(owner_.closed[id], NGHTTP2_NO_ERROR);
  EXPECT_EQ(codec_.open_streams(), 0u);
}

TEST_F(ServerCodecTest, ARequestBodyStopsAtTheStreamWindowUntilTheOwnerConsumes) {
  Client client;
  Client::Upload up{std::string(200 * 1024, 'x')};
  const int32_t id = client.Request(kPost, &up);
  Pump(client);
  ASSERT_TRUE(owner_.heads.count(id));
  EXPECT_FALSE(owner_.heads[id].end_stream);
  // 64 KiB: our SETTINGS_INITIAL_WINDOW_SIZE, and no WINDOW_UPDATE without Consume.
  EXPECT_EQ(owner_.body[id].size(), 64u * 1024);
  Pump(client);
  EXPECT_EQ(owner_.body[id].size(), 64u * 1024);

  codec_.Consume(id, 64 * 1024);
  Pump(client);
  EXPECT_EQ(owner_.body[id].size(), 128u * 1024);
  while (!owner_.ended.count(id) && owner_.body[id].size() < up.data.size()) {
    codec_.Consume(id, 64 * 1024);
    Pump(client);
  }
  EXPECT_EQ(owner_.body[id], up.data);
  EXPECT_TRUE(owner_.ended.count(id));
  EXPECT_TRUE(owner_.ended[id].empty());
}

TEST_F(ServerCodecTest, TheConnectionWindowCapsAllStreamsTogether) {
  Client client;
  std::vector<Client::Upload> ups(20, Client::Upload{std::string(64 * 1024, 'y')});
  for (auto& up : ups) client.Request(kPost, &up);
  Pump(client);
  size_t total = 0;
  for (const auto& [id, b] : owner_.body) total += b.size();
  EXPECT_EQ(total, 1024u * 1024) << "20 x 64 KiB offered, 1 MiB connection window";
}

TEST_F(ServerCodecTest, AClosedStreamsUnconsumedBytesReturnToTheConnection) {
  Client client;
  std::vector<Client::Upload> ups(16, Client::Upload{std::string(128 * 1024, 'z')});
  std::vector<int32_t> ids;
  for (auto& up : ups) ids.push_back(client.Request(kPost, &up));
  Pump(client);
  size_t total = 0;
  for (const auto& [id, b] : owner_.body) total += b.size();
  ASSERT_EQ(total, 1024u * 1024);  // the connection window is spent
  for (int32_t id : ids) nghttp2_submit_rst_stream(client.session.get(), 0, id, NGHTTP2_CANCEL);
  Pump(client);
  for (int32_t id : ids) EXPECT_EQ(owner_.closed[id], NGHTTP2_CANCEL);

  Client::Upload more{std::string(64 * 1024, 'w')};
  const int32_t next = client.Request(kPost, &more);
  Pump(client);
  EXPECT_EQ(owner_.body[next].size(), 64u * 1024) << "the reset streams' bytes were returned";
}

TEST_F(ServerCodecTest, AResponseBodyWaitsForTheClientsWindowUpdate) {
  Client client(/*auto_window=*/false);
  const int32_t id = client.Request(kGet);
  Pump(client);
  const std::string body(200 * 1024, 'r');
  Respond(id, body);
  Pump(client);
  // The client's default window: 65,535 bytes, the rest stays in the owner's buffer.
  EXPECT_EQ(client.responses[id].body.size(), 65535u);
  EXPECT_EQ(evbuffer_get_length(owner_.responses[id].get()), body.size() - 65535);
  nghttp2_session_consume(client.session.get(), id, 65535);
  Pump(client);
  EXPECT_EQ(client.responses[id].body.size(), 2u * 65535);
  while (!client.responses[id].closed) {
    const size_t before = client.responses[id].body.size();
    nghttp2_session_consume(client.session.get(), id, 65535);
    Pump(client);
    ASSERT_GT(client.responses[id].body.size(), before);
  }
  EXPECT_EQ(client.responses[id].body, body);
}

TEST_F(ServerCodecTest, SendStopsAtTheHighWaterMarkAndResumes) {
  Client client(true, 1 << 30);
  const int32_t id = client.Request(kGet);
  Pump(client);
  const std::string body(1024 * 1024, 'h');
  Respond(id, body);
  constexpr size_t kHighWater = 32 * 1024;
  // One DATA frame (16 KiB + 9) may cross the mark; then Send stops.
  ASSERT_TRUE(codec_.Send(s2c_.get(), kHighWater));
  size_t out = evbuffer_get_length(s2c_.get());
  EXPECT_GE(out, kHighWater);
  EXPECT_LE(out, kHighWater + 16 * 1024 + 9);
  ASSERT_TRUE(codec_.Send(s2c_.get(), kHighWater));
  EXPECT_EQ(evbuffer_get_length(s2c_.get()), out) << "nothing more while over the mark";
  EXPECT_GT(evbuffer_get_length(owner_.responses[id].get()), body.size() - out);

  int rounds = 0;
  while (!client.responses[id].closed && rounds++ < 1000) {
    client.Read(s2c_.get());
    client.Write(c2s_.get());
    codec_.Receive(c2s_.get());
    codec_.Send(s2c_.get(), kHighWater);
    EXPECT_LE(evbuffer_get_length(s2c_.get()), kHighWater + 16 * 1024 + 64);
  }
  EXPECT_EQ(client.responses[id].body, body);
}

TEST_F(ServerCodecTest, ADeferredBodyResumesWhenTheOwnerAddsBytes) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  ASSERT_TRUE(codec_.SubmitResponse(id, Head(200), true));
  Pump(client);
  EXPECT_EQ(client.Status(id), "200");
  EXPECT_FALSE(client.responses[id].closed);
  evbuffer_add(owner_.ResponseBody(id), "part", 4);
  codec_.ResumeData(id);
  Pump(client);
  EXPECT_EQ(client.responses[id].body, "part");
  EXPECT_FALSE(client.responses[id].closed);
  codec_.FinishResponse(id);
  Pump(client);
  EXPECT_TRUE(client.responses[id].closed);
}

TEST_F(ServerCodecTest, TrailersGoBothWays) {
  Client client;
  Client::Upload up("request body", {{"x-checksum", "abc"}});
  const int32_t id = client.Request(With(kPost, {{"te", "trailers"}}), &up);
  Pump(client);
  ASSERT_TRUE(owner_.ended.count(id));
  EXPECT_EQ(owner_.ended[id], (Fields{{"x-checksum", "abc"}}));
  EXPECT_EQ(owner_.body[id], "request body");

  ASSERT_TRUE(codec_.SubmitResponse(id, Head(200, {{"Content-Type", "application/grpc"}}), true));
  evbuffer_add(owner_.ResponseBody(id), "payload", 7);
  codec_.SubmitTrailers(id, std::vector<http::Header>{{"Grpc-Status", "0"}, {"grpc-message", ""}});
  Pump(client);
  EXPECT_EQ(client.responses[id].body, "payload");
  EXPECT_EQ(client.responses[id].trailers, (Fields{{"grpc-status", "0"}, {"grpc-message", ""}}));
  EXPECT_TRUE(client.responses[id].closed);
}

TEST_F(ServerCodecTest, InformationalResponsesPrecedeTheFinalOne) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  ASSERT_TRUE(codec_.SubmitResponse(id, Head(103, {{"Link", "</s.css>; rel=preload"}}), false));
  Respond(id, "ok");
  Pump(client);
  EXPECT_EQ(client.responses[id].fields,
            (Fields{{":status", "103"}, {"link", "</s.css>; rel=preload"}, {":status", "200"}}));
  EXPECT_EQ(client.responses[id].body, "ok");
  EXPECT_TRUE(client.responses[id].closed);
}

TEST_F(ServerCodecTest, RequestTrailersOverTheLimitResetTheStream) {
  Client client;
  Fields many;
  for (int i = 0; i < 101; ++i) many.emplace_back("x-t" + std::to_string(i), "v");
  Client::Upload up("body", many);
  const int32_t id = client.Request(kPost, &up);
  Pump(client);
  ASSERT_TRUE(owner_.heads.count(id));
  EXPECT_FALSE(owner_.ended.count(id));
  EXPECT_EQ(owner_.closed[id], NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().headers_too_large, 1u);
}

TEST_F(ServerCodecTest, AHeaderListOver32KiBIsAnswered431) {
  Client client;
  const int32_t big = client.Request(With(kGet, {{"x-big", std::string(33 * 1024, 'b')}}));
  Fields many = kGet;
  for (int i = 0; i < 101; ++i) many.emplace_back("x-f" + std::to_string(i), "v");
  const int32_t wide = client.Request(many);
  const int32_t fine = client.Request(With(kGet, {{"x-big", std::string(31 * 1024, 'b')}}));
  Pump(client);
  EXPECT_EQ(client.Status(big), "431");
  EXPECT_EQ(client.Status(wide), "431");
  EXPECT_FALSE(owner_.heads.count(big));
  EXPECT_FALSE(owner_.heads.count(wide));
  EXPECT_TRUE(owner_.heads.count(fine));
  EXPECT_EQ(codec_.stats().headers_too_large, 2u);
}

TEST_F(ServerCodecTest, ARefusedRequestsBodyIsNotChargedToTheConnection) {
  Client client;
  std::vector<Client::Upload> ups(20, Client::Upload(std::string(64 * 1024, 'q')));
  std::vector<int32_t> ids;
  for (auto& up : ups) {
    ids.push_back(client.Request(With(kPost, {{"x-big", std::string(33 * 1024, 'b')}}), &up));
  }
  Pump(client);
  for (int32_t id : ids) EXPECT_EQ(client.Status(id), "431");
  EXPECT_TRUE(owner_.heads.empty());
  // Whatever of those bodies arrived was consumed at once: a stream still gets its window.
  Client::Upload more(std::string(64 * 1024, 'w'));
  const int32_t next = client.Request(kPost, &more);
  Pump(client);
  EXPECT_EQ(owner_.body[next].size(), 64u * 1024);
}

TEST_F(ServerCodecTest, AMalformedHeadIsAnswered400WithoutReachingTheOwner) {
  Client client;
  // RFC 9113 §8.3.1: Host must agree with :authority (nghttp2 does not check this one).
  const int32_t id = client.Request(With(kGet, {{"host", "other.example"}}));
  Pump(client);
  EXPECT_EQ(client.Status(id), "400");
  EXPECT_TRUE(owner_.heads.empty());
  EXPECT_EQ(codec_.stats().malformed_requests, 1u);
}

TEST_F(ServerCodecTest, TheOwnersResetReachesTheClient) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  codec_.ResetStream(id, NGHTTP2_INTERNAL_ERROR);
  Pump(client);
  EXPECT_EQ(client.responses[id].close_code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(owner_.closed[id], NGHTTP2_INTERNAL_ERROR);
}

TEST_F(ServerCodecTest, AGracefulGoawayLetsOpenStreamsFinish) {
  Client client;
  const int32_t id = client.Request(kGet);
  Pump(client);
  codec_.Goaway(NGHTTP2_NO_ERROR);
  Pump(client);
  EXPECT_TRUE(client.goaway);
  Respond(id, "late");
  Pump(client);
  EXPECT_EQ(client.responses[id].body, "late");
  EXPECT_EQ(owner_.closed[id], NGHTTP2_NO_ERROR);
  // GOAWAY sent and no stream left: the connection is done.
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
}

// ---- attacks, in raw frames ----

TEST_F(ServerCodecAttackTest, TheHundredAndFirstConcurrentStreamIsRefused) {
  std::string bytes = Preface();
  for (int32_t i = 0; i < 101; ++i) bytes += Headers(1 + 2 * i, kGet);
  const auto frames = Raw(bytes);
  EXPECT_EQ(owner_.heads.size(), 100u);
  const RawFrame* rst = Find(frames, NGHTTP2_RST_STREAM);
  ASSERT_NE(rst, nullptr);
  EXPECT_EQ(rst->stream, 201);
  EXPECT_EQ(rst->Code(), NGHTTP2_REFUSED_STREAM);
  EXPECT_EQ(codec_.stats().streams_refused, 1u);
  EXPECT_EQ(codec_.open_streams(), 100u);

  // A finished stream frees its slot for the next one.
  Respond(1, "");
  Raw("");
  Raw(Headers(203, kGet));
  EXPECT_TRUE(owner_.heads.count(203));
}

TEST_F(ServerCodecAttackTest, ARefusedHeadWithABodyToComeIsAnsweredThenReset) {
  Fields many = kPost;
  for (int i = 0; i < 101; ++i) many.emplace_back("x-f" + std::to_string(i), "v");
  const auto frames = Raw(Preface() + Headers(1, many, /*end_stream=*/false));
  const RawFrame* headers = Find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(decoder_.Block(headers->payload), (Fields{{":status", "431"}}));
  EXPECT_TRUE(headers->flags & NGHTTP2_FLAG_END_STREAM);
  const RawFrame* rst = Find(frames, NGHTTP2_RST_STREAM, 1);
  ASSERT_NE(rst, nullptr) << "the client is told to stop sending its body";
  EXPECT_EQ(rst->Code(), NGHTTP2_NO_ERROR);
  EXPECT_GT(rst, headers) << "after the response, or the response is lost";
}

TEST_F(ServerCodecAttackTest, PastAcknowledgedSettingsTooManyStreamsEndTheConnection) {
  std::string bytes = Preface() + Frame(NGHTTP2_SETTINGS, NGHTTP2_FLAG_ACK, 0, "");
  for (int32_t i = 0; i < 101; ++i) bytes += Headers(1 + 2 * i, kGet);
  const auto frames = Raw(bytes);
  EXPECT_EQ(owner_.heads.size(), 100u);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(codec_.stats().protocol_errors, 1u);
}

TEST_F(ServerCodecAttackTest, AnUndecodableHeaderBlockEndsWithGoaway) {
  // Index 0 is not a valid HPACK index (RFC 7541 §6.1).
  const auto frames =
      Raw(Preface() + Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1,
                            std::string("\x80", 1)));
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_COMPRESSION_ERROR);
  EXPECT_EQ(codec_.stats().hpack_errors, 1u);
  EXPECT_TRUE(owner_.heads.empty());
}

TEST_F(ServerCodecAttackTest, EightContinuationsAreServedANinthEndsWithGoaway) {
  const std::string block = encoder_.Block(With(kGet, {{"x-a", std::string(90, 'a')}}));
  auto split = [&](int32_t stream, int continuations) {
    const size_t piece = block.size() / (continuations + 1);
    std::string out =
        Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, stream, block.substr(0, piece));
    for (int i = 1; i <= continuations; ++i) {
      const bool last = i == continuations;
      out += Frame(NGHTTP2_CONTINUATION, last ? NGHTTP2_FLAG_END_HEADERS : 0, stream,
                   block.substr(piece * i, last ? std::string::npos : piece));
    }
    return out;
  };
  bool ok = false;
  Raw(Preface() + split(1, 8), &ok);
  EXPECT_TRUE(ok);
  EXPECT_TRUE(owner_.heads.count(1));

  const std::string block2 = encoder_.Block(With(kGet, {{"x-a", std::string(90, 'a')}}));
  std::string flood = Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_STREAM, 3, "");
  for (int i = 0; i < 9; ++i) flood += Frame(NGHTTP2_CONTINUATION, 0, 3, "");
  flood += Frame(NGHTTP2_CONTINUATION, NGHTTP2_FLAG_END_HEADERS, 3, block2);
  const auto frames = Raw(flood, &ok);
  EXPECT_FALSE(ok);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_EQ(codec_.stats().continuation_floods, 1u);
  EXPECT_FALSE(owner_.heads.count(3));
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
}

TEST_F(ServerCodecAttackTest, RapidResetEndsWithGoawayAndIsCounted) {
  std::string bytes = Preface();
  for (int32_t i = 0; i < 5000; ++i) {
    bytes += Headers(1 + 2 * i, kGet) + RstStream(1 + 2 * i, NGHTTP2_CANCEL);
  }
  const auto frames = Raw(bytes);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().rapid_resets, 1u);
  // The burst of 1,000 (plus what a second's refill may add) and no more reached the owner.
  EXPECT_GE(owner_.heads.size(), 1000u);
  EXPECT_LE(owner_.heads.size(), 1100u);
  EXPECT_EQ(owner_.closed.size(), owner_.heads.size());
  EXPECT_FALSE(codec_.WantsRead());
}

TEST_F(ServerCodecAttackTest, ResetsTheClientProvokesEndWithGoaway) {
  // MadeYouReset: each stream is valid, then made to fail by a WINDOW_UPDATE that overflows
  // its window, so nghttp2 resets it (FLOW_CONTROL_ERROR) without the client sending RST.
  std::string bytes = Preface();
  for (int32_t i = 0; i < 1500; ++i) {
    const int32_t id = 1 + 2 * i;
    bytes += Headers(id, kGet) + Frame(NGHTTP2_WINDOW_UPDATE, 0, id, Be32(0x7fffffff));
  }
  const auto frames = Raw(bytes);
  ASSERT_NE(Find(frames, NGHTTP2_RST_STREAM), nullptr);
  EXPECT_EQ(Find(frames, NGHTTP2_RST_STREAM)->Code(), NGHTTP2_FLOW_CONTROL_ERROR);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().local_reset_floods, 1u);
  EXPECT_EQ(codec_.stats().rapid_resets, 0u);
  EXPECT_LE(owner_.heads.size(), 1100u);
}

TEST_F(ServerCodecAttackTest, AnHpackBombIsBoundedByTheListSize) {
  // One 4,000-byte field enters the dynamic table (literal, incremental indexing), then one
  // byte per repetition (index 62) asks for it again: 1,000 x 4 KiB decoded from ~5 KB.
  std::string block = encoder_.Block(kGet);
  block += '\x40';
  block += char(6) + std::string("x-bomb");
  block += "\x7f\xa1\x1e";  // 4,000 as a 7-bit-prefix integer: 127 + 3873
  block += std::string(4000, 'B');
  block += std::string(1000, '\xbe');
  const auto frames =
      Raw(Preface() +
          Frame(NGHTTP2_HEADERS, NGHTTP2_FLAG_END_HEADERS | NGHTTP2_FLAG_END_STREAM, 1, block));
  EXPECT_TRUE(owner_.heads.empty());
  EXPECT_EQ(codec_.stats().headers_too_large, 1u);
  const RawFrame* headers = Find(frames, NGHTTP2_HEADERS, 1);
  ASSERT_NE(headers, nullptr);
  EXPECT_EQ(decoder_.Block(headers->payload), (Fields{{":status", "431"}}));
}

TEST_F(ServerCodecAttackTest, APingFloodEndsWithGoaway) {
  std::string bytes = Preface();
  for (int i = 0; i < 1100; ++i) bytes += Frame(NGHTTP2_PING, 0, 0, std::string(8, 'p'));
  bool ok = true;
  const auto frames = Raw(bytes, &ok);
  EXPECT_FALSE(ok);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().control_floods, 1u);
}

TEST_F(ServerCodecAttackTest, EmptyDataFramesInARowEndWithGoaway) {
  bool ok = false;
  // One empty frame between payloads is tolerated, as is an empty one that ends the stream.
  Raw(Preface() + Headers(1, kPost, false) + Frame(NGHTTP2_DATA, 0, 1, "a") +
          Frame(NGHTTP2_DATA, 0, 1, "") + Frame(NGHTTP2_DATA, 0, 1, "b") +
          Frame(NGHTTP2_DATA, 0, 1, "") + Frame(NGHTTP2_DATA, NGHTTP2_FLAG_END_STREAM, 1, ""),
      &ok);
  EXPECT_TRUE(ok);
  EXPECT_EQ(owner_.body[1], "ab");
  EXPECT_TRUE(owner_.ended.count(1));

  const auto frames =
      Raw(Headers(3, kPost, false) + Frame(NGHTTP2_DATA, 0, 3, "") + Frame(NGHTTP2_DATA, 0, 3, ""),
          &ok);
  EXPECT_FALSE(ok);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_ENHANCE_YOUR_CALM);
  EXPECT_EQ(codec_.stats().empty_frame_floods, 1u);
  EXPECT_EQ(owner_.closed[3], NGHTTP2_ENHANCE_YOUR_CALM) << "the owner hears of the stream";
}

TEST_F(ServerCodecAttackTest, ASettingsFrameWithTooManyEntriesEndsWithGoaway) {
  std::string entries;
  for (int i = 0; i < 33; ++i) entries += std::string("\x00\x03", 2) + Be32(100);
  const auto frames = Raw(Preface() + Frame(NGHTTP2_SETTINGS, 0, 0, entries));
  ASSERT_NE(Find(frames, NGHTTP2_GOAWAY), nullptr);
  EXPECT_EQ(codec_.stats().settings_floods, 1u);
}

TEST_F(ServerCodecAttackTest, AMissingClientPrefaceIsAnError) {
  bool ok = true;
  const auto frames = Raw("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &ok);
  EXPECT_FALSE(ok);
  EXPECT_EQ(codec_.stats().protocol_errors, 1u);
  const RawFrame* goaway = Find(frames, NGHTTP2_GOAWAY);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->Code(), NGHTTP2_PROTOCOL_ERROR);
  EXPECT_FALSE(codec_.WantsRead());
  EXPECT_FALSE(codec_.WantsWrite());
  EXPECT_TRUE(owner_.heads.empty());
}

}  // namespace
}  // namespace outrigger::http2
