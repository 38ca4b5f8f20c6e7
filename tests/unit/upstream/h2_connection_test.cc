// H2Connection over a socket pair whose far end is a ServerCodec: the backend of an h2 pool.
#include "proxy/upstream/h2_connection.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <string>

#include "proxy/net/event.h"
#include "unit/http2/server_codec_fixture.h"

namespace outrigger::upstream {
namespace {

using http2::Owner;

// Records what one stream's owner hears.
struct Attempt : H2StreamOwner {
  void OnH2Head(const http::ResponseHead& head, bool) override { status = head.status; }
  void OnH2Data(const uint8_t* data, size_t size) override {
    body.append(reinterpret_cast<const char*>(data), size);
  }
  void OnH2End(std::span<const http::Header> trailers) override {
    ended = true;
    for (const http::Header& h : trailers) this->trailers[std::string(h.name)] = h.value;
  }
  void OnH2Close(uint32_t c, bool r) override {
    EXPECT_FALSE(closed) << "closed twice";
    closed = true;
    code = c;
    retryable = r;
  }
  evbuffer* H2RequestBody() override { return request.get(); }

  http2::EvBuffer request = http2::NewBuffer();
  int status = 0;
  std::string body;
  std::map<std::string, std::string> trailers;
  bool ended = false;
  bool closed = false;
  uint32_t code = 0xffff;
  bool retryable = true;
};

class H2ConnectionTest : public ::testing::Test {
 protected:
  H2ConnectionTest()
      : base_(net::NewEventBase()),
        backend_(std::make_shared<Backend>("api", net::ParseNumericAddress("127.0.0.1:9").value(),
                                           "b1")),
        server_(owner_, http2::CodecLimits{}) {
    signal(SIGPIPE, SIG_IGN);  // as the proxy does (net::Stream's requirement)
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    evutil_make_socket_nonblocking(fds[1]);
    far_end_ = fds[1];
    conn_ = std::make_unique<H2Connection>(
        base_.get(), std::make_unique<net::Stream>(base_.get(), fds[0]), backend_,
        http2::CodecLimits{}, "http", std::chrono::seconds(60), [this](H2Connection* c) {
          EXPECT_EQ(c, conn_.get());
          ++deaths_;
        });
  }
  ~H2ConnectionTest() override {
    conn_.reset();
    if (far_end_ >= 0) close(far_end_);
  }

  // Runs the proxy's loop and the backend by turns until `done` (at most a few hundred turns).
  void RunUntil(const std::function<bool()>& done) {
    for (int i = 0; i < 500 && !done(); ++i) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      if (far_end_ < 0) continue;
      char buf[16384];
      ssize_t n;
      while ((n = read(far_end_, buf, sizeof buf)) > 0) evbuffer_add(in_.get(), buf, n);
      if (evbuffer_get_length(in_.get()) > 0) server_.Receive(in_.get());
      server_.Send(out_.get(), 1 << 24);
      while (evbuffer_get_length(out_.get()) > 0) {
        const std::string bytes = http2::Drain(out_.get());
        ASSERT_EQ(write(far_end_, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
      }
      usleep(1000);
    }
    ASSERT_TRUE(done()) << "never came";
  }

  static http::RequestHead Get(std::string_view path) {
    http::RequestHead h;
    h.method_text = "GET";
    h.method = http::Method::kGet;
    h.target = h.path = path;
    h.authority = "backend.test";
    h.headers = {{"Host", "backend.test"}};
    return h;
  }

  void Respond(int32_t stream, const std::string& body) {
    http::ResponseHead h;
    h.status = 200;
    ASSERT_TRUE(server_.SubmitResponse(stream, h, true));
    evbuffer_add(owner_.ResponseBody(stream), body.data(), body.size());
    server_.FinishResponse(stream);
  }

  net::EventBasePtr base_;
  std::shared_ptr<Backend> backend_;
  Owner owner_;
  http2::ServerCodec server_;
  http2::EvBuffer in_ = http2::NewBuffer();
  http2::EvBuffer out_ = http2::NewBuffer();
  int far_end_ = -1;
  int deaths_ = 0;
  std::unique_ptr<H2Connection> conn_;
};

TEST_F(H2ConnectionTest, TwoRequestsShareTheConnectionAndEachAnswerFindsItsOwner) {
  EXPECT_EQ(backend_->connections_in_use(), 1u);
  Attempt a, b;
  const int32_t ida = conn_->Open(Get("/a"), false, &a);
  const int32_t idb = conn_->Open(Get("/b"), false, &b);
  ASSERT_GT(ida, 0);
  ASSERT_GT(idb, ida);
  EXPECT_EQ(conn_->streams(), 2u);
  RunUntil([&] { return owner_.heads.size() == 2; });
  EXPECT_EQ(owner_.heads[ida].path, "/a");
  EXPECT_EQ(owner_.heads[idb].path, "/b");
  EXPECT_EQ(backend_->connections_in_use(), 1u);  // one connection, two streams

  Respond(idb, "bee");
  Respond(ida, "ay");
  RunUntil([&] { return a.closed && b.closed; });
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.body, "ay");
  EXPECT_EQ(b.body, "bee");
  EXPECT_TRUE(a.ended && b.ended);
  EXPECT_EQ(a.code, static_cast<uint32_t>(NGHTTP2_NO_ERROR));
  EXPECT_EQ(conn_->streams(), 0u);
  EXPECT_TRUE(conn_->CanOpenStream());
  EXPECT_EQ(deaths_, 0);
  conn_.reset();
  EXPECT_EQ(backend_->connections_in_use(), 0u);
}

TEST_F(H2ConnectionTest, TrailersReachTheOwner) {
  Attempt a;
  const int32_t id = conn_->Open(Get("/rpc"), false, &a);
  RunUntil([&] { return owner_.heads.count(id) > 0; });
  http::ResponseHead h;
  h.status = 200;
  ASSERT_TRUE(server_.SubmitResponse(id, h, true));
  evbuffer_add(owner_.ResponseBody(id), "x", 1);
  const std::vector<http::Header> trailers = {{"grpc-status", "0"}};
  server_.SubmitTrailers(id, trailers);
  RunUntil([&] { return a.closed; });
  EXPECT_EQ(a.body, "x");
  EXPECT_EQ(a.trailers["grpc-status"], "0");
}

TEST_F(H2ConnectionTest, ACancelResetsTheBackendStreamAndTheOwnerHearsNoMore) {
  Attempt a;
  const int32_t id = conn_->Open(Get("/slow"), false, &a);
  RunUntil([&] { return owner_.heads.count(id) > 0; });
  conn_->Cancel(id);
  EXPECT_EQ(conn_->streams(), 0u);
  RunUntil([&] { return owner_.closed.count(id) > 0; });
  EXPECT_EQ(owner_.closed[id], static_cast<uint32_t>(NGHTTP2_CANCEL));
  EXPECT_FALSE(a.closed);
  EXPECT_EQ(deaths_, 0);
}

TEST_F(H2ConnectionTest, TheBackendClosingFailsTheOpenStreamsAndKillsTheConnection) {
  Attempt a;
  const int32_t id = conn_->Open(Get("/a"), false, &a);
  RunUntil([&] { return owner_.heads.count(id) > 0; });
  close(far_end_);
  far_end_ = -1;
  RunUntil([&] { return deaths_ == 1; });
  EXPECT_TRUE(a.closed);
  EXPECT_FALSE(a.retryable);  // the backend had the request
  EXPECT_TRUE(conn_->dead());
  EXPECT_FALSE(conn_->CanOpenStream());
  EXPECT_EQ(conn_->Open(Get("/b"), false, &a), -1);
}

}  // namespace
}  // namespace outrigger::upstream
