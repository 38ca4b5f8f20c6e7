// net::Stream on real sockets and a real loop: what stream.h promises the request path.
//
// Every loop runs with EVLOOP_ONCE under a guard timer, so no test can wait forever. Where a
// test needs "before" or "not yet", it compares the Stream's timeouts with marker timers:
// libevent runs due timers in deadline order, so the order of the log is decided by the
// deadlines, not by how fast this machine happens to be.
#include "proxy/net/stream.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace outrigger::net {
namespace {

using std::chrono::milliseconds;

constexpr int kPollLimitMs = 5000;  // the longest a test waits on a socket of its own

// The test's end of a socket.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// `ours` goes to a Stream (which owns it from then on); the test plays `peer`.
struct Pair {
  int ours = -1;
  Fd peer;
};

Pair UnixPair() {
  int fds[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  // As the listener hands sockets over: non-blocking (Stream requires it).
  evutil_make_socket_nonblocking(fds[0]);
  return Pair{fds[0], Fd(fds[1])};
}

// A listening socket on 127.0.0.1 with a port of the kernel's choosing.
Fd Listen(SocketAddress* address, int rcvbuf = 0) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // Set before listen, so accepted sockets inherit it and the window is sized to it.
  if (rcvbuf > 0) setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), sizeof(sin)), 0);
  EXPECT_EQ(listen(fd.get(), 8), 0);
  socklen_t len = sizeof(sin);
  getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sin), &len);
  *address = SocketAddress(reinterpret_cast<sockaddr*>(&sin), len);
  return fd;
}

bool WaitFor(int fd, short events) {
  pollfd p{fd, events, 0};
  return poll(&p, 1, kPollLimitMs) == 1;
}

Fd Accept(int listener) {
  EXPECT_TRUE(WaitFor(listener, POLLIN));
  return Fd(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
}

// A loopback TCP connection; small buffers (when asked) keep "more than the socket holds"
// to a few MiB, as loopback autotuning would otherwise absorb much more.
Pair TcpPair(int buffer = 0) {
  SocketAddress address;
  Fd listener = Listen(&address, buffer);
  Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (buffer > 0) setsockopt(client.get(), SOL_SOCKET, SO_SNDBUF, &buffer, sizeof(buffer));
  EXPECT_EQ(connect(client.get(), address.sockaddr_ptr(), address.length()), 0);
  Fd server = Accept(listener.get());
  evutil_make_socket_nonblocking(client.get());
  return Pair{client.Release(), std::move(server)};
}

// Closes with a RST instead of a FIN, as a crashed or impatient peer does.
void Reset(Fd& fd) {
  linger l{1, 0};
  setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof(l));
  fd.Reset();
}

std::string Contents(evbuffer* buffer) {
  std::string s(evbuffer_get_length(buffer), '\0');
  evbuffer_copyout(buffer, s.data(), s.size());
  return s;
}

// Bytes whose order shows: a chunk delivered twice, late or early does not match.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

std::string Describe(short what) {
  std::string s;
  auto add = [&](short bit, const char* name) {
    if (what & bit) s += s.empty() ? name : std::string("|") + name;
  };
  add(Stream::kReading, "reading");
  add(Stream::kWriting, "writing");
  add(Stream::kEof, "eof");
  add(Stream::kError, "error");
  add(Stream::kTimeout, "timeout");
  add(Stream::kConnected, "connected");
  return s;
}

class StreamTest : public ::testing::Test {
 protected:
  // Which callback destroys the Stream (as an owner closing a connection does).
  enum class DestroyIn { kNever, kRead, kDrained, kEvent };

  // As the server does at start-up: a write to a closed peer is EPIPE, not a fatal signal.
  static void SetUpTestSuite() { std::signal(SIGPIPE, SIG_IGN); }

  void Adopt(int fd) {
    stream_ = std::make_unique<Stream>(base_.get(), fd);
    Wire();
  }
  void Wire() { stream_->SetCallbacks(&OnRead, &OnDrained, &OnEvent, this); }

  static void OnRead(void* ctx) {
    auto* self = static_cast<StreamTest*>(ctx);
    self->log_.push_back("read");
    ++self->reads_;
    if (self->after_read_) self->after_read_();
    if (self->destroy_in_ == DestroyIn::kRead) self->stream_.reset();
  }
  static void OnDrained(void* ctx) {
    auto* self = static_cast<StreamTest*>(ctx);
    self->log_.push_back("drained");
    self->drained_at_.push_back(evbuffer_get_length(self->stream_->output()));
    if (self->destroy_in_ == DestroyIn::kDrained) self->stream_.reset();
  }
  static void OnEvent(short what, void* ctx) {
    auto* self = static_cast<StreamTest*>(ctx);
    self->log_.push_back(Describe(what));
    self->events_.push_back(what);
    if (self->destroy_in_ == DestroyIn::kEvent) self->stream_.reset();
  }

  // A timer that logs `label` (and runs `action`) when it fires.
  void Mark(milliseconds after, std::string label, std::function<void()> action = nullptr) {
    auto marker = std::make_unique<Marker>();
    marker->test = this;
    marker->label = std::move(label);
    marker->action = std::move(action);
    marker->ev.reset(evtimer_new(
        base_.get(),
        [](evutil_socket_t, short, void* arg) {
          auto* m = static_cast<Marker*>(arg);
          m->test->log_.push_back(m->label);
          if (m->action) m->action();
        },
        marker.get()));
    timeval tv{static_cast<time_t>(after.count() / 1000),
               static_cast<suseconds_t>(after.count() % 1000 * 1000)};
    evtimer_add(marker->ev.get(), &tv);
    markers_.push_back(std::move(marker));
  }
  bool Logged(const std::string& label) const {
    return std::find(log_.begin(), log_.end(), label) != log_.end();
  }

  // Runs the loop until `done` holds, for at most `limit`.
  bool RunUntil(const std::function<bool()>& done, milliseconds limit = milliseconds(5000)) {
    bool expired = false;
    EventPtr guard(evtimer_new(
        base_.get(), [](evutil_socket_t, short, void* arg) { *static_cast<bool*>(arg) = true; },
        &expired));
    timeval tv{static_cast<time_t>(limit.count() / 1000),
               static_cast<suseconds_t>(limit.count() % 1000 * 1000)};
    evtimer_add(guard.get(), &tv);
    while (!done() && !expired) event_base_loop(base_.get(), EVLOOP_ONCE);
    return done();
  }
  bool RunUntilEvent() {
    return RunUntil([&] { return !events_.empty(); });
  }
  // Lets the loop run for `time` (marker-bounded), for tests that assert nothing happens.
  void RunFor(milliseconds time, const std::string& label = "settled") {
    Mark(time, label);
    ASSERT_TRUE(RunUntil([&] { return Logged(label); }));
  }

  // Queues more than the socket holds and flushes: the rest waits on the armed write event.
  void FillSocket(const std::string& bytes) {
    evbuffer_add(stream_->output(), bytes.data(), bytes.size());
    stream_->Flush();
    ASSERT_GT(evbuffer_get_length(stream_->output()), 0u) << "the socket took it all";
  }

  int Added() const { return event_base_get_num_events(base_.get(), EVENT_BASE_COUNT_ADDED); }

  struct Marker {
    StreamTest* test = nullptr;
    std::string label;
    std::function<void()> action;
    EventPtr ev;
  };

  EventBasePtr base_ = NewEventBase();
  std::vector<std::unique_ptr<Marker>> markers_;
  std::unique_ptr<Stream> stream_;  // before base_ in destruction: its events go first
  std::vector<std::string> log_;    // every callback and marker, in order
  std::vector<short> events_;
  std::vector<size_t> drained_at_;  // output() length at each drained callback
  int reads_ = 0;
  std::function<void()> after_read_;
  DestroyIn destroy_in_ = DestroyIn::kNever;
};

// ---- reading -----------------------------------------------------------------------------

TEST_F(StreamTest, BytesFromThePeerAppearInInput) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->EnableRead();
  ASSERT_EQ(write(p.peer.get(), "hello", 5), 5);
  ASSERT_TRUE(RunUntil([&] { return reads_ > 0; }));
  EXPECT_EQ(Contents(stream_->input()), "hello");
  EXPECT_TRUE(events_.empty());
}

// ---- buffers -------------------------------------------------------------------------------

TEST_F(StreamTest, ReleaseBuffersGivesEmptyOnesToTheSparesAndKeepsTheRest) {
  BufferSpares spares(4);
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->UseSpares(&spares);
  evbuffer* in = stream_->input();
  evbuffer_add(stream_->output(), "unsent", 6);
  stream_->ReleaseBuffers();
  EXPECT_EQ(spares.size(), 1u);  // the input: the output still holds bytes
  EXPECT_EQ(Contents(stream_->output()), "unsent");
  EXPECT_EQ(stream_->input(), in);  // taken back from the spares
  EXPECT_EQ(spares.size(), 0u);
}

TEST_F(StreamTest, AGivenBackBufferReadsAgainAfterItsBytesWereDrained) {
  BufferSpares spares(4);
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->UseSpares(&spares);
  stream_->EnableRead();
  ASSERT_EQ(write(p.peer.get(), "first", 5), 5);
  ASSERT_TRUE(RunUntil([&] { return reads_ == 1; }));
  EXPECT_EQ(Contents(stream_->input()), "first");
  evbuffer_drain(stream_->input(), 5);
  stream_->ReleaseBuffers();
  ASSERT_EQ(spares.size(), 1u);
  ASSERT_EQ(write(p.peer.get(), "second", 6), 6);
  ASSERT_TRUE(RunUntil([&] { return reads_ == 2; }));
  EXPECT_EQ(Contents(stream_->input()), "second");
  EXPECT_EQ(spares.size(), 0u);
}

TEST_F(StreamTest, WithoutSparesReleasedBuffersAreFreedAndMadeAnew) {
  Pair p = UnixPair();
  Adopt(p.ours);
  evbuffer_add(stream_->input(), "x", 1);
  stream_->ReleaseBuffers();  // holds a byte: kept
  EXPECT_EQ(Contents(stream_->input()), "x");
  evbuffer_drain(stream_->input(), 1);
  stream_->ReleaseBuffers();
  EXPECT_EQ(evbuffer_get_length(stream_->input()), 0u);  // a new, empty one
}

TEST_F(StreamTest, ReadsNothingWhileReadingIsDisabled) {
  Pair p = UnixPair();
  Adopt(p.ours);
  ASSERT_EQ(write(p.peer.get(), "hello", 5), 5);
  RunFor(milliseconds(30));
  EXPECT_EQ(reads_, 0);
  stream_->EnableRead();
  ASSERT_TRUE(RunUntil([&] { return reads_ > 0; }));
  EXPECT_EQ(Contents(stream_->input()), "hello");
}

TEST_F(StreamTest, PeerEofIsReportedOnceAndReadingStops) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->EnableRead();
  ASSERT_EQ(write(p.peer.get(), "last", 4), 4);
  shutdown(p.peer.get(), SHUT_WR);
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "reading|eof");
  EXPECT_EQ(Contents(stream_->input()), "last");  // what came before the EOF is kept
  EXPECT_FALSE(stream_->reading());
  RunFor(milliseconds(30));  // a watched EOF would fire again at once
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(log_, (std::vector<std::string>{"read", "reading|eof", "settled"}));
}

TEST_F(StreamTest, PeerResetIsAReadingError) {
  Pair p = TcpPair();
  Adopt(p.ours);
  stream_->EnableRead();
  Reset(p.peer);
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "reading|error");
  EXPECT_FALSE(stream_->reading());
  RunFor(milliseconds(30));
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(StreamTest, HalfClosedStreamStillWrites) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->EnableRead();
  shutdown(p.peer.get(), SHUT_WR);
  ASSERT_TRUE(RunUntilEvent());
  ASSERT_EQ(Describe(events_[0]), "reading|eof");
  evbuffer_add(stream_->output(), "response", 8);
  stream_->Flush();
  char buf[16];
  ASSERT_EQ(recv(p.peer.get(), buf, sizeof(buf), MSG_DONTWAIT), 8);
  EXPECT_EQ(std::string(buf, 8), "response");
}

// ---- writing -----------------------------------------------------------------------------

TEST_F(StreamTest, FlushWritesAtOnceAndArmsNoWriteEvent) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetLowWater(1 << 20);  // a drained callback would be due for any write the loop made
  const int added = Added();
  const std::string request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  evbuffer_add(stream_->output(), request.data(), request.size());
  stream_->Flush();
  EXPECT_EQ(evbuffer_get_length(stream_->output()), 0u);
  EXPECT_EQ(Added(), added);
  // At the peer already, without the loop having run.
  char buf[256];
  ssize_t n = recv(p.peer.get(), buf, sizeof(buf), MSG_DONTWAIT);
  ASSERT_EQ(n, static_cast<ssize_t>(request.size()));
  EXPECT_EQ(std::string(buf, n), request);
  RunFor(milliseconds(30));
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});  // no drained for a write-through
}

TEST_F(StreamTest, FlushWithNothingQueuedDoesNothing) {
  Pair p = UnixPair();
  Adopt(p.ours);
  const int added = Added();
  stream_->Flush();
  EXPECT_EQ(Added(), added);
  RunFor(milliseconds(20));
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});
}

class LargeOutputTest : public StreamTest {
 protected:
  static constexpr size_t kLowWater = 64 * 1024;

  // Queues several MiB, flushes, then reads at the peer 16 KiB at a time between loop turns.
  void SendThroughSlowPeer(Pair p) {
    Adopt(p.ours);
    stream_->SetLowWater(kLowWater);
    const int added = Added();
    const std::string sent = Pattern(6 << 20);
    evbuffer_add(stream_->output(), sent.data(), sent.size());
    stream_->Flush();
    const size_t left = evbuffer_get_length(stream_->output());
    ASSERT_GT(left, 0u) << "the socket took it all: not a test of the loop's writes";
    ASSERT_LT(left, sent.size()) << "Flush wrote nothing";
    EXPECT_TRUE(drained_at_.empty());  // Flush's own write

    std::string received;
    received.reserve(sent.size());
    char chunk[16 * 1024];
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (received.size() < sent.size() && std::chrono::steady_clock::now() < deadline) {
      event_base_loop(base_.get(), EVLOOP_NONBLOCK);
      pollfd pfd{p.peer.get(), POLLIN, 0};
      if (poll(&pfd, 1, 100) != 1) continue;
      ssize_t n = recv(p.peer.get(), chunk, sizeof(chunk), 0);
      ASSERT_GT(n, 0);
      received.append(chunk, static_cast<size_t>(n));
    }
    ASSERT_EQ(received.size(), sent.size());
    EXPECT_TRUE(received == sent) << "bytes arrived out of order or changed";
    // The last write ran in the loop, so the owner hears that output fell to low water, and
    // hears it only then.
    ASSERT_FALSE(drained_at_.empty());
    for (size_t at : drained_at_) EXPECT_LE(at, kLowWater);
    EXPECT_EQ(drained_at_.back(), 0u);
    EXPECT_EQ(Added(), added) << "the write event stays armed with nothing to write";
    EXPECT_TRUE(events_.empty());
  }
};

TEST_F(LargeOutputTest, UnixSocketDeliversEveryByteInOrder) { SendThroughSlowPeer(UnixPair()); }

TEST_F(LargeOutputTest, TcpDeliversEveryByteInOrder) {
  SendThroughSlowPeer(TcpPair(/*buffer=*/64 * 1024));
}

TEST_F(StreamTest, FlushWhileTheWriteEventIsArmedLeavesTheRestToTheLoop) {
  Pair p = UnixPair();
  Adopt(p.ours);
  const std::string sent = Pattern(2 << 20);
  FillSocket(sent.substr(0, 1 << 20));
  evbuffer_add(stream_->output(), sent.data() + (1 << 20), sent.size() - (1 << 20));
  stream_->Flush();
  std::string received;
  char chunk[64 * 1024];
  while (received.size() < sent.size()) {
    ASSERT_TRUE(RunUntil([&] {
      pollfd pfd{p.peer.get(), POLLIN, 0};
      return poll(&pfd, 1, 0) == 1;
    }));
    ssize_t n = recv(p.peer.get(), chunk, sizeof(chunk), 0);
    ASSERT_GT(n, 0);
    received.append(chunk, static_cast<size_t>(n));
  }
  EXPECT_TRUE(received == sent);
}

TEST_F(StreamTest, WriteToAClosedPeerIsReportedFromTheLoopNotFromFlush) {
  Pair p = UnixPair();
  Adopt(p.ours);
  p.peer.Reset();
  evbuffer_add(stream_->output(), "late", 4);
  stream_->Flush();  // EPIPE here
  EXPECT_TRUE(log_.empty()) << "Flush called " << log_[0];
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "writing|error");
  // Reported once; later Flushes stay quiet.
  evbuffer_add(stream_->output(), "more", 4);
  stream_->Flush();
  RunFor(milliseconds(30));
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(StreamTest, WriteAfterAPeerResetIsAWritingError) {
  Pair p = TcpPair();
  Adopt(p.ours);
  Reset(p.peer);
  ASSERT_TRUE(WaitFor(stream_->fd(), POLLIN));  // the RST has arrived
  evbuffer_add(stream_->output(), "late", 4);
  stream_->Flush();  // ECONNRESET or EPIPE here
  EXPECT_TRUE(log_.empty()) << "Flush called " << log_[0];
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "writing|error");
}

TEST_F(StreamTest, WriteErrorWhileTheLoopWritesIsAWritingError) {
  Pair p = TcpPair(/*buffer=*/64 * 1024);
  Adopt(p.ours);
  FillSocket(Pattern(4 << 20));
  Reset(p.peer);
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "writing|error");
  EXPECT_TRUE(drained_at_.empty());
}

// ---- timeouts ----------------------------------------------------------------------------

TEST_F(StreamTest, ReadTimeoutFiresWhenNothingArrives) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(50));
  stream_->EnableRead();
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "reading|timeout");
  EXPECT_EQ(reads_, 0);
}

TEST_F(StreamTest, ReadTimeoutRestartsAtEachRead) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(500));
  stream_->EnableRead();
  // The byte is read at least 100 ms in; from then a restarted timeout is due 500 ms later,
  // after the marker (450 ms), while one left running from the start was due before it.
  Mark(milliseconds(100), "send", [&] { ASSERT_EQ(write(p.peer.get(), "x", 1), 1); });
  after_read_ = [&] {
    if (reads_ == 1) Mark(milliseconds(450), "marker");
  };
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(log_, (std::vector<std::string>{"send", "read", "marker", "reading|timeout"}));
}

TEST_F(StreamTest, SettingTheReadTimeoutRestartsIt) {
  // A pooled connection's read timeout must run from its next request, not from its last
  // read before it went idle, even when the pool's idle timeout has the same value.
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(500));
  stream_->EnableRead();
  Mark(milliseconds(100), "reset", [&] {
    stream_->SetReadTimeout(milliseconds(500));
    Mark(milliseconds(450), "marker");
  });
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(log_, (std::vector<std::string>{"reset", "marker", "reading|timeout"}));
}

TEST_F(StreamTest, SettingTheReadTimeoutAsItFallsDueKeepsWatchingTheSocket) {
  // The loop is late (a slow callback), so a marker and the read timeout fall due in the same
  // pass, the marker first: it restarts the timeout before the timed-out read event's
  // callback has run, as a connection does when an exchange ends (AwaitHead) while its stale
  // header timer is due. The peer's byte must still be read at once, not when the restarted
  // timeout fires.
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(50));
  stream_->EnableRead();
  Mark(milliseconds(10), "stall", [] { usleep(100 * 1000); });
  Mark(milliseconds(20), "restart", [&] {
    stream_->SetReadTimeout(milliseconds(2000));
    ASSERT_EQ(write(p.peer.get(), "x", 1), 1);
  });
  RunFor(milliseconds(400), "marker");
  EXPECT_EQ(log_, (std::vector<std::string>{"stall", "restart", "read", "marker"}));
}

TEST_F(StreamTest, DisableReadStopsTheReadTimeout) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(50));
  stream_->EnableRead();
  stream_->DisableRead();
  RunFor(milliseconds(150));
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});
}

TEST_F(StreamTest, ZeroReadTimeoutCancelsARunningOne) {
  // What a connection does when it becomes a tunnel: its upstream read timeout must go.
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(50));
  stream_->EnableRead();
  stream_->SetReadTimeout(milliseconds(0));
  RunFor(milliseconds(150));
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});
}

TEST_F(StreamTest, ZeroReadTimeoutStaysOffWhenReadingResumes) {
  // libevent re-arms a persistent event with the last timeout it was given each time it
  // fires, even one added since without a timeout.
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(50));
  stream_->EnableRead();
  stream_->DisableRead();
  stream_->SetReadTimeout(milliseconds(0));
  stream_->EnableRead();
  ASSERT_EQ(write(p.peer.get(), "x", 1), 1);
  ASSERT_TRUE(RunUntil([&] { return reads_ > 0; }));
  RunFor(milliseconds(150));
  EXPECT_EQ(log_, (std::vector<std::string>{"read", "settled"}));
}

TEST_F(StreamTest, WriteTimeoutFiresWhenThePeerNeverReads) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetWriteTimeout(milliseconds(50));
  FillSocket(Pattern(4 << 20));
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "writing|timeout");
  EXPECT_TRUE(drained_at_.empty());
}

TEST_F(StreamTest, NoWriteTimeoutWhileNothingWaits) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetWriteTimeout(milliseconds(50));
  evbuffer_add(stream_->output(), "small", 5);
  stream_->Flush();
  RunFor(milliseconds(150));
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});
}

TEST_F(StreamTest, ZeroWriteTimeoutCancelsARunningOne) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetWriteTimeout(milliseconds(50));
  FillSocket(Pattern(4 << 20));
  stream_->SetWriteTimeout(milliseconds(0));
  RunFor(milliseconds(150));
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});
}

// ---- connecting --------------------------------------------------------------------------

TEST_F(StreamTest, ConnectReportsConnectedAndSendsWhatWasQueued) {
  SocketAddress address;
  Fd listener = Listen(&address);
  absl::StatusOr<std::unique_ptr<Stream>> connected =
      Stream::Connect(base_.get(), address, milliseconds(5000));
  ASSERT_TRUE(connected.ok()) << connected.status();
  stream_ = *std::move(connected);
  Wire();
  EXPECT_TRUE(stream_->connecting());
  evbuffer_add(stream_->output(), "queued", 6);
  stream_->Flush();  // too early: kept for the connect
  EXPECT_EQ(evbuffer_get_length(stream_->output()), 6u);
  stream_->EnableRead();  // before connected: starts once connected
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "connected");
  EXPECT_FALSE(stream_->connecting());
  EXPECT_TRUE(stream_->reading());

  Fd peer = Accept(listener.get());
  ASSERT_TRUE(WaitFor(peer.get(), POLLIN));
  char buf[16];
  ASSERT_EQ(recv(peer.get(), buf, sizeof(buf), 0), 6);
  EXPECT_EQ(std::string(buf, 6), "queued");
  ASSERT_EQ(write(peer.get(), "reply", 5), 5);
  ASSERT_TRUE(RunUntil([&] { return reads_ > 0; }));
  EXPECT_EQ(Contents(stream_->input()), "reply");
  EXPECT_EQ(events_.size(), 1u);
}

TEST_F(StreamTest, ReadTimeoutWaitsForTheConnect) {
  // The connect has its own timeout: the read timeout starts once connected.
  SocketAddress address;
  Fd listener = Listen(&address);
  auto connected = Stream::Connect(base_.get(), address, milliseconds(5000));
  ASSERT_TRUE(connected.ok()) << connected.status();
  stream_ = *std::move(connected);
  Wire();
  stream_->SetReadTimeout(milliseconds(50));
  stream_->EnableRead();
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "connected");
  events_.clear();
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "reading|timeout");
}

TEST_F(StreamTest, ConnectTimeoutDoesNotOutliveTheConnect) {
  // An upstream Stream has no write timeout: a body the backend is slow to take must not
  // time out by the connect timeout its write event once carried.
  SocketAddress address;
  Fd listener = Listen(&address, /*rcvbuf=*/64 * 1024);
  auto connected = Stream::Connect(base_.get(), address, milliseconds(100));
  ASSERT_TRUE(connected.ok()) << connected.status();
  stream_ = *std::move(connected);
  Wire();
  int sndbuf = 64 * 1024;  // so that what the peer takes below makes room
  setsockopt(stream_->fd(), SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  ASSERT_TRUE(RunUntilEvent());
  ASSERT_EQ(Describe(events_[0]), "connected");
  events_.clear();
  log_.clear();
  Fd peer = Accept(listener.get());
  FillSocket(Pattern(8 << 20));
  // The peer takes what it has until the loop has written (so its write event fired) once.
  const size_t before = evbuffer_get_length(stream_->output());
  ASSERT_TRUE(RunUntil([&] {
    char chunk[64 * 1024];
    while (recv(peer.get(), chunk, sizeof(chunk), MSG_DONTWAIT) > 0) {
    }
    return evbuffer_get_length(stream_->output()) < before;
  }));
  RunFor(milliseconds(400));  // the peer reads no more
  EXPECT_EQ(log_, std::vector<std::string>{"settled"});
}

TEST_F(StreamTest, ConnectToAClosedPortIsAWritingError) {
  SocketAddress address;
  Listen(&address);  // bound, then closed at once: nothing listens on that port now
  auto connected = Stream::Connect(base_.get(), address, milliseconds(5000));
  ASSERT_TRUE(connected.ok()) << connected.status();
  stream_ = *std::move(connected);
  Wire();
  stream_->EnableRead();
  ASSERT_TRUE(RunUntilEvent());
  EXPECT_EQ(Describe(events_[0]), "writing|error");
  RunFor(milliseconds(30));
  EXPECT_EQ(events_.size(), 1u);
  EXPECT_EQ(reads_, 0);
}

// ---- destroying the Stream from its own callbacks (the ASan build checks these) ----------

TEST_F(StreamTest, ReadCallbackMayDestroyTheStream) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->EnableRead();
  // Make the write event due in the same loop turn: the socket is full, then the peer reads.
  FillSocket(Pattern(2 << 20));
  destroy_in_ = DestroyIn::kRead;
  char chunk[64 * 1024];
  for (int i = 0; i < 16; ++i) recv(p.peer.get(), chunk, sizeof(chunk), MSG_DONTWAIT);
  ASSERT_EQ(write(p.peer.get(), "x", 1), 1);
  ASSERT_TRUE(RunUntil([&] { return stream_ == nullptr; }));
  RunFor(milliseconds(20));
}

TEST_F(StreamTest, EventCallbackMayDestroyTheStreamWhenThePeerCloses) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->EnableRead();
  FillSocket(Pattern(2 << 20));
  destroy_in_ = DestroyIn::kEvent;
  p.peer.Reset();
  ASSERT_TRUE(RunUntil([&] { return stream_ == nullptr; }));
  RunFor(milliseconds(20));
}

TEST_F(StreamTest, EventCallbackMayDestroyTheStreamOnTimeout) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->SetReadTimeout(milliseconds(20));
  stream_->SetWriteTimeout(milliseconds(20));
  stream_->EnableRead();
  FillSocket(Pattern(2 << 20));
  destroy_in_ = DestroyIn::kEvent;
  ASSERT_TRUE(RunUntil([&] { return stream_ == nullptr; }));
  RunFor(milliseconds(50));
}

TEST_F(StreamTest, EventCallbackMayDestroyTheStreamOnAWriteError) {
  Pair p = UnixPair();
  Adopt(p.ours);
  p.peer.Reset();
  evbuffer_add(stream_->output(), "late", 4);
  stream_->Flush();
  destroy_in_ = DestroyIn::kEvent;
  ASSERT_TRUE(RunUntil([&] { return stream_ == nullptr; }));
  RunFor(milliseconds(20));
}

TEST_F(StreamTest, EventCallbackMayDestroyTheStreamWhenConnected) {
  SocketAddress address;
  Fd listener = Listen(&address);
  auto connected = Stream::Connect(base_.get(), address, milliseconds(5000));
  ASSERT_TRUE(connected.ok()) << connected.status();
  stream_ = *std::move(connected);
  Wire();
  stream_->EnableRead();
  evbuffer_add(stream_->output(), "queued", 6);
  destroy_in_ = DestroyIn::kEvent;
  ASSERT_TRUE(RunUntil([&] { return stream_ == nullptr; }));
  RunFor(milliseconds(20));
  ASSERT_EQ(log_.front(), "connected");
}

TEST_F(StreamTest, DrainedCallbackMayDestroyTheStream) {
  Pair p = UnixPair();
  Adopt(p.ours);
  stream_->EnableRead();
  stream_->SetLowWater(1 << 20);
  FillSocket(Pattern(2 << 20));
  destroy_in_ = DestroyIn::kDrained;
  ASSERT_TRUE(RunUntil([&] {
    char chunk[64 * 1024];
    while (recv(p.peer.get(), chunk, sizeof(chunk), MSG_DONTWAIT) > 0) {
    }
    return stream_ == nullptr;
  }));
  RunFor(milliseconds(20));
}

}  // namespace
}  // namespace outrigger::net
