// Fuzzes the request path whole: a real forward::Worker, built from a config snapshot, serves
// scripted clients on its real listener and forwards to scripted backends on loopback, all on
// the worker's own event loop, which this target steps by hand (EVLOOP_NONBLOCK) between the
// script's actions. The input is the config's knobs, then a script of actions: bytes a client
// sends (raw, canned requests, bulk bodies), half-closes, resets, clients that stop reading;
// bytes a backend answers with, its closes and resets; loop steps, short sleeps that let the
// proxy's timers fire, reloads that reorder or remove listeners and backends, drain, and the
// control thread's circuit and panic ticks. The format is documented at Script below and
// fuzz/request_path_seeds.py writes the seed corpus in it.
//
// What a run checks beyond the sanitizers: once every peer has gone, the worker holds no
// connection, and no descriptor outlives the input.
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "proxy/base/log.h"
#include "proxy/forward/snapshot.h"
#include "proxy/forward/worker.h"
#include "proxy/metrics/collector.h"
#include "proxy/net/event.h"
#include "proxy/upstream/circuit_breaker.h"

namespace outrigger::forward {
namespace {

using std::chrono::milliseconds;

// ---- Ports ---------------------------------------------------------------------------------
// Loopback ports this process keeps for its whole life: a socket bound with SO_REUSEPORT but
// never listening holds each, so no other process (another fuzz job) gets it from bind(0),
// while the worker's listeners and the backends bind it again, per input, to listen.

enum PortId { kListen0, kListen1, kBackendA, kBackendB, kBackendDead, kPortCount };

struct Ports {
  std::array<uint16_t, kPortCount> port{};
  std::array<int, kPortCount> holder{};
};

int BoundSocket(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons(port);
  FUZZ_CHECK(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0);
  return fd;
}

const Ports& ThePorts() {
  static const Ports ports = [] {
    Ports p;
    for (int i = 0; i < kPortCount; ++i) {
      p.holder[i] = BoundSocket(0);
      sockaddr_in sa{};
      socklen_t len = sizeof(sa);
      FUZZ_CHECK(getsockname(p.holder[i], reinterpret_cast<sockaddr*>(&sa), &len) == 0);
      p.port[i] = ntohs(sa.sin_port);
    }
    return p;
  }();
  return ports;
}

net::SocketAddress Loopback(PortId id) {
  return *net::ParseNumericAddress("127.0.0.1:" + std::to_string(ThePorts().port[id]));
}

// ---- Script --------------------------------------------------------------------------------
// Bytes are read front to back; past the end every byte reads 0. The first kKnobBytes are the
// config's knobs (Knobs), the rest is a sequence of actions, each an opcode byte and its
// arguments (Op).

class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string_view Bytes(size_t n) {
    n = std::min(n, size_ - std::min(pos_, size_));
    std::string_view out(reinterpret_cast<const char*>(data_) + pos_, n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

constexpr size_t kKnobBytes = 8;

struct Knobs {
  uint8_t pool;      // balance (bits 0-2), hash_on (3-4), panic_threshold 0/50/100 (5-6)
  uint8_t reuse;     // retries.attempts (0-1), keepalive (2-3), budget_percent (4)
  uint8_t breaker;   // consecutive_failures (0-1), max_connections (2-3), max_pending (4-5),
                     // open_for short (6)
  uint8_t timeouts;  // short header, idle, read, connect, tunnel (bits 0-4)
  uint8_t route;     // max_body (0-1), upgrades (2), trusted_proxies (3), max_connections (4-5)
  uint8_t shape;     // the first snapshot's Shape
};

// Which listeners and backends a snapshot has; a reload changes it.
struct Shape {
  uint8_t listeners;  // 0: web; 1: other, web; 2: web, other; 3: other
  uint8_t backends;   // bits: A, B, dead (none set: A)
  static Shape From(uint8_t b) {
    return {static_cast<uint8_t>(b & 3), static_cast<uint8_t>(b >> 2)};
  }
};

milliseconds Pick(bool short_one, int short_ms, int long_ms) {
  return milliseconds(short_one ? short_ms : long_ms);
}

config::BackendConfig Backend(PortId id, uint32_t weight) {
  config::BackendConfig b;
  b.address = Loopback(id);
  b.address_text = b.address.ToString();
  b.weight = weight;
  return b;
}

config::RouteConfig Route(std::string prefix, std::string pool) {
  config::RouteConfig r;
  r.path_prefix = std::move(prefix);
  r.pool = std::move(pool);
  return r;
}

config::Config MakeConfig(const Knobs& k, Shape shape) {
  static constexpr const char* kPolicies[] = {"round_robin", "least_conn", "ip_hash", "p2c_ewma",
                                              "random"};
  config::Config c;
  c.workers = 1;

  config::PoolConfig main;
  main.name = "main";
  main.balance = kPolicies[(k.pool & 7) % 5];
  switch ((k.pool >> 3) & 3) {
    case 1:
      main.hash_on = {config::HashOn::Kind::kHeader, "x-key"};
      break;
    case 2:
      main.hash_on = {config::HashOn::Kind::kCookie, "c"};
      break;
    default:
      break;
  }
  main.panic_threshold = ((k.pool >> 5) & 3) * 50;
  if (main.panic_threshold > 100) main.panic_threshold = 100;
  if (shape.backends & 1) main.backends.push_back(Backend(kBackendA, 1));
  if (shape.backends & 2) main.backends.push_back(Backend(kBackendB, 2));
  if (shape.backends & 4) main.backends.push_back(Backend(kBackendDead, 1));
  if (main.backends.empty()) main.backends.push_back(Backend(kBackendA, 1));
  main.retries.attempts = k.reuse & 3;
  main.keepalive = std::array<uint32_t, 4>{32, 0, 1, 2}[(k.reuse >> 2) & 3];
  main.retries.budget_percent = (k.reuse & 16) ? 0 : 20;
  main.circuit_breaker.consecutive_failures = 1 + (k.breaker & 3);
  main.circuit_breaker.max_connections =
      std::array<uint32_t, 4>{1024, 1, 2, 3}[(k.breaker >> 2) & 3];
  main.circuit_breaker.max_pending = std::array<uint32_t, 4>{128, 0, 1, 2}[(k.breaker >> 4) & 3];
  main.circuit_breaker.open_for = Pick(k.breaker & 64, 2, 30000);
  main.timeouts.read = Pick(k.timeouts & 4, 4, 60000);
  main.timeouts.connect = Pick(k.timeouts & 8, 8, 5000);
  main.timeouts.tunnel = Pick(k.timeouts & 16, 4, 3600000);

  config::PoolConfig side;
  side.name = "side";
  side.backends.push_back(Backend(kBackendB, 1));
  side.keepalive = 1;
  side.retries.attempts = 0;
  side.timeouts = main.timeouts;
  c.pools = {std::move(main), std::move(side)};

  config::ListenerConfig web;
  web.name = "web";
  web.listen = Loopback(kListen0);
  web.listen_text = web.listen.ToString();
  config::RouteConfig root = Route("/", "main");
  root.max_body = std::array<uint64_t, 4>{uint64_t{10} << 20, 0, 16, 200000}[k.route & 3];
  if (k.route & 4) root.upgrades = {"websocket", "h2c"};
  config::RouteConfig host = Route("/", "main");
  host.host = "ws.test";
  host.upgrades = {"websocket", "h2c"};
  host.max_body = 16;
  web.routes = {root, Route("/b/", "side"), host};
  web.timeouts.header = Pick(k.timeouts & 1, 5, 10000);
  web.timeouts.idle = Pick(k.timeouts & 2, 5, 60000);
  web.max_connections = std::array<uint32_t, 4>{10000, 1, 2, 3}[(k.route >> 4) & 3];
  if (k.route & 8) web.trusted_proxies.push_back(*net::ParseCidr("127.0.0.0/8"));

  config::ListenerConfig other = web;
  other.name = "other";
  other.listen = Loopback(kListen1);
  other.listen_text = other.listen.ToString();
  other.routes = {Route("/api/", "main")};  // anything else: 404

  switch (shape.listeners & 3) {
    case 0:
      c.listeners = {web};
      break;
    case 1:
      c.listeners = {other, web};
      break;
    case 2:
      c.listeners = {web, other};
      break;
    default:
      c.listeners = {other};
      break;
  }
  return c;
}

// ---- Scripted peers ------------------------------------------------------------------------

// One end of a loopback TCP connection, driven by the script: what it is told to send goes
// out as the socket takes it, and what arrives is read and dropped (unless paused).
struct Peer {
  int fd = -1;
  std::string pending;  // told to send, not yet taken by the socket
  bool paused = false;  // stopped reading
  bool eof = false;     // the other side closed (or reset)

  ~Peer() { Close(/*reset=*/false); }
  void Close(bool reset) {
    if (fd < 0) return;
    if (reset) {
      linger l{1, 0};
      setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    ::close(fd);
    fd = -1;
    pending.clear();
    eof = false;
  }
  void Send(std::string_view bytes) {
    if (fd < 0) return;
    pending.append(bytes);
    Pump();
  }
  // Sends and reads what the socket allows now; true when anything moved.
  bool Pump() {
    if (fd < 0) return false;
    bool moved = false;
    while (!pending.empty()) {
      ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n <= 0) {
        if (n < 0 && errno != EAGAIN && errno != EINTR) pending.clear();  // reset or closed
        break;
      }
      pending.erase(0, static_cast<size_t>(n));
      moved = true;
    }
    if (paused || eof) return moved;
    char buf[16384];
    for (;;) {
      ssize_t n = ::recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
      if (n > 0) {
        moved = true;
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) eof = moved = true;
      break;
    }
    return moved;
  }
};

int ConnectTo(const net::SocketAddress& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  FUZZ_CHECK(fd >= 0);
  if (::connect(fd, address.sockaddr_ptr(), address.length()) == 0) return fd;
  if (errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof(err);
    if (::poll(&p, 1, 20) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 &&
        err == 0) {
      return fd;
    }
  }
  ::close(fd);  // refused: no listener there (removed, drained, or not in this config)
  return -1;
}

int Listen(PortId id) {
  int fd = BoundSocket(ThePorts().port[id]);
  FUZZ_CHECK(::listen(fd, 64) == 0);
  return fd;
}

constexpr const char* kRequests[] = {
    "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "HEAD /x HTTP/1.1\r\nHost: a\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "GET /b/ HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 6.6.6.6\r\nCookie: c=1\r\nX-Key: k\r\n\r\n",
    "GET / HTTP/1.0\r\n\r\n",
    "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 300000\r\nExpect: 100-continue\r\n\r\n",
    "GET /api/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
    "GET / HTTP/1.1\nHost: a\n\n",
    "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, websocket\r\nConnection: upgrade\r\n\r\n",
};

constexpr const char* kResponses[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\n\r\nclose-delimited",
    "HTTP/1.1 204 No Content\r\n\r\n",
    "HTTP/1.1 100 Continue\r\n\r\n",
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 300000\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbad",
};

// Bulk bytes a bulk action sends: 16 KiB per unit, up to 16 units, so the 128 KiB water
// marks of both directions are reachable.
std::string_view BulkUnit() {
  static const std::string unit(16 * 1024, 'x');
  return unit;
}

// ---- The run -------------------------------------------------------------------------------

enum Op : uint8_t {
  kClientSend,     // client, length, bytes
  kClientCanned,   // client, which of kRequests
  kClientBulk,     // client, units
  kClientShutWr,   // client
  kClientClose,    // client (bit 3: reset)
  kClientPause,    // client: stop or resume reading
  kBackendSend,    // backend connection (0: newest), length, bytes
  kBackendCanned,  // connection, which of kResponses
  kBackendBulk,    // connection, units
  kBackendClose,   // connection (bit 7: reset)
  kBackendPause,   // connection: stop or resume reading
  kRun,            // loop steps
  kSleep,          // milliseconds the loop may wait for a timer
  kReload,         // the new Shape
  kDrain,
  kControlTick,  // circuit half-open offers; bit 0: balancing panic on or off
  kOpCount,
};

constexpr int kClients = 4;
constexpr size_t kMaxActions = 256;
constexpr int kSettleSteps = 64;
constexpr int kSleepBudgetMs = 24;

class Run {
 public:
  explicit Run(const Knobs& knobs) : knobs_(knobs) {
    shape_ = Shape::From(knobs.shape);
    absl::StatusOr<std::shared_ptr<const Snapshot>> snap =
        BuildSnapshot(MakeConfig(knobs_, shape_), nullptr);
    FUZZ_CHECK(snap.ok());
    snapshot_ = *std::move(snap);
    collector_.SetLayout(snapshot_->metric_layout);
    worker_ = std::make_unique<Worker>(0, snapshot_, &collector_);
    FUZZ_CHECK(worker_->BindListeners().ok());
    backend_listeners_ = {Listen(kBackendA), Listen(kBackendB)};
    sleep_timer_.reset(evtimer_new(
        worker_->base(), [](evutil_socket_t, short, void*) {}, nullptr));
  }

  ~Run() {
    sleep_timer_.reset();
    worker_.reset();  // its connections first: they reference the loop and the pool
    for (int fd : backend_listeners_) ::close(fd);
  }

  void Do(Reader& in) {
    const uint8_t op = in.Byte() % kOpCount;
    switch (op) {
      case kClientSend: {
        Peer& c = Client(in.Byte());
        c.Send(in.Bytes(in.Byte()));
        break;
      }
      case kClientCanned: {
        Peer& c = Client(in.Byte());
        c.Send(kRequests[in.Byte() % std::size(kRequests)]);
        break;
      }
      case kClientBulk: {
        Peer& c = Client(in.Byte());
        for (int n = in.Byte() % 16 + 1; n > 0; --n) c.Send(BulkUnit());
        break;
      }
      case kClientShutWr: {
        Peer& c = Client(in.Byte());
        if (c.fd >= 0) ::shutdown(c.fd, SHUT_WR);
        break;
      }
      case kClientClose: {
        uint8_t b = in.Byte();
        clients_[b % kClients].Close(b & 8);
        break;
      }
      case kClientPause: {
        Peer& c = clients_[in.Byte() % kClients];
        c.paused = !c.paused;
        break;
      }
      case kBackendSend: {
        Peer* b = BackendConn(in.Byte());
        std::string_view bytes = in.Bytes(in.Byte());
        if (b != nullptr) b->Send(bytes);
        break;
      }
      case kBackendCanned: {
        Peer* b = BackendConn(in.Byte());
        uint8_t which = in.Byte();
        if (b != nullptr) b->Send(kResponses[which % std::size(kResponses)]);
        break;
      }
      case kBackendBulk: {
        Peer* b = BackendConn(in.Byte());
        int n = in.Byte() % 16 + 1;
        while (b != nullptr && n-- > 0) b->Send(BulkUnit());
        break;
      }
      case kBackendClose: {
        uint8_t which = in.Byte();
        if (Peer* b = BackendConn(which)) b->Close(which & 128);
        break;
      }
      case kBackendPause: {
        if (Peer* b = BackendConn(in.Byte())) b->paused = !b->paused;
        break;
      }
      case kRun:
        for (int n = in.Byte() % 16 + 1; n > 0; --n) Step();
        return;
      case kSleep:
        Sleep(in.Byte() % 8 + 1);
        return;
      case kReload:
        Reload(Shape::From(in.Byte()));
        break;
      case kDrain:
        worker_->PostDrain();
        break;
      case kControlTick:
        ControlTick(in.Byte() & 1);
        break;
    }
    Step();
  }

  // Every peer goes away (the backends stop listening first, so that no retry finds one);
  // the worker must then let go of every connection.
  void Finish() {
    Settle();
    AcceptBackends();
    for (int fd : backend_listeners_) ::close(fd);
    backend_listeners_.clear();
    for (Peer& c : clients_) c.Close(/*reset=*/false);
    for (auto& b : backend_conns_) b->Close(/*reset=*/false);
    Settle();
    // A request waiting for a connection slot does not read its client (it cannot see it
    // go) until its wait ends, at the connect timeout: wait for that when it is short.
    slept_ms_ = 0;
    while (worker_->connection_count() > 0 && slept_ms_ < kSleepBudgetMs) Sleep(2);
  }

  // Whether Finish must leave no connection: a request may wait for a connection slot only
  // under a small max_connections, and gives up only at the connect timeout.
  bool must_settle() const { return (knobs_.breaker & 12) == 0 || (knobs_.timeouts & 8) != 0; }

  size_t connection_count() const { return worker_->connection_count(); }

 private:
  // A client, connected on first use to listener 0 or (bit 2) 1.
  Peer& Client(uint8_t b) {
    Peer& c = clients_[b % kClients];
    if (c.fd < 0) c.fd = ConnectTo(Loopback(b & 4 ? kListen1 : kListen0));
    return c;
  }

  // The connection `b` counts back from the newest one the backends accepted.
  Peer* BackendConn(uint8_t b) {
    AcceptBackends();
    std::vector<Peer*> open;
    for (auto& p : backend_conns_) {
      if (p->fd >= 0) open.push_back(p.get());
    }
    if (open.empty()) return nullptr;
    return open[open.size() - 1 - (b & 127) % open.size()];
  }

  bool AcceptBackends() {
    bool accepted = false;
    for (int l : backend_listeners_) {
      for (;;) {
        int fd = ::accept4(l, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        backend_conns_.push_back(std::make_unique<Peer>());
        backend_conns_.back()->fd = fd;
        accepted = true;
      }
    }
    return accepted;
  }

  // Lets the peers move what they can, then the worker; true when a peer moved anything.
  bool Step() {
    bool moved = PumpPeers();
    event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
    return moved;
  }

  bool PumpPeers() {
    bool moved = AcceptBackends();
    for (Peer& c : clients_) moved |= c.Pump();
    for (auto& b : backend_conns_) moved |= b->Pump();
    return moved;
  }

  // Steps until no peer has moved anything for a few steps in a row (loopback delivers at
  // once, so the worker is then waiting on its timers), kSettleSteps at most.
  void Settle() {
    for (int i = 0, quiet = 0; i < kSettleSteps && quiet < 4; ++i) quiet = Step() ? 0 : quiet + 1;
  }

  // Lets the loop wait up to `ms` for the proxy's timers (header, idle, read, connect,
  // pending and tunnel timeouts), within a budget per input.
  void Sleep(int ms) {
    ms = std::min(ms, kSleepBudgetMs - slept_ms_);
    if (ms <= 0) {
      Step();
      return;
    }
    slept_ms_ += ms;
    timeval tv = net::ToTimeval(milliseconds(ms));
    evtimer_add(sleep_timer_.get(), &tv);
    PumpPeers();
    event_base_loop(worker_->base(), EVLOOP_ONCE);
    evtimer_del(sleep_timer_.get());
    Step();
  }

  // As the control thread's reload does (app::Server::Reload and Publish): binds the new
  // listeners, builds the next snapshot on the previous one, marks removed backends.
  void Reload(Shape shape) {
    config::Config next = MakeConfig(knobs_, shape);
    std::vector<net::ListenSocket> sockets;
    for (const config::ListenerConfig& l : next.listeners) {
      bool had = false;
      for (const config::ListenerConfig& r : snapshot_->config.listeners)
        had |= r.listen == l.listen;
      if (had) continue;
      absl::StatusOr<net::ListenSocket> s = net::ListenSocket::Bind(l.listen);
      FUZZ_CHECK(s.ok());
      sockets.push_back(*std::move(s));
    }
    absl::StatusOr<std::shared_ptr<const Snapshot>> snap =
        BuildSnapshot(std::move(next), snapshot_.get());
    FUZZ_CHECK(snap.ok());
    MarkRemovedBackends(*snapshot_, **snap);
    snapshot_ = *std::move(snap);
    shape_ = shape;
    collector_.SetLayout(snapshot_->metric_layout);
    worker_->PostSnapshot(snapshot_, std::move(sockets));
  }

  // The control thread's circuit tick (app::Server::OfferHalfOpenBackends), and its panic
  // verdict forced either way.
  void ControlTick(bool panic) {
    const int64_t now = MonoNanos();
    for (const PoolRuntime& pool : snapshot_->pools) {
      pool.shared->balancing_panic.store(panic, std::memory_order_relaxed);
      for (const auto& b : pool.backends) {
        if ((b->unavailable() & upstream::Backend::kCircuitOpen) != 0 &&
            b->breaker()->state(now) == upstream::CircuitBreaker::State::kHalfOpen) {
          b->SetUnavailable(upstream::Backend::kCircuitOpen, false);
        }
      }
    }
  }

  const Knobs knobs_;
  Shape shape_;
  std::shared_ptr<const Snapshot> snapshot_;
  metrics::Collector collector_;
  std::unique_ptr<Worker> worker_;
  std::array<Peer, kClients> clients_;
  std::vector<int> backend_listeners_;
  std::vector<std::unique_ptr<Peer>> backend_conns_;
  net::EventPtr sleep_timer_;
  int slept_ms_ = 0;
};

// Descriptors open in the process (libFuzzer's own, such as the symbolizer's pipes, may come
// between inputs, never during one).
int OpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  FUZZ_CHECK(dir != nullptr);
  int n = 0;
  while (::readdir(dir) != nullptr) ++n;
  ::closedir(dir);
  return n;
}

void RunOne(const uint8_t* data, size_t size) {
  Reader in(data, size);
  Knobs k{in.Byte(), in.Byte(), in.Byte(), in.Byte(), in.Byte(), in.Byte()};
  in.Bytes(kKnobBytes - 6);  // spare knobs, so that later ones do not shift the script
  Run run(k);
  for (size_t i = 0; i < kMaxActions && !in.done(); ++i) run.Do(in);
  run.Finish();
  FUZZ_CHECK(!run.must_settle() || run.connection_count() == 0);
}

}  // namespace
}  // namespace outrigger::forward

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::signal(SIGPIPE, SIG_IGN);
  outrigger::net::InitLibevent();
  // The proxy's log is off; OUTRIGGER_FUZZ_LOG=debug shows it when reproducing a crash.
  const char* level = std::getenv("OUTRIGGER_FUZZ_LOG");
  spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::off);
  outrigger::forward::ThePorts();
  outrigger::forward::RunOne(nullptr, 0);  // what libraries open once and keep, opens now
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const int fds = outrigger::forward::OpenFds();
  outrigger::forward::RunOne(data, size);
  FUZZ_CHECK(outrigger::forward::OpenFds() == fds);  // no descriptor outlives its input
  return 0;
}
