// UpstreamAttempt alone: its pick and the shed reason it carries, its caps verdicts and the
// counters they move, the breaker verdicts it reports, and its phases as response heads and
// stream events arrive. The connection is a real net::Stream on a socketpair whose input the
// test fills directly: no loop runs, so every step is deterministic.
#include "proxy/forward/upstream_attempt.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxy/balance/eligible.h"
#include "proxy/base/clock.h"
#include "proxy/forward/exchange.h"
#include "proxy/net/address.h"
#include "proxy/upstream/circuit_breaker.h"

namespace outrigger::forward {
namespace {

using Phase = UpstreamAttempt::Phase;
using Admission = UpstreamAttempt::Admission;

std::shared_ptr<upstream::Backend> MakeBackend(int port, uint32_t consecutive_failures = 5) {
  auto b = std::make_shared<upstream::Backend>(
      "pool", net::ParseNumericAddress("127.0.0.1:" + std::to_string(port)).value(),
      "b" + std::to_string(port));
  upstream::CircuitBreaker::Options options;
  options.consecutive_failures = consecutive_failures;
  b->set_breaker(std::make_shared<upstream::CircuitBreaker>(options));
  return b;
}

// The first eligible backend, in order: the pick's own rules are what is under test.
class InOrder final : public balance::BalancingPolicy {
 public:
  explicit InOrder(const std::vector<std::shared_ptr<upstream::Backend>>& backends) {
    for (const auto& b : backends) order_.push_back(b.get());
  }
  upstream::Backend* Pick(const balance::PickContext& ctx) override {
    for (upstream::Backend* b : order_) {
      if (balance::Eligible(b, ctx)) return b;
    }
    return nullptr;
  }

 private:
  std::vector<upstream::Backend*> order_;
};

// Records what the attempt reports; answers each head with `take_heads`.
class Recorder final : public AttemptCallbacks {
 public:
  bool OnAttemptHead(http::ResponseHead& head) override {
    heads.push_back(head.status);
    return take_heads;
  }
  bool OnAttemptBody(evbuffer* in) override {
    const size_t n = evbuffer_get_length(in);
    body.append(reinterpret_cast<const char*>(evbuffer_pullup(in, -1)), n);
    evbuffer_drain(in, n);
    return true;
  }
  void OnAttemptDone(bool reusable) override { done = reusable; }
  void OnAttemptFailed(upstream::Outcome outcome, int status, std::string_view) override {
    failed = outcome;
    failed_status = status;
  }

  bool take_heads = true;
  std::vector<int> heads;
  std::string body;
  std::optional<bool> done;
  std::optional<upstream::Outcome> failed;
  int failed_status = 0;
};

class UpstreamAttemptTest : public ::testing::Test {
 protected:
  UpstreamAttemptTest() : base_(event_base_new()) {
    backends_.push_back(MakeBackend(9001, /*consecutive_failures=*/1));
    backends_.push_back(MakeBackend(9002));
    ex_.upstream_head = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";
    caps_.max_connections = 1;
    caps_.max_pending = 1;
    caps_.max_requests = 10;
  }
  ~UpstreamAttemptTest() override {
    attempt_.End();
    if (peer_ >= 0) close(peer_);
    event_base_free(base_);
  }

  upstream::Backend& b0() { return *backends_[0]; }

  // A connection to `backend` on a socketpair (the test keeps the other end).
  std::unique_ptr<upstream::UpstreamConnection> Connection(upstream::Backend& backend) {
    int fds[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    evutil_make_socket_nonblocking(fds[0]);
    peer_ = fds[1];
    return std::make_unique<upstream::UpstreamConnection>(
        std::make_unique<net::Stream>(base_, fds[0]), backend.shared_from_this());
  }
  // Begun at b0 with a pooled connection, its request queued whole.
  void Sending() {
    attempt_.Begin(ex_, &b0());
    ASSERT_EQ(attempt_.Admit(caps_, 1, 1000), Admission::kSend);
    attempt_.SetConnection(Connection(b0()), /*connecting=*/false, nullptr, 5);
    attempt_.ReleaseInUseSlot();  // the connection counts itself
  }
  void Arrive(std::string_view bytes) {
    evbuffer_add(attempt_.connection()->stream().input(), bytes.data(), bytes.size());
  }

  event_base* base_;
  int peer_ = -1;
  std::vector<std::shared_ptr<upstream::Backend>> backends_;
  upstream::BackendCaps caps_;
  Exchange ex_;
  Recorder owner_;
  UpstreamAttempt attempt_{owner_};
};

// --- Pick ---

TEST_F(UpstreamAttemptTest, APickIsAdmittedByItsBackendsBreaker) {
  InOrder policy(backends_);
  balance::PickContext ctx;
  const UpstreamAttempt::PickResult pick = UpstreamAttempt::Pick(policy, ctx, false, backends_);
  EXPECT_EQ(pick.backend, &b0());
  // The admission is owed a verdict: one failure (the threshold here) opens the breaker.
  attempt_.Begin(ex_, pick.backend);
  attempt_.ReportOutcome(upstream::Outcome::kUpstreamReset);
  EXPECT_EQ(b0().breaker()->state(1), upstream::CircuitBreaker::State::kOpen);
}

TEST_F(UpstreamAttemptTest, ABackendWhoseBreakerRefusesIsPassedOverForTheNext) {
  // Open b0's breaker (for 30 s from now) without publishing the flag, so that the policy
  // still offers it.
  ASSERT_TRUE(b0().breaker()->AllowRequest(MonoNanos()));
  ASSERT_EQ(b0().breaker()->OnFailure(MonoNanos()), upstream::CircuitChange::kOpened);
  InOrder policy(backends_);
  balance::PickContext ctx;
  EXPECT_EQ(UpstreamAttempt::Pick(policy, ctx, false, backends_).backend, backends_[1].get());
  EXPECT_EQ(ctx.exclude[0], &b0());
}

TEST_F(UpstreamAttemptTest, NoPickWithEveryBackendDownSaysNoBackend) {
  for (auto& b : backends_) b->SetUnavailable(upstream::Backend::kDead, true);
  InOrder policy(backends_);
  balance::PickContext ctx;
  const UpstreamAttempt::PickResult pick = UpstreamAttempt::Pick(policy, ctx, false, backends_);
  EXPECT_EQ(pick.backend, nullptr);
  EXPECT_EQ(pick.shed, metrics::ShedReason::kNoBackend);
}

TEST_F(UpstreamAttemptTest, NoPickWithAnOpenCircuitAmongTheDownSaysCircuitOpen) {
  b0().SetUnavailable(upstream::Backend::kCircuitOpen, true);
  backends_[1]->SetUnavailable(upstream::Backend::kDead, true);
  InOrder policy(backends_);
  balance::PickContext ctx;
  EXPECT_EQ(UpstreamAttempt::Pick(policy, ctx, false, backends_).shed,
            metrics::ShedReason::kCircuitOpen);
}

TEST_F(UpstreamAttemptTest, NoPickWhileABackendIsUpButAtItsCapsSaysOverLimit) {
  caps_.max_requests = 1;
  for (auto& b : backends_) b->AddActive(1);
  InOrder policy(backends_);
  balance::PickContext ctx;
  ctx.caps = &caps_;
  EXPECT_EQ(UpstreamAttempt::Pick(policy, ctx, false, backends_).shed,
            metrics::ShedReason::kOverLimit);
  for (auto& b : backends_) b->AddActive(-1);
}

TEST_F(UpstreamAttemptTest, PanicOffersABackendItsProbesTookOut) {
  for (auto& b : backends_) b->SetUnavailable(upstream::Backend::kDead, true);
  InOrder policy(backends_);
  balance::PickContext ctx;
  EXPECT_EQ(UpstreamAttempt::Pick(policy, ctx, /*panic=*/true, backends_).backend, &b0());
}

// --- caps ---

TEST_F(UpstreamAttemptTest, UnderMaxConnectionsItSendsOnAReservedSlot) {
  attempt_.Begin(ex_, &b0());
  EXPECT_EQ(b0().active_requests(), 1);
  EXPECT_EQ(attempt_.Admit(caps_, 1, 1000), Admission::kSend);
  EXPECT_EQ(b0().connections_in_use(), 1);
  EXPECT_EQ(attempt_.phase(), Phase::kIdle);
  attempt_.ReleaseInUseSlot();
  attempt_.End();
  EXPECT_EQ(b0().active_requests(), 0);
}

TEST_F(UpstreamAttemptTest, ItsOwnRequestIsNotHeldAgainstMaxRequests) {
  caps_.max_requests = 1;
  attempt_.Begin(ex_, &b0());
  EXPECT_EQ(attempt_.Admit(caps_, 1, 1000), Admission::kSend);
  attempt_.ReleaseInUseSlot();
}

TEST_F(UpstreamAttemptTest, OthersAtMaxRequestsShedIt) {
  caps_.max_requests = 1;
  b0().AddActive(1);  // another worker's
  attempt_.Begin(ex_, &b0());
  EXPECT_EQ(attempt_.Admit(caps_, 1, 1000), Admission::kShed);
  EXPECT_EQ(b0().connections_in_use(), 0);
  b0().AddActive(-1);
}

TEST_F(UpstreamAttemptTest, AtMaxConnectionsItWaitsUntilASlotFrees) {
  b0().AddConnectionsInUse(1);  // the one connection allowed is busy
  attempt_.Begin(ex_, &b0());
  EXPECT_EQ(attempt_.Admit(caps_, 100, 1000), Admission::kWait);
  EXPECT_EQ(attempt_.phase(), Phase::kPending);
  EXPECT_EQ(b0().pending(), 1);
  EXPECT_EQ(attempt_.RecheckPending(caps_, 500), Admission::kWait);
  b0().AddConnectionsInUse(-1);
  EXPECT_EQ(attempt_.RecheckPending(caps_, 600), Admission::kSend);
  EXPECT_EQ(attempt_.phase(), Phase::kIdle);
  EXPECT_EQ(b0().pending(), 0);
  EXPECT_EQ(b0().connections_in_use(), 1);  // reserved for this try
  EXPECT_EQ(attempt_.start_ns(), 600);      // the wait is not the backend's time
  attempt_.ReleaseInUseSlot();
}

TEST_F(UpstreamAttemptTest, AWaitGivesUpAtItsDeadline) {
  b0().AddConnectionsInUse(1);
  attempt_.Begin(ex_, &b0());
  ASSERT_EQ(attempt_.Admit(caps_, 100, 1000), Admission::kWait);
  EXPECT_EQ(attempt_.RecheckPending(caps_, 1099), Admission::kWait);
  EXPECT_EQ(attempt_.RecheckPending(caps_, 1100), Admission::kShed);
  EXPECT_EQ(b0().pending(), 0);
  b0().AddConnectionsInUse(-1);
}

TEST_F(UpstreamAttemptTest, AFullQueueShedsAtOnce) {
  b0().AddConnectionsInUse(1);
  caps_.max_pending = 0;
  attempt_.Begin(ex_, &b0());
  EXPECT_EQ(attempt_.Admit(caps_, 100, 1000), Admission::kShed);
  EXPECT_EQ(b0().pending(), 0);
  b0().AddConnectionsInUse(-1);
}

TEST_F(UpstreamAttemptTest, EndingAPendingTryFreesItsSlotAndItsActiveCount) {
  b0().AddConnectionsInUse(1);
  attempt_.Begin(ex_, &b0());
  ASSERT_EQ(attempt_.Admit(caps_, 100, 1000), Admission::kWait);
  attempt_.End();
  EXPECT_EQ(b0().pending(), 0);
  EXPECT_EQ(b0().active_requests(), 0);
  EXPECT_EQ(attempt_.backend(), nullptr);
  b0().AddConnectionsInUse(-1);
}

// --- breaker verdicts ---

TEST_F(UpstreamAttemptTest, OneAdmissionHearsOneVerdict) {
  auto b = MakeBackend(9003, /*consecutive_failures=*/2);
  ASSERT_TRUE(b->breaker()->AllowRequest(1));
  attempt_.Begin(ex_, b.get());
  attempt_.ReportOutcome(upstream::Outcome::kUpstream5xx);
  attempt_.ReportOutcome(upstream::Outcome::kUpstream5xx);  // the same try: ignored
  EXPECT_EQ(b->breaker()->state(1), upstream::CircuitBreaker::State::kClosed);
  attempt_.End();
}

TEST_F(UpstreamAttemptTest, AClientThatWentSaysNothingAboutTheBackend) {
  attempt_.Begin(ex_, &b0());  // b0 opens at one failure
  attempt_.ReportOutcome(upstream::Outcome::kDownstreamReset);
  EXPECT_FALSE(attempt_.breaker_admitted());
  attempt_.ReportOutcome(upstream::Outcome::kUpstreamReset);  // already settled
  EXPECT_EQ(b0().breaker()->state(1), upstream::CircuitBreaker::State::kClosed);
}

// --- phases ---

TEST_F(UpstreamAttemptTest, APooledConnectionWithTheWholeRequestAwaitsTheHead) {
  Sending();
  EXPECT_EQ(attempt_.phase(), Phase::kAwaitingHead);
  EXPECT_EQ(attempt_.sent_ns(), 5);
  EXPECT_FALSE(attempt_.RequestBytesSent());  // the head still waits in the output
  evbuffer* out = attempt_.connection()->stream().output();
  evbuffer_drain(out, 1);
  EXPECT_TRUE(attempt_.RequestBytesSent());
}

TEST_F(UpstreamAttemptTest, ABodyStillToSendKeepsItSendingUntilQueued) {
  ex_.request_body.Start(http::BodyKind::kContentLength, 10);
  attempt_.Begin(ex_, &b0());
  ASSERT_EQ(attempt_.Admit(caps_, 1, 1000), Admission::kSend);
  attempt_.SetConnection(Connection(b0()), /*connecting=*/true, nullptr, 0);
  attempt_.ReleaseInUseSlot();
  EXPECT_EQ(attempt_.phase(), Phase::kConnecting);
  attempt_.OnRequestQueued();  // while connecting: the connect still decides
  EXPECT_EQ(attempt_.phase(), Phase::kConnecting);
  attempt_.OnConnected(7);
  EXPECT_EQ(attempt_.phase(), Phase::kSending);
  EXPECT_EQ(attempt_.sent_ns(), 7);
  attempt_.OnRequestQueued();
  EXPECT_EQ(attempt_.phase(), Phase::kAwaitingHead);
}

TEST_F(UpstreamAttemptTest, InterimHeadsThenTheFinalOneThenItsBody) {
  Sending();
  Arrive("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_TRUE(attempt_.OnReadable());
  EXPECT_EQ(owner_.heads, (std::vector<int>{100, 200}));
  EXPECT_EQ(attempt_.phase(), Phase::kBody);
  EXPECT_EQ(owner_.body, "hi");  // the heads were dropped from the input
}

TEST_F(UpstreamAttemptTest, AHeadTheOwnerDoesNotTakeStopsTheAttemptWhereItIs) {
  Sending();
  owner_.take_heads = false;
  Arrive("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(attempt_.OnReadable());
  EXPECT_EQ(owner_.heads, (std::vector<int>{502}));
  EXPECT_EQ(attempt_.phase(), Phase::kAwaitingHead);
  EXPECT_GT(evbuffer_get_length(attempt_.connection()->stream().input()), 0u);
}

TEST_F(UpstreamAttemptTest, AHeadInTwoReadsIsParsedOnce) {
  Sending();
  Arrive("HTTP/1.1 204 No Content\r\n");
  EXPECT_TRUE(attempt_.OnReadable());
  EXPECT_TRUE(owner_.heads.empty());
  Arrive("\r\n");
  EXPECT_TRUE(attempt_.OnReadable());
  EXPECT_EQ(owner_.heads, (std::vector<int>{204}));
}

TEST_F(UpstreamAttemptTest, AnInvalidHeadFailsAsAProtocolError) {
  Sending();
  attempt_.set_reusable(true);
  Arrive("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(attempt_.OnReadable());
  EXPECT_EQ(owner_.failed, upstream::Outcome::kUpstreamProtocolError);
  EXPECT_EQ(owner_.failed_status, 502);
  EXPECT_FALSE(attempt_.reusable());
}

TEST_F(UpstreamAttemptTest, ATimeoutWhileConnectingIsAConnectFailure) {
  attempt_.Begin(ex_, &b0());
  ASSERT_EQ(attempt_.Admit(caps_, 1, 1000), Admission::kSend);
  attempt_.SetConnection(Connection(b0()), /*connecting=*/true, nullptr, 0);
  attempt_.ReleaseInUseSlot();
  EXPECT_FALSE(attempt_.OnStreamEvent(net::Stream::kTimeout | net::Stream::kWriting));
  EXPECT_EQ(owner_.failed, upstream::Outcome::kLocalConnectFailed);
  EXPECT_EQ(owner_.failed_status, 504);
}

TEST_F(UpstreamAttemptTest, ATimeoutAwaitingTheHeadIsAReadTimeout) {
  Sending();
  EXPECT_FALSE(attempt_.OnStreamEvent(net::Stream::kTimeout | net::Stream::kReading));
  EXPECT_EQ(owner_.failed, upstream::Outcome::kLocalTimeout);
  EXPECT_EQ(owner_.failed_status, 504);
}

TEST_F(UpstreamAttemptTest, AnEofAwaitingTheHeadIsAReset) {
  Sending();
  EXPECT_FALSE(attempt_.OnStreamEvent(net::Stream::kEof | net::Stream::kReading));
  EXPECT_EQ(owner_.failed, upstream::Outcome::kUpstreamReset);
  EXPECT_EQ(owner_.failed_status, 502);
}

TEST_F(UpstreamAttemptTest, AnEofEndsACloseDelimitedBodyAfterWhatCameWithIt) {
  Sending();
  Arrive("HTTP/1.1 200 OK\r\n\r\nuntil");
  EXPECT_TRUE(attempt_.OnReadable());
  Arrive(" the end");
  EXPECT_FALSE(attempt_.OnStreamEvent(net::Stream::kEof | net::Stream::kReading));
  EXPECT_EQ(owner_.body, "until the end");
  EXPECT_EQ(owner_.done, false);
  EXPECT_FALSE(owner_.failed.has_value());
}

}  // namespace
}  // namespace outrigger::forward
