#include "fuzz/worker_harness.h"

#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <utility>

#include "fuzz/fuzz_check.h"
#include "proxy/base/log.h"
#include "proxy/upstream/circuit_breaker.h"

namespace outrigger::forward::harness {
namespace {

using std::chrono::milliseconds;

// A socket bound with SO_REUSEPORT but never listening holds each port for the process's
// life, so no other process (another fuzz job) gets it from bind(0), while the worker's
// listeners and the backends bind it again, per input, to listen.
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

int Listen(PortId id) {
  int fd = BoundSocket(ThePorts().port[id]);
  FUZZ_CHECK(::listen(fd, 64) == 0);
  return fd;
}

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

constexpr int kSettleSteps = 64;
constexpr int kSleepBudgetMs = 24;

}  // namespace

net::SocketAddress Loopback(PortId id) {
  return *net::ParseNumericAddress("127.0.0.1:" + std::to_string(ThePorts().port[id]));
}

std::string_view Reader::Bytes(size_t n) {
  n = std::min(n, size_ - std::min(pos_, size_));
  std::string_view out(reinterpret_cast<const char*>(data_) + pos_, n);
  pos_ += n;
  return out;
}

Knobs Knobs::Read(Reader& in) {
  Knobs k{in.Byte(), in.Byte(), in.Byte(), in.Byte(), in.Byte(), in.Byte(), {}};
  for (uint8_t& b : k.spare) b = in.Byte();
  return k;
}

config::Config MakeConfig(const Knobs& k, Shape shape, bool h2c) {
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
  web.h2c = h2c;
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

// ---- Peer ----------------------------------------------------------------------------------

void Peer::Close(bool reset) {
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

void Peer::Send(std::string_view bytes) {
  if (fd < 0) return;
  pending.append(bytes);
  Pump();
}

bool Peer::Pump() {
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

const std::array<std::string_view, 12> kResponses = {
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

std::string_view BulkUnit() {
  static const std::string unit(16 * 1024, 'x');
  return unit;
}

// ---- Harness -------------------------------------------------------------------------------

Harness::Harness(const Knobs& knobs, bool h2c) : knobs_(knobs), h2c_(h2c) {
  shape_ = Shape::From(knobs.shape);
  absl::StatusOr<std::shared_ptr<const Snapshot>> snap =
      BuildSnapshot(MakeConfig(knobs_, shape_, h2c_), nullptr);
  FUZZ_CHECK(snap.ok());
  snapshot_ = *std::move(snap);
  collector_.SetLayout(snapshot_->metric_layout);
  worker_ = std::make_unique<Worker>(0, snapshot_, &collector_);
  FUZZ_CHECK(worker_->BindListeners().ok());
  backend_listeners_ = {Listen(kBackendA), Listen(kBackendB)};
  sleep_timer_.reset(evtimer_new(
      worker_->base(), [](evutil_socket_t, short, void*) {}, nullptr));
}

Harness::~Harness() {
  sleep_timer_.reset();
  worker_.reset();  // its connections first: they reference the loop and the pool
  for (int fd : backend_listeners_) ::close(fd);
}

void Harness::Do(uint8_t op, Reader& in) {
  switch (op) {
    case kClientSend: {
      Peer& c = Client(in.Byte());
      c.Send(in.Bytes(in.Byte()));
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
      if (b != nullptr) b->Send(kResponses[which % kResponses.size()]);
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
    default:
      FUZZ_CHECK(false && "not a shared op");
  }
  Step();
}

void Harness::Finish() {
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
  FUZZ_CHECK(!must_settle() || connection_count() == 0);
}

Peer& Harness::Client(uint8_t b) {
  Peer& c = clients_[b % kClients];
  if (c.fd < 0) {
    c.fd = ConnectTo(Loopback(b & 4 ? kListen1 : kListen0));
    if (c.fd >= 0) ++c.connects;
  }
  return c;
}

// The connection `b` counts back from the newest one the backends accepted.
Peer* Harness::BackendConn(uint8_t b) {
  AcceptBackends();
  std::vector<Peer*> open;
  for (auto& p : backend_conns_) {
    if (p->fd >= 0) open.push_back(p.get());
  }
  if (open.empty()) return nullptr;
  return open[open.size() - 1 - (b & 127) % open.size()];
}

bool Harness::AcceptBackends() {
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

bool Harness::Step() {
  bool moved = PumpPeers();
  event_base_loop(worker_->base(), EVLOOP_NONBLOCK);
  return moved;
}

bool Harness::PumpPeers() {
  bool moved = AcceptBackends();
  for (Peer& c : clients_) moved |= c.Pump();
  for (auto& b : backend_conns_) moved |= b->Pump();
  return moved;
}

// Steps until no peer has moved anything for a few steps in a row (loopback delivers at
// once, so the worker is then waiting on its timers), kSettleSteps at most.
void Harness::Settle() {
  for (int i = 0, quiet = 0; i < kSettleSteps && quiet < 4; ++i) quiet = Step() ? 0 : quiet + 1;
}

// Lets the loop wait up to `ms` for the proxy's timers (header, idle, read, connect,
// pending and tunnel timeouts), within a budget per input.
void Harness::Sleep(int ms) {
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
void Harness::Reload(Shape shape) {
  config::Config next = MakeConfig(knobs_, shape, h2c_);
  std::vector<net::ListenSocket> sockets;
  for (const config::ListenerConfig& l : next.listeners) {
    bool had = false;
    for (const config::ListenerConfig& r : snapshot_->config.listeners) had |= r.listen == l.listen;
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
void Harness::ControlTick(bool panic) {
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

namespace {

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

}  // namespace

int Initialize(RunInput run) {
  std::signal(SIGPIPE, SIG_IGN);
  net::InitLibevent();
  const char* level = std::getenv("OUTRIGGER_FUZZ_LOG");
  spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::off);
  ThePorts();
  run(nullptr, 0);
  return 0;
}

int TestOneInput(RunInput run, const uint8_t* data, size_t size) {
  const int fds = OpenFds();
  run(data, size);
  FUZZ_CHECK(OpenFds() == fds);
  return 0;
}

}  // namespace outrigger::forward::harness
