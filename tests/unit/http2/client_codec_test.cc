// ClientCodec against an in-process ServerCodec: the exchanges an h2 upstream pool will make.
#include <algorithm>

#include "client_codec_fixture.h"

namespace outrigger::http2 {
namespace {

bool Has(const Fields& fields, const std::string& name, const std::string& value) {
  return std::find(fields.begin(), fields.end(), std::pair(name, value)) != fields.end();
}

bool HasName(const Fields& fields, const std::string& name) {
  return std::any_of(fields.begin(), fields.end(), [&](const auto& f) { return f.first == name; });
}

TEST_F(ClientCodecTest, AGetGoesOutTranslatedAndItsResponseComesBack) {
  Start();
  const http::RequestHead head = Request("GET", "/a?b=c",
                                         {{"Connection", "keep-alive, X-Hop"},
                                          {"Keep-Alive", "timeout=5"},
                                          {"X-Hop", "1"},
                                          {"TE", "trailers"},
                                          {"X-Trace", "abc"}});
  const int32_t id = client_->SubmitRequest(head, "https", false);
  ASSERT_EQ(id, 1);
  EXPECT_EQ(client_->streams_in_flight(), 1u);
  Pump();

  ASSERT_TRUE(owner_.heads.count(id));
  const Owner::Head& got = owner_.heads[id];
  EXPECT_EQ(got.method, "GET");
  EXPECT_EQ(got.path, "/a?b=c");
  EXPECT_EQ(got.authority, "backend.test");
  EXPECT_TRUE(got.end_stream);
  EXPECT_TRUE(Has(got.headers, "te", "trailers"));
  EXPECT_TRUE(Has(got.headers, "x-trace", "abc"));
  for (const char* name : {"connection", "keep-alive", "x-hop"}) {
    EXPECT_FALSE(HasName(got.headers, name)) << name;
  }

  ASSERT_TRUE(server_->SubmitResponse(id, Head(200, {{"Content-Length", "5"}}), true));
  evbuffer_add(owner_.ResponseBody(id), "hello", 5);
  server_->FinishResponse(id);
  Pump();

  ASSERT_EQ(requester_.heads[id].size(), 1u);
  const Requester::Head& h = requester_.heads[id][0];
  EXPECT_EQ(h.status, 200);
  EXPECT_FALSE(h.end_stream);
  EXPECT_EQ(h.body, http::BodyKind::kContentLength);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_EQ(requester_.body[id], "hello");
  EXPECT_TRUE(requester_.ended.count(id));
  ASSERT_TRUE(requester_.closed.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(requester_.closed[id].retryable);
  EXPECT_EQ(client_->streams_in_flight(), 0u);
}

TEST_F(ClientCodecTest, AResponseWithNoBodyEndsWithItsHead) {
  Start();
  const int32_t id = Get();
  Pump();
  ASSERT_TRUE(server_->SubmitResponse(id, Head(204), false));
  Pump();
  ASSERT_EQ(requester_.heads[id].size(), 1u);
  EXPECT_TRUE(requester_.heads[id][0].end_stream);
  EXPECT_EQ(requester_.heads[id][0].body, http::BodyKind::kNone);
  EXPECT_FALSE(requester_.ended.count(id));  // end_stream said it all
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_NO_ERROR);
}

TEST_F(ClientCodecTest, ALargeBodyNeverOutrunsTheServersStreamWindow) {
  server_limits_.stream_window = 16 * 1024;
  Start();
  const std::string body(200 * 1024, 'b');
  const int32_t id = client_->SubmitRequest(Request("POST", "/upload"), "https", true);
  evbuffer_add(requester_.RequestBody(id), body.data(), body.size());
  client_->FinishRequest(id);
  size_t held = 0, most_held = 0;
  owner_.on_data = [&](int32_t, size_t n) { most_held = std::max(most_held, held += n); };
  Pump(4096);
  // Nothing consumed: exactly the window arrived, and the rest waits in the owner's buffer.
  EXPECT_EQ(owner_.body[id].size(), 16u * 1024);
  EXPECT_EQ(evbuffer_get_length(requester_.RequestBody(id)), body.size() - 16 * 1024);

  owner_.on_data = [&](int32_t stream, size_t n) {
    most_held = std::max(most_held, held += n);
    server_->Consume(stream, n);
    held -= n;
  };
  server_->Consume(id, held);
  held = 0;
  Pump(4096);
  EXPECT_EQ(owner_.body[id], body);
  EXPECT_TRUE(owner_.ended.count(id));
  EXPECT_LE(most_held, 16u * 1024);
}

TEST_F(ClientCodecTest, ASlowClientStopsTheBackendAtTheWindow) {
  client_limits_.stream_window = 16 * 1024;
  Start();
  const int32_t id = Get();
  Pump();
  const std::string body(100 * 1024, 'r');
  Respond(id, body);
  Pump(4096);
  // Consume never called: the backend's output stops at our window.
  EXPECT_EQ(requester_.body[id].size(), 16u * 1024);
  EXPECT_EQ(evbuffer_get_length(owner_.ResponseBody(id)), body.size() - 16 * 1024);
  EXPECT_FALSE(requester_.ended.count(id));

  client_->Consume(id, 8 * 1024);
  Pump(4096);
  EXPECT_EQ(requester_.body[id].size(), 24u * 1024);

  requester_.on_data = [&](int32_t stream, size_t n) { client_->Consume(stream, n); };
  client_->Consume(id, 16 * 1024);
  Pump(4096);
  EXPECT_EQ(requester_.body[id], body);
  EXPECT_TRUE(requester_.ended.count(id));
}

TEST_F(ClientCodecTest, TrailersGoBothWays) {
  Start();
  const http::RequestHead head = Request(
      "POST", "/pkg.Service/Call", {{"TE", "trailers"}, {"Content-Type", "application/grpc"}});
  const int32_t id = client_->SubmitRequest(head, "http", true);
  evbuffer_add(requester_.RequestBody(id), "\0\0\0\0\x01x", 6);
  const std::vector<http::Header> req_trailers = {{"X-Checksum", "42"}};
  client_->SubmitTrailers(id, req_trailers);
  Pump();
  ASSERT_TRUE(owner_.ended.count(id));
  EXPECT_EQ(owner_.ended[id], (Fields{{"x-checksum", "42"}}));
  EXPECT_EQ(owner_.body[id].size(), 6u);

  ASSERT_TRUE(server_->SubmitResponse(id, Head(200, {{"Content-Type", "application/grpc"}}), true));
  evbuffer_add(owner_.ResponseBody(id), "\0\0\0\0\x01y", 6);
  const std::vector<http::Header> trailers = {{"grpc-status", "0"}, {"grpc-message", "ok"}};
  server_->SubmitTrailers(id, trailers);
  Pump();
  ASSERT_EQ(requester_.heads[id].size(), 1u);
  EXPECT_EQ(requester_.heads[id][0].body, http::BodyKind::kChunked);
  EXPECT_EQ(requester_.body[id].size(), 6u);
  ASSERT_TRUE(requester_.ended.count(id));
  EXPECT_EQ(requester_.ended[id], (Fields{{"grpc-status", "0"}, {"grpc-message", "ok"}}));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_NO_ERROR);
}

TEST_F(ClientCodecTest, InterimHeadsAreReportedBeforeTheFinalOne) {
  Start();
  const int32_t id = Get();
  Pump();
  ASSERT_TRUE(server_->SubmitResponse(id, Head(103, {{"Link", "</s.css>; rel=preload"}}), false));
  Pump();
  ASSERT_EQ(requester_.heads[id].size(), 1u);
  Respond(id, "done");
  Pump();
  ASSERT_EQ(requester_.heads[id].size(), 2u);
  const Requester::Head& interim = requester_.heads[id][0];
  EXPECT_EQ(interim.status, 103);
  EXPECT_FALSE(interim.end_stream);
  EXPECT_EQ(interim.body, http::BodyKind::kNone);
  EXPECT_TRUE(Has(interim.fields, "link", "</s.css>; rel=preload"));
  EXPECT_EQ(requester_.heads[id][1].status, 200);
  EXPECT_EQ(requester_.body[id], "done");
  EXPECT_TRUE(requester_.ended.count(id));
}

TEST_F(ClientCodecTest, ThePeersStreamLimitClosesTheConnectionToNewStreams) {
  server_limits_.max_concurrent_streams = 2;
  Start();
  Pump();  // the SETTINGS exchange
  EXPECT_EQ(client_->peer_max_concurrent_streams(), 2u);
  const int32_t a = Get(), b = Get();
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  EXPECT_EQ(client_->streams_in_flight(), 2u);
  EXPECT_FALSE(client_->CanOpenStream());
  EXPECT_EQ(Get(), -1);
  Pump();
  Respond(a, "a");
  Pump();
  EXPECT_TRUE(requester_.closed.count(a));
  EXPECT_TRUE(client_->CanOpenStream());
  EXPECT_GT(Get(), b);
}

TEST_F(ClientCodecTest, OurLimitCapsStreamsWhateverThePeerAllows) {
  client_limits_.max_concurrent_streams = 1;
  Start();
  Pump();
  ASSERT_GT(Get(), 0);
  EXPECT_FALSE(client_->CanOpenStream());
  EXPECT_EQ(Get(), -1);
}

TEST_F(ClientCodecTest, ResettingAStreamCancelsItAtTheServer) {
  Start();
  const int32_t id = Get();
  Pump();
  ASSERT_TRUE(owner_.heads.count(id));
  client_->ResetStream(id);
  client_->Consume(id, 1);  // a stream being reset takes calls quietly
  Pump();
  EXPECT_EQ(owner_.closed[id], NGHTTP2_CANCEL);
  ASSERT_TRUE(requester_.closed.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_CANCEL);
  EXPECT_FALSE(requester_.closed[id].retryable);
  EXPECT_EQ(client_->streams_in_flight(), 0u);
}

TEST_F(ClientCodecTest, AResetBeforeTheRequestLeftNeverReachesTheServer) {
  Start();
  const int32_t id = Get();
  client_->ResetStream(id);
  Pump();
  EXPECT_FALSE(owner_.heads.count(id));
  ASSERT_TRUE(requester_.closed.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_CANCEL);
}

TEST_F(ClientCodecTest, AStreamTheServerRefusedIsRetryable) {
  Start();
  const int32_t id = Get();
  Pump();
  server_->ResetStream(id, NGHTTP2_REFUSED_STREAM);
  Pump();
  ASSERT_TRUE(requester_.closed.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_REFUSED_STREAM);
  EXPECT_TRUE(requester_.closed[id].retryable);
  EXPECT_EQ(client_->stats().streams_refused, 1u);
}

TEST_F(ClientCodecTest, ARefusedRequestCanBeRetriedFromItsCloseCallback) {
  Start();
  const int32_t first = Get("/again");
  Pump();
  int32_t retry = -1;
  requester_.on_close = [&](int32_t, bool retryable) {
    if (retryable) retry = Get("/again");
  };
  server_->ResetStream(first, NGHTTP2_REFUSED_STREAM);
  Pump();
  ASSERT_GT(retry, first);
  ASSERT_TRUE(owner_.heads.count(retry));
  EXPECT_EQ(owner_.heads[retry].path, "/again");
  Respond(retry, "second time");
  Pump();
  EXPECT_EQ(requester_.body[retry], "second time");
}

TEST_F(ClientCodecTest, AServerResetAfterTheHeadIsNotRetryable) {
  Start();
  const int32_t id = Get();
  Pump();
  ASSERT_TRUE(server_->SubmitResponse(id, Head(200), true));
  evbuffer_add(owner_.ResponseBody(id), "part", 4);
  Pump();
  server_->ResetStream(id, NGHTTP2_INTERNAL_ERROR);
  Pump();
  EXPECT_EQ(requester_.body[id], "part");
  EXPECT_FALSE(requester_.ended.count(id));
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_FALSE(requester_.closed[id].retryable);
}

TEST_F(ClientCodecTest, StreamsAboveGoawaysLastIdAreRetryableAndTheRestFinish) {
  Start();
  const int32_t first = Get("/first");
  Pump();
  ASSERT_TRUE(owner_.heads.count(first));
  // Two more leave the client but never reach the server; a third is still queued.
  const int32_t lost1 = Get("/lost1"), lost2 = Get("/lost2");
  ASSERT_TRUE(client_->Send(c2s_.get(), 1 << 24));
  evbuffer_drain(c2s_.get(), evbuffer_get_length(c2s_.get()));
  const int32_t queued = Get("/queued");
  server_->Goaway(NGHTTP2_NO_ERROR);
  ASSERT_TRUE(server_->Send(s2c_.get(), 1 << 24));
  client_->Receive(s2c_.get());

  ASSERT_EQ(requester_.goaways.size(), 1u);
  EXPECT_EQ(requester_.goaways[0], std::pair(first, uint32_t(NGHTTP2_NO_ERROR)));
  EXPECT_FALSE(client_->CanOpenStream());
  EXPECT_EQ(Get(), -1);
  Pump();
  for (int32_t id : {lost1, lost2, queued}) {
    ASSERT_TRUE(requester_.closed.count(id)) << id;
    EXPECT_TRUE(requester_.closed[id].retryable) << id;
    EXPECT_FALSE(owner_.heads.count(id)) << id;
  }
  EXPECT_FALSE(requester_.closed.count(first));
  Respond(first, "still served");
  Pump();
  EXPECT_EQ(requester_.body[first], "still served");
  EXPECT_EQ(requester_.closed[first].code, NGHTTP2_NO_ERROR);
  EXPECT_FALSE(requester_.closed[first].retryable);
}

TEST_F(ClientCodecTest, OurGoawayLetsOpenStreamsFinish) {
  Start();
  const int32_t id = Get();
  Pump();
  client_->Goaway();
  EXPECT_FALSE(client_->CanOpenStream());
  Pump();
  Respond(id, "ok");
  Pump();
  EXPECT_EQ(requester_.body[id], "ok");
  EXPECT_EQ(requester_.closed[id].code, NGHTTP2_NO_ERROR);
}

TEST_F(ClientCodecTest, AnErrorGoawayClosesEveryStreamWithItsCode) {
  Start();
  const int32_t a = Get(), b = Get();
  Pump();
  client_->Goaway(NGHTTP2_INTERNAL_ERROR);
  ASSERT_TRUE(client_->WantsWrite());
  Pump();
  EXPECT_EQ(requester_.closed[a].code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(requester_.closed[b].code, NGHTTP2_INTERNAL_ERROR);
  EXPECT_EQ(client_->streams_in_flight(), 0u);
  EXPECT_EQ(client_->stats().protocol_errors, 0u);  // the owner's choice, not a limit
}

TEST_F(ClientCodecTest, APingIsAnswered) {
  Start();
  Pump();
  client_->Ping();
  Pump();
  EXPECT_EQ(client_->pings_acked(), 1u);
}

}  // namespace
}  // namespace outrigger::http2
