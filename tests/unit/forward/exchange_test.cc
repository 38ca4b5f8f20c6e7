// Exchange against a fake ClientSession: what it asks of the client side (heads, bodies,
// local replies, the end) as its backends answer. The backends are real listening sockets on
// 127.0.0.1 that the test accepts on and answers by hand, and the worker's loop runs on the
// test's thread, one non-blocking turn at a time, until what a test waits for happened (or
// a deadline, which fails the test): each step is the test's, so the order is deterministic.
#include "proxy/forward/exchange.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/config/loader.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/snapshot.h"
#include "proxy/forward/worker.h"
#include "proxy/http/request_parser.h"
#include "proxy/metrics/collector.h"

namespace outrigger::forward {
namespace {

// A backend the test plays: a listening socket, its accepted connections, what they sent.
class FakeBackend {
 public:
  FakeBackend() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof a;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~FakeBackend() {
    for (int c : conns_) close(c);
    StopListening();
  }
  // Connects to its port are refused from now on.
  void StopListening() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

  // Accepts what is waiting and reads what its connections sent (non-blocking).
  void Poll() {
    for (int c; fd_ >= 0 && (c = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
      conns_.push_back(c);
      received_.emplace_back();
      closed_.push_back(false);
    }
    for (size_t i = 0; i < conns_.size(); ++i) {
      char buf[4096];
      for (ssize_t n; (n = recv(conns_[i], buf, sizeof buf, 0)) != 0;) {
        if (n < 0) break;  // EAGAIN: nothing more for now
        received_[i].append(buf, static_cast<size_t>(n));
      }
      // recv returned 0: the proxy closed its end.
      if (char b; recv(conns_[i], &b, 1, MSG_PEEK) == 0) closed_[i] = true;
    }
  }
  // Requests (heads) received so far, over all connections.
  size_t requests() const {
    size_t n = 0;
    for (const std::string& r : received_) {
      for (size_t at = 0; (at = r.find("\r\n\r\n", at)) != std::string::npos; at += 4) ++n;
    }
    return n;
  }
  void Answer(size_t conn, std::string_view bytes) {
    ASSERT_LT(conn, conns_.size());
    ASSERT_EQ(send(conns_[conn], bytes.data(), bytes.size(), 0),
              static_cast<ssize_t>(bytes.size()));
  }
  size_t connections() const { return conns_.size(); }
  std::string received(size_t conn) const {
    return conn < received_.size() ? received_[conn] : std::string();
  }
  bool closed(size_t conn) const { return closed_.at(conn); }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::vector<int> conns_;
  std::vector<std::string> received_;
  std::vector<bool> closed_;
};

// The client side, recorded: each operation an Exchange calls, with what it passed.
class FakeSession final : public ClientSession {
 public:
  FakeSession() { facts_.peer_ip = "127.0.0.9"; }

  void Flush() override {
    if (ex != nullptr && !ended()) ex->FlushUpstream(/*body_paused=*/false);
  }
  void ReleaseRequestHead(Exchange&) override { ++released_heads; }
  BodyPump::Result PullRequestBody(Exchange& e, evbuffer* to) override {
    return e.request_body.Pump(body.get(), to);
  }
  void PauseRequestBody(Exchange&) override {}
  void ResumeRequestBody(Exchange&) override {}
  bool ClientGone(Exchange&) override { return false; }
  size_t SendResponseHead(Exchange&, http::ResponseHead& head) override {
    heads.push_back(head.status);
    return 10;
  }
  BodyPump::Result PushResponseBody(Exchange& e, evbuffer* in) override {
    return e.response_body.Pump(in, out.get());
  }
  uint64_t PushEncodedBody(Exchange&, evbuffer*, bool) override { return 0; }
  bool ResponseBackedUp(Exchange&) override { return false; }
  void SendLocalReply(Exchange& e, int status, std::string_view detail, bool,
                      std::string_view) override {
    e.EndBeforeLocalAnswer(status);  // what a session does before it writes its page
    local_replies.push_back(status);
    last_detail = std::string(detail);
  }
  void EndExchange(Exchange&) override { ++ends; }
  void ResetClient(Exchange& e) override {
    ++resets;
    e.DropUpstream();
  }
  void StartTunnel(Exchange&) override { ++tunnels; }

  bool ended() const { return ends + resets + local_replies.size() > 0; }
  std::string Output() const {
    const size_t n = evbuffer_get_length(out.get());
    return std::string(reinterpret_cast<const char*>(evbuffer_pullup(out.get(), -1)), n);
  }

  Exchange* ex = nullptr;
  net::EvBufferPtr body{evbuffer_new()};  // the client's request body bytes
  net::EvBufferPtr out{evbuffer_new()};   // the response body the client got
  int released_heads = 0;
  std::vector<int> heads;
  std::vector<int> local_replies;
  std::string last_detail;
  int ends = 0;
  int resets = 0;
  int tunnels = 0;
};

class ExchangeTest : public ::testing::Test {
 protected:
  // A listener routing host h to pool `api` with the two fake backends, in order.
  void SetUp() override {
    const std::string yaml = R"(
workers: 1
admin: { listen: 127.0.0.1:1 }
listeners:
  web:
    listen: 127.0.0.1:2
    access_log: { format: off }
    routes: [ { host: h, path_prefix: /, pool: api } ]
pools:
  api:
    balance: round_robin
    timeouts: { connect: 2s, read: 5s, idle: 60s, tunnel: 1h }
    retries: { attempts: 1, budget_percent: 20 }
    backends:
      - { address: 127.0.0.1:)" +
                             std::to_string(a_.port()) + R"(, name: a }
      - { address: 127.0.0.1:)" +
                             std::to_string(b_.port()) + R"(, name: b }
)";
    absl::StatusOr<config::Config> config = config::LoadConfigString(yaml, "test.yaml");
    ASSERT_TRUE(config.ok()) << config.status();
    absl::StatusOr<std::shared_ptr<const Snapshot>> snap =
        BuildSnapshot(*std::move(config), nullptr);
    ASSERT_TRUE(snap.ok()) << snap.status();
    snapshot_ = *snap;
    worker_ = std::make_unique<Worker>(0, snapshot_, &collector_);
  }

  void TearDown() override {
    if (ex_ != nullptr) {
      if (!ex_->idle()) ex_->DropUpstream();
      worker_->ReturnExchange(std::move(ex_));
    }
  }

  upstream::Backend& backend(size_t i) { return *snapshot_->pools[0].backends[i]; }

  // Starts serving `head` (and `body`, if any) as a session would once it parsed it.
  void Start(std::string head, std::string_view body = {}) {
    head_ = std::move(head);
    ex_ = worker_->TakeExchange();
    ex_->Bind(session_);
    session_.ex = ex_.get();
    evbuffer_add(session_.body.get(), body.data(), body.size());
    http::ParseResult r = http::ParseRequestHead(head_, internal::kHeadLimits, &ex_->request);
    ASSERT_EQ(r.status, http::ParseStatus::kDone);
    ex_->view = worker_->view();
    ex_->listener = 0;
    ex_->method = ex_->request.method;
    ex_->client_minor = ex_->request.version_minor;
    std::string_view client_ip;
    if (!ex_->Route(&client_ip)) return;  // answered: through SendLocalReply
    ex_->ForwardRequest(client_ip);
    session_.Flush();
  }

  // Runs the loop, one non-blocking turn at a time, until `done` (true) or `limit` passed
  // (false).
  bool RunUntil(const std::function<bool()>& done,
                std::chrono::milliseconds limit = std::chrono::seconds(3)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      a_.Poll();
      b_.Poll();
      if (done()) return true;
      event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return false;
  }

  FakeBackend a_;
  FakeBackend b_;
  metrics::Collector collector_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::unique_ptr<Worker> worker_;
  FakeSession session_;
  std::string head_;  // the request's views point into it
  std::unique_ptr<Exchange> ex_;
};

constexpr std::string_view kGet = "GET /x HTTP/1.1\r\nHost: h\r\n\r\n";

TEST_F(ExchangeTest, AnswersA503ThroughSendLocalReplyWhenNoBackendIsAvailable) {
  backend(0).SetUnavailable(upstream::Backend::kMaint, true);
  backend(1).SetUnavailable(upstream::Backend::kMaint, true);
  Start(std::string(kGet));
  EXPECT_EQ(session_.local_replies, std::vector<int>{503});
  EXPECT_EQ(session_.last_detail, "no backend available");
  EXPECT_TRUE(session_.heads.empty());
  EXPECT_EQ(session_.released_heads, 1);  // before the reply: its views are done with
  EXPECT_TRUE(ex_->idle());
  // Nothing was tried: no connection was opened to either backend (a connect on loopback
  // completes well within the wait).
  EXPECT_FALSE(RunUntil([&] { return a_.connections() + b_.connections() > 0; },
                        std::chrono::milliseconds(100)));
}

TEST_F(ExchangeTest, AnswersA404ThroughSendLocalReplyWhenNoRouteMatches) {
  Start("GET /x HTTP/1.1\r\nHost: other.example\r\n\r\n");
  EXPECT_EQ(session_.local_replies, std::vector<int>{404});
  EXPECT_EQ(session_.released_heads, 1);
  EXPECT_TRUE(ex_->idle());
  EXPECT_FALSE(RunUntil([&] { return a_.connections() + b_.connections() > 0; },
                        std::chrono::milliseconds(100)));
}

TEST_F(ExchangeTest, StreamsTheRequestBodyAfterItsHead) {
  Start("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 7\r\n\r\n", "payload");
  ASSERT_TRUE(RunUntil([&] { return a_.received(0).ends_with("\r\n\r\npayload"); }));
  a_.Answer(0, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return session_.ended(); }));
  EXPECT_EQ(session_.heads, std::vector<int>{201});
  EXPECT_EQ(ex_->request_body.moved(), 7u);
}

TEST_F(ExchangeTest, SendsTheResponseHeadOnceAndEndsAfterTheBody) {
  Start(std::string(kGet));
  ASSERT_TRUE(RunUntil([&] { return a_.requests() == 1; }));  // round robin: a first
  // An interim head, then the final one and its body, in one write.
  a_.Answer(0,
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(RunUntil([&] { return session_.ended(); }));
  EXPECT_EQ(session_.heads, (std::vector<int>{103, 200}));  // one final head
  EXPECT_EQ(session_.Output(), "hello");
  EXPECT_EQ(session_.ends, 1);
  EXPECT_TRUE(session_.local_replies.empty());
  EXPECT_EQ(b_.requests(), 0u);
  EXPECT_TRUE(ex_->idle());
  EXPECT_EQ(backend(0).active_requests(), 0);
}

TEST_F(ExchangeTest, RetriesA5xxOnTheOtherBackendWithinItsBudget) {
  Start(std::string(kGet));
  ASSERT_TRUE(RunUntil([&] { return a_.requests() == 1; }));
  a_.Answer(0, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy");
  // The 503 goes nowhere: the request goes to b, whose answer is the client's.
  ASSERT_TRUE(RunUntil([&] { return b_.requests() == 1; }));
  EXPECT_TRUE(session_.heads.empty());
  b_.Answer(0, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(RunUntil([&] { return session_.ended(); }));
  EXPECT_EQ(session_.heads, std::vector<int>{200});
  EXPECT_EQ(session_.Output(), "ok");
  EXPECT_EQ(ex_->retries, 1u);
  // The failed attempt's connection is not reused: it held an unread answer.
  ASSERT_TRUE(RunUntil([&] { return a_.closed(0); }));
}

TEST_F(ExchangeTest, RelaysA5xxWhenTheAttemptsAreSpent) {
  Start(std::string(kGet));
  ASSERT_TRUE(RunUntil([&] { return a_.requests() == 1; }));
  a_.Answer(0, "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return b_.requests() == 1; }));
  // attempts: 1 is spent: b's 502 is the client's answer, as b sent it.
  b_.Answer(0, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 3\r\n\r\nbad");
  ASSERT_TRUE(RunUntil([&] { return session_.ended(); }));
  EXPECT_EQ(session_.heads, std::vector<int>{502});
  EXPECT_EQ(session_.Output(), "bad");
  EXPECT_TRUE(session_.local_replies.empty());
  EXPECT_EQ(a_.requests() + b_.requests(), 2u);
}

TEST_F(ExchangeTest, TheClientGoingAwayEndsTheAttempt) {
  Start(std::string(kGet));
  ASSERT_TRUE(RunUntil([&] { return a_.requests() == 1; }));
  EXPECT_EQ(backend(0).active_requests(), 1);
  ex_->DropUpstream();  // what a session does when its client goes
  EXPECT_TRUE(ex_->idle());
  EXPECT_EQ(backend(0).active_requests(), 0);
  // The backend sees the connection close; an answer sent now reaches no one.
  ASSERT_TRUE(RunUntil([&] { return a_.closed(0); }));
  EXPECT_TRUE(session_.heads.empty());
  EXPECT_FALSE(session_.ended());
}

TEST_F(ExchangeTest, AConnectFailureIsRetriedThenAnswered502) {
  // Both backends refuse: a's connect fails, the retry's at b too; no attempt is left.
  a_.StopListening();
  b_.StopListening();
  Start(std::string(kGet));
  ASSERT_TRUE(RunUntil([&] { return session_.ended(); }));
  EXPECT_EQ(session_.local_replies, std::vector<int>{502});
  EXPECT_EQ(session_.last_detail, "upstream connect failed");
  EXPECT_EQ(ex_->retries, 1u);
  EXPECT_TRUE(ex_->idle());
  EXPECT_EQ(backend(0).active_requests() + backend(1).active_requests(), 0);
}

}  // namespace
}  // namespace outrigger::forward
