#include "proxy/forward/downstream_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <optional>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/http/error_page.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/http/upgrade.h"
#include "proxy/net/cidr.h"
#include "proxy/net/event.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {
namespace {

using std::chrono::milliseconds;

// Unsent bytes one side may hold before the other side stops being read (backpressure);
// reading resumes when they drain below kLowWater.
constexpr size_t kHighWater = 128 * 1024;
constexpr size_t kLowWater = 32 * 1024;
// After a final response, how long a closing connection keeps reading and discarding what
// the client still sends, so the kernel does not answer it with a reset that destroys the
// response in flight (nginx's lingering_close).
// Request heads: the parser's defaults, the same as nginx's large_client_header_buffers.
constexpr http::HeadLimits kHeadLimits{};
constexpr milliseconds kLinger{2000};
// How often a request waiting for a connection to a backend at its max_connections looks
// again. Connections free up on any worker, so a look is simpler than a cross-thread wake-up;
// it costs a few loads, and only while a backend is saturated.
constexpr milliseconds kPendingRecheck{5};
// Interim (1xx) responses relayed for one request; a backend that sends more is broken or
// hostile (it could keep a client busy for ever), and gets a 502.
constexpr uint8_t kMaxInterim = 10;

// Nagle's algorithm would hold the last segment of a response (or request) until the peer
// ACKs the previous one, and a peer that delays its ACK turns that into a 40 ms stall: a
// proxy writes whole messages, so it sends at once.
void SetNoDelay(evutil_socket_t fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

evbuffer* In(net::Stream& s) { return s.input(); }

// The clock read that only metrics use (request and attempt durations). A build without
// metric recording skips it too, so that scripts/bench --metrics-off measures the request
// path alone; there it is 0, which nothing but the (disabled) recorders reads.
int64_t MetricNanos() {
  if constexpr (!metrics::kRecording) return 0;
  return MonoNanos();
}

// Length of the head at the front of `in` (through its empty line), or 0 when it has not
// ended yet. `*scanned` remembers how far earlier calls searched, so a head that trickles in
// is searched once overall, not once per read.
size_t FindHeadEnd(evbuffer* in, size_t* scanned) {
  evbuffer_ptr from;
  evbuffer_ptr_set(in, &from, *scanned, EVBUFFER_PTR_SET);
  evbuffer_ptr end = evbuffer_search(in, "\r\n\r\n", 4, &from);
  if (end.pos < 0) {
    size_t len = evbuffer_get_length(in);
    *scanned = len > 3 ? len - 3 : 0;
    return 0;
  }
  *scanned = 0;
  return static_cast<size_t>(end.pos) + 4;
}

// Whether `in` holds, from byte `from` on, an LF that does not end a CRLF. Heads end their
// lines with CRLF only (the parsers refuse a bare LF, so that no peer can disagree with us on
// where a line ends); a head with one never shows the CRLFCRLF that FindHeadEnd looks for,
// so it is handed to the parser, to be refused at once rather than at the header timeout.
bool HasBareLf(evbuffer* in, size_t from) {
  evbuffer_ptr at;
  if (evbuffer_ptr_set(in, &at, from, EVBUFFER_PTR_SET) != 0) return false;
  for (;;) {
    evbuffer_ptr lf = evbuffer_search(in, "\n", 1, &at);
    if (lf.pos < 0) return false;
    if (lf.pos == 0) return true;
    char before = 0;
    evbuffer_ptr prev;
    evbuffer_ptr_set(in, &prev, static_cast<size_t>(lf.pos) - 1, EVBUFFER_PTR_SET);
    evbuffer_copyout_from(in, &prev, &before, 1);
    if (before != '\r') return true;
    at = lf;
    if (evbuffer_ptr_set(in, &at, 1, EVBUFFER_PTR_ADD) != 0) return false;
  }
}

const char* Pullup(evbuffer* in, size_t n) {
  return reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
}
evbuffer* Out(net::Stream& s) { return s.output(); }

// The client's address for stickiness and X-Real-IP: the peer itself, unless the peer is a
// trusted proxy, in which case the rightmost X-Forwarded-For entry that is not trusted.
// Several X-Forwarded-For lines are one list in their order (RFC 9110 §5.3): a trusted
// balancer appends its line after any the client sent, so the scan runs from the last line.
std::string_view ClientIp(const config::ListenerConfig& listener, std::string_view peer_ip,
                          const http::RequestHead& req) {
  auto trusted = [&](std::string_view ip) {
    return std::any_of(listener.trusted_proxies.begin(), listener.trusted_proxies.end(),
                       [&](const net::Cidr& c) { return c.Contains(ip); });
  };
  if (listener.trusted_proxies.empty() || !trusted(peer_ip)) return peer_ip;
  std::string_view client = peer_ip;
  for (auto it = req.headers.rbegin(); it != req.headers.rend(); ++it) {
    if (!http::EqualsIgnoreCase(it->name, "x-forwarded-for")) continue;
    std::string_view list = it->value;
    while (!list.empty()) {
      size_t comma = list.rfind(',');
      std::string_view entry =
          http::fields::TrimOws(comma == std::string_view::npos ? list : list.substr(comma + 1));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(0, comma);
      if (entry.empty()) continue;
      client = entry;
      if (!trusted(entry)) return client;
    }
  }
  return client;
}

// The key ip_hash sticks on, per the pool's hash_on (empty when the header or cookie is
// absent: such clients still get a consistent backend, the one for the empty key).
std::string_view HashKey(const config::PoolConfig& pool, std::string_view client_ip,
                         const http::RequestHead& req) {
  using Kind = config::HashOn::Kind;
  if (pool.hash_on.kind == Kind::kClientIp) return client_ip;
  for (const http::Header& h : req.headers) {
    if (pool.hash_on.kind == Kind::kHeader && http::EqualsIgnoreCase(h.name, pool.hash_on.name)) {
      return h.value;
    }
    if (pool.hash_on.kind == Kind::kCookie && http::EqualsIgnoreCase(h.name, "cookie")) {
      std::string_view rest = h.value;
      while (!rest.empty()) {
        size_t semi = rest.find(';');
        std::string_view pair = rest.substr(0, semi);
        rest = semi == std::string_view::npos ? std::string_view() : rest.substr(semi + 1);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        size_t eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == pool.hash_on.name) {
          return pair.substr(eq + 1);
        }
      }
    }
  }
  return {};
}

// The `reason` of outrigger_backend_failures_total for a failed attempt's outcome; nullopt
// for an answer (5xx included) or the client going away.
std::optional<metrics::FailureReason> MetricReason(upstream::Outcome outcome) {
  switch (outcome) {
    case upstream::Outcome::kLocalConnectFailed:
      return metrics::FailureReason::kConnect;
    case upstream::Outcome::kLocalTimeout:
      return metrics::FailureReason::kTimeout;
    case upstream::Outcome::kUpstreamReset:
      return metrics::FailureReason::kReset;
    case upstream::Outcome::kUpstreamProtocolError:
      return metrics::FailureReason::kProtocol;
    case upstream::Outcome::kSuccess:
    case upstream::Outcome::kUpstream5xx:
    case upstream::Outcome::kDownstreamReset:
      return std::nullopt;
  }
  return std::nullopt;
}

// A route's max_body (0: no limit) against a declared Content-Length: refused before anything
// goes upstream. A chunked body is held to it as it streams (BodyPump's max_data).
bool ExceedsMaxBody(const config::RouteConfig& route, const http::RequestHead& request) {
  return route.max_body != 0 && request.body == http::BodyKind::kContentLength &&
         request.content_length > route.max_body;
}

// A pooled connection for `method`. One that cannot be resent if the connection turns out
// stale (UpstreamFailed) gets one the backend still holds open; an idempotent one is resent
// instead, and saves the check's syscall.
std::unique_ptr<upstream::UpstreamConnection> AcquirePooled(upstream::ConnectionPool& pool,
                                                            const upstream::Backend* backend,
                                                            http::Method method) {
  return http::IsIdempotent(method) ? pool.Acquire(backend) : pool.AcquireOpen(backend);
}

}  // namespace

DownstreamConnection::DownstreamConnection(Worker& worker, size_t listener_index,
                                           evutil_socket_t fd, const net::SocketAddress& peer)
    : worker_(worker),
      client_(worker.base(), fd),
      peer_ip_(peer.IpString()),
      listener_index_(static_cast<uint32_t>(listener_index)) {
  SetNoDelay(fd);
  client_.UseSpares(&worker.buffer_spares());
  client_.SetCallbacks(&DownstreamConnection::OnClientRead, &DownstreamConnection::OnClientWrite,
                       &DownstreamConnection::OnClientEvent, this);
  client_.SetLowWater(kLowWater);
  const ListenerRuntime& runtime = worker_.view()->snapshot->listeners[listener_index_];
  const config::ListenerConfig& listener = *runtime.config;
  // TLS: the session keeps the listener's certificates of this snapshot for its whole life.
  if (runtime.tls) {
    std::unique_ptr<tls::ServerSession> session =
        runtime.tls->NewSession({&DownstreamConnection::OnHandshake, this});
    tls_session_ = session.get();
    client_.SetFilter(std::move(session));
  }
  client_.SetWriteTimeout(listener.timeouts.idle);  // a client that stops reading its response
  AwaitHead(/*started=*/true);                      // the header timeout runs from the accept
  client_.EnableRead();
}

void DownstreamConnection::Flush() {
  if (state_ == State::kClosed) return;
  if (upstream_) {
    net::Stream& up = upstream_->stream();
    up.Flush();  // the request first: its answer takes longest
    // A request body waits for its upstream output to drain (PumpRequestBody), and the
    // Stream reports only drains its loop made: when this flush, or the one a connect makes
    // on completing, sent the output down to the low-water mark, the body resumes here.
    if (state_ == State::kExchange && !client_.reading() && ex_ != nullptr &&
        !ex_->request_body.done() && up.unsent() <= kLowWater) {
      PumpRequestBody();
      if (state_ == State::kClosed) return;
      if (upstream_) upstream_->stream().Flush();
    }
  }
  client_.Flush();
  // Waiting for a request with nothing buffered: give the buffers back to the worker's spares
  // now, so that idle keep-alive connections hold no buffer at all and the next request takes
  // one back without an allocation.
  if (state_ == State::kHead && ex_ == nullptr) client_.ReleaseBuffers();
}

DownstreamConnection::~DownstreamConnection() {
  if (ex_ != nullptr) ex_->plugins.wait().Cancel();
  worker_.ReturnExchange(std::move(ex_));
  if (pending_slot_) upstream::Release(backend_->pending());
  if (backend_ != nullptr) backend_->AddActive(-1);
}

Exchange& DownstreamConnection::TakeExchange() {
  ex_ = worker_.TakeExchange();
  return *ex_;
}

void DownstreamConnection::ArmTimer(milliseconds after) {
  if (!timer_) timer_.reset(evtimer_new(worker_.base(), &DownstreamConnection::OnTimer, this));
  timeval tv = net::ToTimeval(after);
  evtimer_add(timer_.get(), &tv);
}

void DownstreamConnection::StopTimer() {
  if (timer_) evtimer_del(timer_.get());
}

void DownstreamConnection::AwaitHead(bool started) {
  const auto& timeouts = worker_.view()->snapshot->listeners[listener_index_].config->timeouts;
  head_started_ = started;
  if (started) {
    head_deadline_ns_ = MonoNanos() + std::chrono::nanoseconds(timeouts.header).count();
    client_.SetReadTimeout(timeouts.header);
  } else {
    client_.SetReadTimeout(timeouts.idle);
  }
}

void DownstreamConnection::ArmHeaderDeadline() {
  auto left = std::chrono::nanoseconds(head_deadline_ns_ - MonoNanos());
  client_.SetReadTimeout(std::max(std::chrono::ceil<milliseconds>(left), milliseconds(1)));
}

// ---- client side -----------------------------------------------------------------------

void DownstreamConnection::OnClientRead(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kHead:
      self->ProcessClientInput();
      break;
    case State::kExchange:
      if (!self->ex().request_body.done()) {
        self->PumpRequestBody();
      } else {
        self->ReadClientWhileRoom();  // a pipelined request waits its turn
      }
      break;
    case State::kTunnel:
      self->PumpTunnel();
      break;
    case State::kClosing:  // lingering: discard what the client still sends
      evbuffer_drain(In(self->client_), evbuffer_get_length(In(self->client_)));
      break;
    case State::kPlugin:  // reading is off; a read queued before that waits for the verdict
    case State::kClosed:
      break;
  }
}

void DownstreamConnection::OnClientWrite(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kExchange:
      // The client drained what we sent: read more of the response.
      if (self->upstream_ && self->ex().response_started) {
        self->upstream_->stream().EnableRead();
        self->PumpResponseBody();
      }
      break;
    case State::kTunnel:
      if (self->upstream_) self->upstream_->stream().EnableRead();
      self->PumpTunnel();
      break;
    case State::kHead:
      // A pipelined request waited for the previous responses to drain.
      self->ProcessClientInput();
      break;
    case State::kClosing:
      if (self->client_.unsent() == 0) {
        // Everything is sent. A client that has finished sending (it half-closed, or asked
        // for the close and sent nothing more) is done with us: close now, as nginx does;
        // so is one whose whole request was read when the worker drains (the response
        // said close: it has no reason to send more, and the process waits for it to exit).
        // Any other may still be sending: half-close and linger, so that a reset provoked
        // by its late bytes cannot destroy the response before it has read it.
        if (self->client_half_closed_ ||
            ((self->client_asked_close_ || self->worker_.draining()) &&
             evbuffer_get_length(In(self->client_)) == 0 &&
             (self->ex_ == nullptr || self->ex_->request_body.done()))) {
          self->Close();
          break;
        }
        shutdown(self->client_.fd(), SHUT_WR);
        self->client_.EnableRead();
        self->ArmTimer(kLinger);
      }
      break;
    case State::kPlugin:
    case State::kClosed:
      break;
  }
}

void DownstreamConnection::OnClientEvent(short what, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kClosed) return;
  if (what == (net::Stream::kReading | net::Stream::kTimeout)) {
    if (self->state_ != State::kHead) return;  // a head timeout left running (TryReadHead)
    if (self->head_started_) {
      self->worker_.CountLimit(*self, Limit::kHeaderTimeout);
      self->SendLocalResponse(408, "request head not received in time", /*close=*/true);
    } else {
      self->worker_.CountLimit(*self, Limit::kIdleTimeout);
      self->Close();  // keep-alive idle timeout
    }
    return;
  }
  if (self->state_ == State::kClosing && what == (net::Stream::kReading | net::Stream::kEof) &&
      self->client_.unsent() > 0) {
    self->client_half_closed_ = true;  // it still reads: finish sending, then close
    return;
  }
  if (self->state_ == State::kExchange && what == (net::Stream::kReading | net::Stream::kEof) &&
      self->ex().request_body.done()) {
    // The client half-closed after its request (allowed, and some clients do): it still reads,
    // so the response goes out, and the connection closes after it.
    self->client_half_closed_ = true;
    self->client_keep_alive_ = false;
    return;
  }
  if (self->state_ == State::kTunnel && (what & net::Stream::kEof) && self->upstream_) {
    // The client has sent all it will (it may still read): pass on what it sent last (a
    // WebSocket close frame), then its half-close, and keep relaying what the backend sends
    // until the backend closes too (OnUpstreamEvent) or the tunnel's idle timeout.
    self->PumpTunnel();
    self->client_eof_ = true;
    self->client_half_closed_ = true;  // the close comes as soon as the last bytes are out
    self->client_.DisableRead();
    net::Stream& up = self->upstream_->stream();
    up.Flush();
    if (up.unsent() == 0) {
      shutdown(up.fd(), SHUT_WR);
    } else {
      up.SetLowWater(0);  // OnUpstreamWrite passes the half-close on once all is sent
    }
    return;
  }
  // EOF, error, or the client did not read its response within the idle timeout.
  self->Close();
}

void DownstreamConnection::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  switch (self->state_) {
    case State::kHead:  // a pipelined request after a local answer (SendLocalResponse); the
                        // head's timeouts are the client stream's (OnClientEvent)
      self->ProcessClientInput();
      break;
    case State::kTunnel: {
      const auto& pool = *self->pool_->config;
      int64_t idle_ns = MonoNanos() - self->ex().last_activity_ns;
      int64_t limit_ns = std::chrono::nanoseconds(pool.timeouts.tunnel).count();
      if (idle_ns >= limit_ns) {
        self->Close();
      } else {
        self->ArmTimer(
            std::chrono::duration_cast<milliseconds>(std::chrono::nanoseconds(limit_ns - idle_ns)) +
            milliseconds(1));
      }
      break;
    }
    case State::kClosing:  // linger over
      self->Close();
      break;
    case State::kExchange:
      if (self->pending_slot_) self->RecheckPending();
      break;
    case State::kPlugin:
    case State::kClosed:
      break;
  }
}

void DownstreamConnection::ProcessClientInput() {
  // A loop rather than recursion: a pipeline of requests answered locally (404, 503) must
  // not grow the stack.
  while (state_ == State::kHead) {
    if (client_.unsent() > kHighWater) break;  // resumes in OnClientWrite
    if (!TryReadHead()) break;
  }
  if (state_ == State::kHead) ReadClientWhileRoom();
}

void DownstreamConnection::ReadClientWhileRoom() {
  // Reading stays on between requests (turning it off and on costs two epoll_ctl calls per
  // request); only a client that sends far ahead of its responses is made to wait.
  if (evbuffer_get_length(In(client_)) > kHighWater) {
    client_.DisableRead();
  } else if (!client_half_closed_) {
    client_.EnableRead();
  }
}

bool DownstreamConnection::TryReadHead() {
  evbuffer* in = In(client_);
  size_t len = evbuffer_get_length(in);
  if (len == 0) {
    // A TLS handshake record reads as nothing: it must not extend the header timeout either.
    if (head_started_) ArmHeaderDeadline();
    return false;
  }
  if (listener_gone_) {  // nothing left to route by; the client reconnects elsewhere
    Close();
    return false;
  }
  const size_t scan_from = head_scan_;
  size_t head_len = FindHeadEnd(in, &head_scan_);
  const bool ended = head_len > 0;
  bool bare_lf = false;
  if (!ended) {
    // The first bytes of a request start its header timeout; later ones must not extend it.
    if (head_started_) {
      ArmHeaderDeadline();
    } else {
      AwaitHead(/*started=*/true);
    }
    bare_lf = HasBareLf(in, scan_from);
    if (!bare_lf && len <= kHeadLimits.max_request_line) return false;
    // Long enough to break a limit, or malformed: let the parser say how (400, 414 or 431).
    head_len = std::min(len, kHeadLimits.max_head + 1);
  }
  http::ParseResult r = http::ParseRequestHead(std::string_view(Pullup(in, head_len), head_len),
                                               kHeadLimits, &ex().request);
  if (r.status == http::ParseStatus::kError) {
    worker_.CountLimit(*this, r.http_status == 400 ? Limit::kBadRequest : Limit::kHeadSize);
    SendLocalResponse(r.http_status, r.reason, /*close=*/true);
    return false;
  }
  if (r.status == http::ParseStatus::kIncomplete) {
    if (ended || len > kHeadLimits.max_head) {
      worker_.CountLimit(*this, Limit::kHeadSize);
      SendLocalResponse(431, "request head too large", /*close=*/true);
    } else if (bare_lf) {  // the parser stops at the first bare LF: not reached, yet never kept
      worker_.CountLimit(*this, Limit::kBadRequest);
      SendLocalResponse(400, "bare LF as a line end", /*close=*/true);
    }
    return false;
  }
  // The head timeout is left to run (one timer change fewer per request): a read timeout
  // outside kHead is ignored, and AwaitNextRequest sets the next one.
  HandleRequest();
  return true;
}

void DownstreamConnection::HandleRequest() {
  view_ = worker_.view();
  request_listener_ = listener_index_;
  request_start_ns_ = MetricNanos();
  const Snapshot& snap = *view_->snapshot;
  const ListenerRuntime& listener = snap.listeners[listener_index_];
  ex().method = ex().request.method;
  ex().client_minor = ex().request.version_minor;
  client_keep_alive_ = ex().request.keep_alive && !worker_.draining();
  client_asked_close_ = !ex().request.keep_alive;
  ex().upgrade_requested = false;
  ex().has_body =
      ex().request.body != http::BodyKind::kNone &&
      !(ex().request.body == http::BodyKind::kContentLength && ex().request.content_length == 0);
  BeginRequestLog(*listener.config);

  // Routed on, and forwarded as, the normalized target (forwarded_fields.h).
  const http::PathNormalizeResult target =
      http::NormalizePath(ex().request.path, PathOptions(*listener.config), &ex().target);
  if (target.verdict == http::PathVerdict::kInvalid) {
    worker_.CountLimit(*this, Limit::kBadRequest);
    SendLocalResponse(400, target.reason, /*close=*/true);
    return;
  }
  if (target.verdict == http::PathVerdict::kRewritten) ex().request.path = ex().target;
  std::optional<size_t> route = listener.router.Match(ex().request.authority, ex().request.path);
  if (!route) {
    if (listener.config->redirect_https_port) {
      RedirectToHttps(*listener.config->redirect_https_port);  // drains the head itself
      return;
    }
    evbuffer_drain(In(client_), ex().request.head_size);
    SendLocalResponse(404, "no route for this host and path", /*close=*/ex().has_body);
    return;
  }
  const config::RouteConfig& route_config = listener.config->routes[*route];
  if (!ex().request.upgrade.empty()) {
    if (!ex().request.upgrade_websocket ||
        !http::UpgradesAllowed(ex().request.headers, route_config.upgrades)) {
      SendLocalResponse(400, "upgrade not allowed on this route", /*close=*/true);
      return;
    }
    ex().upgrade_requested = true;
    http::CopyUpgradeList(ex().request.headers, &ex().upgrade);
  }
  if (ExceedsMaxBody(route_config, ex().request)) {
    worker_.CountLimit(*this, Limit::kMaxBody);
    SendLocalResponse(413, "request body too large", /*close=*/true);
    return;
  }
  ex().max_body = route_config.max_body;
  std::string_view client_ip = ClientIp(*listener.config, peer_ip_, ex().request);
  NoteClient(client_ip);
  ex().chain = listener.route_chains[*route].get();
  ex().route = static_cast<uint32_t>(*route);
  if (ex().chain != nullptr && RunRequestPlugins(client_ip)) return;
  ForwardRequest(client_ip);
}

void DownstreamConnection::ForwardRequest(std::string_view client_ip) {
  const Snapshot& snap = *view_->snapshot;
  const ListenerRuntime& listener = snap.listeners[request_listener_];
  const size_t route = ex().route;
  if (listener.route_pool[route] == ListenerRuntime::kNoPool) {  // the loader prevents it
    evbuffer_drain(In(client_), ex().request.head_size);
    SendLocalResponse(500, "route has no pool", /*close=*/ex().has_body);
    return;
  }
  ex().pool_index = listener.route_pool[route];
  pool_ = &snap.pools[ex().pool_index];
  shard().OnPoolRequestStart(static_cast<metrics::PoolId>(ex().pool_index), request_start_ns_);
  ex().pool_request_open = true;

  ex().pick = balance::PickContext();
  ex().pick.hash_key = HashKey(*pool_->config, client_ip, ex().request);
  if (ex().pick.hash_key.data() != peer_ip_.data()) {
    // A key from the head points into the client's input, drained before the attempt; a
    // retry picks again with it, so it must own its bytes.
    ex().hash_key.assign(ex().pick.hash_key);
    ex().pick.hash_key = ex().hash_key;
  }
  ex().pick.caps = &pool_->caps;
  ex().retries = 0;
  view_->retry_budgets[ex().pool_index].OnRequest(MonoNanos());
  backend_ = PickBackend();
  if (backend_ == nullptr) {
    shard().OnShed(static_cast<metrics::PoolId>(ex().pool_index), ShedReasonNow());
    evbuffer_drain(In(client_), ex().request.head_size);
    SendLocalResponse(503, "no backend available", /*close=*/ex().has_body, "Retry-After: 1\r\n");
    return;
  }
  backend_->AddActive(1);

  ex().upstream_head.clear();
  http::ForwardedFor forwarded = ForwardedFields(*listener.config, peer_ip_, client_ip);
  forwarded.request_id = RequestIdField();
  if (tls_session_ != nullptr) forwarded.client_cert_subject = tls_session_->client_subject();
  http::WriteUpstreamRequestHead(ex().request, forwarded, &ex().upstream_head,
                                 ex().chain != nullptr ? &ex().plugins.request_edits() : nullptr);
  evbuffer_drain(In(client_), ex().request.head_size);
  ex().request_body.Start(ex().request.body, ex().request.content_length, ex().max_body);
  state_ = State::kExchange;
  ex().response_started = false;
  StartAttempt();
}

upstream::Backend* DownstreamConnection::PickBackend() {
  balance::BalancingPolicy& policy = *view_->policies[ex().pool_index];
  ex().pick.now_ns = MonoNanos();
  // Panic disregards the probes' verdicts only: an open circuit stays out (its breaker would
  // refuse the request), as does a draining backend (snapshot.h).
  ex().pick.ignore = pool_->shared->balancing_panic.load(std::memory_order_relaxed)
                         ? upstream::Backend::kDead | upstream::Backend::kUnready
                         : 0;
  // A half-open backend whose trial is already out sends the request on to another one; as
  // many times as the exclusions remember, so several such backends cannot hide a live one.
  for (size_t tries = 0; tries < balance::PickContext::kMaxExcluded; ++tries) {
    upstream::Backend* b = policy.Pick(ex().pick);
    // An excluded backend comes back only when no other is usable: a retry must go elsewhere.
    if (b == nullptr || balance::Excluded(b, ex().pick)) return nullptr;
    if (b->breaker()->AllowRequest(ex().pick.now_ns)) {
      ex().breaker_admitted = true;
      return b;
    }
    ex().pick.Exclude(b);
  }
  return nullptr;
}

void DownstreamConnection::StartAttempt() {
  ex().retried_stale = false;
  ex().response_scan = 0;
  ex().exchange_start_ns = MonoNanos();
  // max_connections caps the connections in use from every worker: an idle one in any
  // worker's pool takes no slot, and reusing one takes a slot as a new one does.
  if (upstream::TryAcquire(backend_->connections_in_use(), pool_->caps.max_connections)) {
    SendInSlot();
    return;
  }
  // At its connection cap: wait for a connection to free up, if the queue has room.
  if (!upstream::TryAcquire(backend_->pending(), pool_->caps.max_pending)) {
    ShedOverLimit();
    return;
  }
  pending_slot_ = true;
  ex().wait_deadline_ns =
      ex().exchange_start_ns + std::chrono::nanoseconds(pool_->config->timeouts.connect).count();
  client_.DisableRead();  // the body waits in the kernel meanwhile
  ArmTimer(kPendingRecheck);
}

void DownstreamConnection::SendInSlot() {
  // The reservation is freed only once the connection counts itself: the count may run one
  // high for a moment, never low, so the cap holds however workers race.
  std::atomic<int64_t>& in_use = backend_->connections_in_use();
  upstream_ = AcquirePooled(worker_.connection_pool(), backend_, ex().method);
  BeginAttempt();
  if (upstream_) {
    upstream::Release(in_use);
    SendRequest();
    return;
  }
  // Connecting may fail and end the request or retry it elsewhere, releasing the snapshot
  // that holds this backend: the reservation is freed on it, kept alive until then.
  std::shared_ptr<upstream::Backend> backend = backend_->shared_from_this();
  Connect();
  upstream::Release(backend->connections_in_use());
}

void DownstreamConnection::RecheckPending() {
  if (upstream::TryAcquire(backend_->connections_in_use(), pool_->caps.max_connections)) {
    ReleasePendingSlot();
    ex().exchange_start_ns = MonoNanos();
    SendInSlot();
    return;
  }
  if (MonoNanos() >= ex().wait_deadline_ns) {
    ReleasePendingSlot();
    ShedOverLimit();
    return;
  }
  ArmTimer(kPendingRecheck);
}

void DownstreamConnection::ReleasePendingSlot() {
  if (!pending_slot_) return;
  pending_slot_ = false;
  upstream::Release(backend_->pending());
  StopTimer();
}

void DownstreamConnection::ShedOverLimit() {
  spdlog::debug("pool {} backend {}: over its connection caps", pool_->config->name,
                backend_->label());
  shard().OnShed(static_cast<metrics::PoolId>(ex().pool_index), metrics::ShedReason::kOverLimit);
  if (ex().breaker_admitted) {  // nothing was tried: says nothing about the backend's health
    ex().breaker_admitted = false;
    backend_->breaker()->OnAbandoned();
  }
  SendLocalResponse(503, "every backend is at its limits", /*close=*/!ex().request_body.done(),
                    "Retry-After: 1\r\n");
}

bool DownstreamConnection::MayRetry(upstream::Outcome outcome) const {
  if (ex().response_started || state_ != State::kExchange) return false;
  if (ex().retries >= pool_->config->retries.attempts) return false;
  // A read timeout is not retried: the backend may still be working on it, and another
  // wait as long would double the client's.
  if (outcome == upstream::Outcome::kLocalTimeout) return false;
  bool sent = RequestBytesSent();
  return upstream::IsRetryable(ex().method, sent, /*body_fully_buffered=*/!sent || !ex().has_body);
}

bool DownstreamConnection::RequestBytesSent() const {
  if (upstream_ == nullptr) return false;
  uint64_t queued = ex().attempt_queued + (ex().request_body.moved() - ex().attempt_body_start);
  return queued > evbuffer_get_length(Out(upstream_->stream()));
}

bool DownstreamConnection::Retry(int answered) {
  int64_t now = MonoNanos();
  if (!view_->retry_budgets[ex().pool_index].TryRetry(now)) {
    spdlog::debug("pool {}: retry budget spent, not retrying", pool_->config->name);
    return false;
  }
  ex().pick.Exclude(backend_);
  upstream::Backend* next = PickBackend();
  if (next == nullptr) return false;
  EndAttempt(answered);  // a failure without an answer has ended it already
  // Nothing reached the failed backend: what it was sent so far (head and the body read up
  // to now) goes to the next one as is. Otherwise the request has no body and its head is
  // sent again.
  if (upstream_ != nullptr && !RequestBytesSent()) {
    if (!ex().replay) ex().replay.reset(evbuffer_new());
    evbuffer_add_buffer(ex().replay.get(), Out(upstream_->stream()));
  }
  spdlog::debug("pool {}: retrying on {} after {} failed", pool_->config->name, next->label(),
                backend_->label());
  upstream_.reset();
  ex().connecting = false;  // the failed attempt's: the next may run on a pooled connection
  backend_->AddActive(-1);
  backend_ = next;
  backend_->AddActive(1);
  ++ex().retries;
  if constexpr (metrics::kRecording) {  // MetricId is a hash lookup: skip it with the recording
    shard().OnRetry(view_->snapshot->MetricId(backend_));  // once per try, at its backend
  }
  StartAttempt();
  return true;
}

void DownstreamConnection::SendLocalResponse(int status, std::string_view detail, bool close,
                                             std::string_view extra_headers) {
  EndClientRequest(status);  // before DropUpstream, which would count the client as gone
  DropUpstream();
  CountResponse(status);
  // Before a head is parsed client_keep_alive_ may be stale, but every such answer closes.
  if (worker_.draining() || !client_keep_alive_) close = true;
  if (!ex().log_begun) BeginBareRequestLog();  // no head parsed: an id for the page anyway
  ex().scratch.clear();
  // ex().method is the request's once HandleRequest took it, else the default (GET).
  const http::SetField id = RequestIdField();
  http::WriteErrorResponse(status, detail, close, extra_headers, ex().method == http::Method::kHead,
                           &ex().scratch, id.name, id.value);
  if (ex().chain != nullptr) EditLocalAnswer();
  evbuffer_add(Out(client_), ex().scratch.data(), ex().scratch.size());
  LogLocalAnswer(status);
  AfterLocalAnswer(close);
}

void DownstreamConnection::AfterLocalAnswer(bool close) {
  if (close) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  // Answered from an upstream or timer callback, a pipelined request already buffered has no
  // read event coming: the timer looks at it, from a callback of its own, so that nothing up
  // this stack sees a new exchange begin (within ProcessClientInput, its loop gets there first).
  if (state_ == State::kHead && evbuffer_get_length(In(client_)) > 0) ArmTimer(milliseconds(0));
}

void DownstreamConnection::AwaitNextRequest() {
  if (listener_gone_) {
    CloseAfterFlush();
    return;
  }
  view_.reset();
  request_start_ns_ = 0;
  pool_ = nullptr;
  state_ = State::kHead;
  ReadClientWhileRoom();
  bool pipelined = evbuffer_get_length(In(client_)) > 0;
  if (!pipelined) {
    worker_.ReturnExchange(std::move(ex_));
  } else if (ex_ != nullptr) {
    ex_->ResetState();  // the next request starts from the defaults, as on a fresh exchange
  }
  AwaitHead(/*started=*/pipelined);
}

void DownstreamConnection::CloseAfterFlush() {
  DropUpstream();
  state_ = State::kClosing;
  StopTimer();
  client_.SetReadTimeout(milliseconds(0));  // the linger has its own timer
  client_.SetLowWater(0);
  client_.DisableRead();
  client_.Flush();
  if (client_.unsent() == 0) OnClientWrite(this);
}

void DownstreamConnection::Close() {
  if (state_ == State::kClosed) return;
  if (tls_session_ != nullptr) [[unlikely]]
    tls_session_->Abandon();  // if still handshaking
  LogUnfinished();
  DropUpstream();
  if (ex_ != nullptr) ex_->plugins.wait().Cancel();  // a store's answer has no one to go to
  state_ = State::kClosed;
  StopTimer();
  client_.DisableRead();
  client_.SetCallbacks(nullptr, nullptr, nullptr, nullptr);
  worker_.Retire(this);
}

void DownstreamConnection::MoveListener(std::optional<size_t> index) {
  if (index) {
    listener_index_ = static_cast<uint32_t>(*index);
    return;
  }
  listener_gone_ = true;
  OnDrain();
}

void DownstreamConnection::TrimIdle() {
  // Without an exchange in kHead, it waits for a request with nothing buffered.
  if (state_ != State::kHead || ex_ != nullptr) return;
  timer_.reset();  // not armed in kHead; here, outside its callback, it may go
  client_.ReleaseBuffers();
}

void DownstreamConnection::OnDrain() {
  client_keep_alive_ = false;
  if (state_ == State::kHead && evbuffer_get_length(In(client_)) == 0) Close();
}

// ---- upstream side ---------------------------------------------------------------------

void DownstreamConnection::Connect() {
  absl::StatusOr<std::unique_ptr<net::Stream>> stream =
      net::Stream::Connect(worker_.base(), backend_->address(), pool_->config->timeouts.connect);
  if (!stream.ok()) {
    spdlog::debug("{} {}: {}", pool_->config->name, backend_->label(), stream.status().ToString());
    UpstreamFailed(502, "upstream connect failed", upstream::Outcome::kLocalConnectFailed);
    return;
  }
  SetNoDelay((*stream)->fd());
  if (pool_->tls) [[unlikely]]
    UseUpstreamTls(**stream);
  upstream_ = std::make_unique<upstream::UpstreamConnection>(*std::move(stream),
                                                             backend_->shared_from_this());
  ex().connecting = true;
  SendRequest();
}

void DownstreamConnection::SendRequest() {
  net::Stream& up = upstream_->stream();
  ex().log.connect_ns = -1;  // a pooled connection; a new one's is noted once connected
  up.SetCallbacks(&DownstreamConnection::OnUpstreamRead, &DownstreamConnection::OnUpstreamWrite,
                  &DownstreamConnection::OnUpstreamEvent, this);
  up.SetLowWater(kLowWater);
  up.SetReadTimeout(pool_->config->timeouts.read);  // from the connect on, if connecting
  up.EnableRead();
  // On a pooled connection the request goes out as this callback returns; on a new one, once
  // connected. The backend's latency (design.md §6) runs from there, without the connect.
  if (!ex().connecting) ex().sent_ns = MetricNanos();
  ex().attempt_body_start = ex().request_body.moved();
  if (ex().replay != nullptr && evbuffer_get_length(ex().replay.get()) > 0) {
    ex().attempt_queued = evbuffer_get_length(ex().replay.get());
    evbuffer_add_buffer(Out(up), ex().replay.get());
  } else {
    ex().attempt_queued = ex().upstream_head.size();
    evbuffer_add(Out(up), ex().upstream_head.data(), ex().upstream_head.size());
  }
  PumpRequestBody();
}

void DownstreamConnection::PumpRequestBody() {
  if (!upstream_ || ex().request_body.done()) return;
  evbuffer* up_out = Out(upstream_->stream());
  const uint64_t moved_before = ex().request_body.moved();
  BodyPump::Result r = ex().request_body.Pump(In(client_), up_out);
  if (ex().request_body.moved() != moved_before) {
    // timeouts.read is the backend's silence once it has the whole request: while the body
    // still flows, each move upstream restarts it, so an upload is limited by its pauses,
    // not by its length.
    upstream_->stream().SetReadTimeout(pool_->config->timeouts.read);
  }
  if (r == BodyPump::Result::kError) {
    bool too_large = ex().request_body.too_large();
    worker_.CountLimit(*this, too_large ? Limit::kMaxBody : Limit::kBadRequest);
    if (ex().response_started) {
      Close();
    } else {
      SendLocalResponse(too_large ? 413 : 400, ex().request_body.error(), /*close=*/true);
    }
    return;
  }
  if (r == BodyPump::Result::kDone) {
    // Bytes after the body are the next pipelined request: they wait until this exchange is
    // over (OnClientRead holds them, within kHighWater).
    ReadClientWhileRoom();
    return;
  }
  // unsent(): with TLS to the backend, output() is encrypted away at each flush, and what
  // the socket has not taken yet waits in the filter.
  if (upstream_->stream().unsent() > kHighWater) {
    client_.DisableRead();  // resumes in OnUpstreamWrite
  } else {
    client_.EnableRead();
  }
}

void DownstreamConnection::OnUpstreamWrite(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kExchange) {
    self->PumpRequestBody();
  } else if (self->state_ == State::kTunnel) {
    if (self->client_eof_) {
      net::Stream& up = self->upstream_->stream();
      if (up.unsent() == 0) shutdown(up.fd(), SHUT_WR);
      return;
    }
    self->client_.EnableRead();
    self->PumpTunnel();
  }
}

void DownstreamConnection::OnUpstreamRead(void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  if (self->state_ == State::kExchange) {
    self->ReadResponse();
  } else if (self->state_ == State::kTunnel) {
    self->PumpTunnel();
  }
}

void DownstreamConnection::OnUpstreamEvent(short what, void* arg) {
  auto* self = static_cast<DownstreamConnection*>(arg);
  FlushOnReturn flush(self);
  net::Stream* const stream = self->upstream_ ? &self->upstream_->stream() : nullptr;
  if (what & net::Stream::kConnected) {
    self->ex().connecting = false;
    self->ex().sent_ns = MetricNanos();  // the Stream wrote what was queued as it connected
    self->ex().log.connect_ns = self->ex().sent_ns - self->ex().exchange_start_ns;
    return;
  }
  if (self->state_ == State::kTunnel) {
    if (what & net::Stream::kEof) self->PumpTunnel();
    self->CloseAfterFlush();
    return;
  }
  if (self->state_ != State::kExchange) return;
  if (what & net::Stream::kTimeout) {
    if (self->ex().connecting) {
      // Nothing was sent: as safe to retry as a refused connection.
      self->UpstreamFailed(504, "upstream connect timed out",
                           upstream::Outcome::kLocalConnectFailed);
    } else {
      self->UpstreamFailed(504, "upstream read timed out", upstream::Outcome::kLocalTimeout);
    }
    return;
  }
  if (what & net::Stream::kEof) {
    // Consume what arrived before the close: it may complete the response.
    self->ReadResponse();
    if (self->state_ != State::kExchange || self->upstream_ == nullptr ||
        &self->upstream_->stream() != stream) {
      return;
    }
    if (self->ex().response_started &&
        self->ex().response.body == http::BodyKind::kCloseDelimited) {
      self->ex().upstream_reusable = false;
      self->FinishExchange();
      return;
    }
  }
  if (self->ex().connecting) {
    self->UpstreamFailed(502, "upstream connect failed", upstream::Outcome::kLocalConnectFailed);
  } else {
    self->UpstreamFailed(502, "upstream closed the connection", upstream::Outcome::kUpstreamReset);
  }
}

void DownstreamConnection::UpstreamFailed(int status, std::string_view detail,
                                          upstream::Outcome outcome) {
  // Stale: a pooled connection that closed (EOF, reset, write error) before any response
  // byte, as one the backend timed out while idle does. Never a timeout: a backend that
  // holds a request unanswered may be working on it, and must not get it twice. Nor a
  // non-idempotent request whose bytes left us: a backend that crashed on it looks the same
  // as one that had closed while idle (AcquirePooled made that unlikely instead).
  bool stale = outcome == upstream::Outcome::kUpstreamReset && upstream_ &&
               upstream_->requests > 0 && !ex().response_started &&
               evbuffer_get_length(In(upstream_->stream())) == 0 &&
               ex().request_body.moved() == 0 && !ex().retried_stale &&
               upstream::IsRetryable(ex().method, RequestBytesSent(),
                                     /*body_fully_buffered=*/true);
  if (stale) {
    // Resend on a fresh connection. The client never sees this; it is not a retry against
    // the backend's health.
    ex().retried_stale = true;
    upstream_.reset();
    Connect();
    return;
  }
  spdlog::debug("{} {}: {}", pool_ ? pool_->config->name : "", backend_ ? backend_->label() : "",
                detail);
  ReportOutcome(/*failure=*/true);
  EndAttempt(0, outcome);
  if (ex().response_started) {
    NoteFailure(outcome);
    Close();  // the client already has part of a response: all we can do is cut it
    return;
  }
  if (MayRetry(outcome) && Retry()) return;
  NoteFailure(outcome);
  SendLocalResponse(status, detail, /*close=*/!ex().request_body.done());
}

void DownstreamConnection::ReadResponse() {
  while (state_ == State::kExchange && upstream_) {
    if (ex().response_started) {
      PumpResponseBody();
      return;
    }
    if (!TryReadResponseHead()) return;
  }
}

bool DownstreamConnection::TryReadResponseHead() {
  evbuffer* in = In(upstream_->stream());
  size_t len = evbuffer_get_length(in);
  if (len == 0) return false;
  const size_t scan_from = ex().response_scan;
  size_t head_len = FindHeadEnd(in, &ex().response_scan);
  if (head_len == 0) {
    if (len > kHeadLimits.max_head) {
      UpstreamFailed(502, "upstream response head too large",
                     upstream::Outcome::kUpstreamProtocolError);
    } else if (HasBareLf(in, scan_from)) {
      ex().upstream_reusable = false;
      UpstreamFailed(502, "bare LF in upstream response head",
                     upstream::Outcome::kUpstreamProtocolError);
    }
    return false;
  }
  http::ParseResult r = http::ParseResponseHead(std::string_view(Pullup(in, head_len), head_len),
                                                ex().method, kHeadLimits, &ex().response);
  if (r.status != http::ParseStatus::kDone) {
    ex().upstream_reusable = false;
    UpstreamFailed(
        502, r.status == http::ParseStatus::kError ? r.reason : "invalid upstream response head",
        upstream::Outcome::kUpstreamProtocolError);
    return false;
  }
  evbuffer* client_out = Out(client_);
  if (ex().response.status == 101) {
    if (!ex().upgrade_requested) {
      UpstreamFailed(502, "upstream switched protocols unasked",
                     upstream::Outcome::kUpstreamProtocolError);
      return false;
    }
    if (!http::SwitchesToRequested(ex().response.headers, ex().upgrade)) {
      UpstreamFailed(502, "upstream switched to a protocol not asked for",
                     upstream::Outcome::kUpstreamProtocolError);
      return false;
    }
    ex().scratch.clear();
    http::WriteClientResponseHead(ex().response, ex().client_minor, /*client_keep_alive=*/true,
                                  &ex().scratch, RequestIdField());
    NoteResponseHead();
    evbuffer_drain(in, head_len);
    evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
    StartTunnel();
    return false;
  }
  if (ex().response.status < 200) {
    if (++ex().interim > kMaxInterim) {
      ex().upstream_reusable = false;
      UpstreamFailed(502, "too many interim responses", upstream::Outcome::kUpstreamProtocolError);
      return false;
    }
    // Interim (100 Continue, 103 Early Hints): relay to HTTP/1.1 clients, then keep reading.
    if (ex().client_minor >= 1) {
      ex().scratch.clear();
      http::WriteClientResponseHead(ex().response, ex().client_minor, /*client_keep_alive=*/true,
                                    &ex().scratch);
      evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
    }
    evbuffer_drain(in, head_len);
    return true;
  }
  if (ex().client_minor == 0 && ex().response.body == http::BodyKind::kChunked) {
    // The request went up as HTTP/1.0, so a backend must not chunk; an HTTP/1.0 client
    // could not read it.
    ex().upstream_reusable = false;
    UpstreamFailed(502, "upstream sent a chunked response to an HTTP/1.0 request",
                   upstream::Outcome::kUpstreamProtocolError);
    return false;
  }
  if (upstream::OutcomeOfStatus(ex().response.status) == upstream::Outcome::kUpstream5xx &&
      MayRetry(upstream::Outcome::kUpstream5xx)) {
    // The backend cannot serve now (502/503/504): another may. Its answer is dropped with its
    // connection; if no retry can be made, it goes to the client as it is.
    ReportOutcome(/*failure=*/true);
    ex().upstream_reusable = false;
    if (Retry(ex().response.status)) return false;
  }
  // The client connection can stay open only if the request body was read to its end (or
  // will be, as it streams) and the body's end is marked by framing, not by a close.
  ex().upstream_reusable =
      ex().response.keep_alive && ex().response.body != http::BodyKind::kCloseDelimited;
  if (ex().response.body == http::BodyKind::kCloseDelimited || !ex().request_body.done() ||
      worker_.draining()) {
    client_keep_alive_ = false;
  }
  const http::FieldEdits* edits = nullptr;
  if (ex().chain != nullptr) {
    ex().chain->OnResponse(ex().plugins, ex().response);
    edits = &ex().plugins.response_edits();
  }
  ex().scratch.clear();
  http::WriteClientResponseHead(ex().response, ex().client_minor, client_keep_alive_, &ex().scratch,
                                RequestIdField(), edits);
  NoteResponseHead();
  evbuffer_drain(in, head_len);
  evbuffer_add(client_out, ex().scratch.data(), ex().scratch.size());
  ex().response_started = true;
  ex().upstream_head.clear();
  ex().response_body.Start(ex().response.body, ex().response.content_length);
  return true;
}

void DownstreamConnection::PumpResponseBody() {
  evbuffer* up_in = In(upstream_->stream());
  evbuffer* client_out = Out(client_);
  BodyPump::Result r = ex().response_body.Pump(up_in, client_out);
  if (r == BodyPump::Result::kError) {
    spdlog::debug("{} {}: invalid response body framing: {}", pool_->config->name,
                  backend_->label(), ex().response_body.error());
    ReportOutcome(/*failure=*/true);
    EndAttempt(0, upstream::Outcome::kUpstreamProtocolError);
    NoteFailure(upstream::Outcome::kUpstreamProtocolError);
    Close();
    return;
  }
  if (r == BodyPump::Result::kDone) {
    if (evbuffer_get_length(up_in) > 0) ex().upstream_reusable = false;  // stray bytes
    FinishExchange();
    return;
  }
  if (client_.unsent() > kHighWater) {
    upstream_->stream().DisableRead();  // resumes in OnClientWrite
  }
}

void DownstreamConnection::FinishExchange() {
  ReportOutcome(ex().response.status == 502 || ex().response.status == 503 ||
                ex().response.status == 504);
  EndAttempt(ex().response.status);
  EndClientRequest(ex().response.status);
  CountResponse(ex().response.status);
  LogExchange(ex().response.status, ex().log.response_head_bytes + ex().response_body.moved());
  upstream::Backend* backend = backend_;
  backend_ = nullptr;
  backend->AddActive(-1);
  int64_t now = MonoNanos();
  balance::ObserveLatency(*backend, now - ex().exchange_start_ns, now);
  if (upstream_) {
    upstream_->requests++;
    if (ex().upstream_reusable && ex().request_body.done() && !worker_.draining() &&
        upstream_->stream().unsent() == 0) {
      static_assert(config::kKeepaliveAuto == upstream::ConnectionPool::kAdaptive);
      worker_.connection_pool().Release(std::move(upstream_), pool_->config->keepalive,
                                        pool_->config->timeouts.idle);
    }
    upstream_.reset();
  }
  if (!client_keep_alive_) {
    CloseAfterFlush();
    return;
  }
  AwaitNextRequest();
  ProcessClientInput();
}

void DownstreamConnection::ReportOutcome(bool failure) {
  if (!ex().breaker_admitted) return;
  ex().breaker_admitted = false;
  upstream::CircuitBreaker& breaker = *backend_->breaker();
  int64_t now = MonoNanos();
  const upstream::CircuitChange change = failure ? breaker.OnFailure(now) : breaker.OnSuccess(now);
  // The bit follows the word, not `change`: another worker may have moved the word on since.
  if (change != upstream::CircuitChange::kUnchanged) upstream::SyncCircuitFlag(*backend_, now);
  switch (change) {
    case upstream::CircuitChange::kOpened:
      spdlog::warn("pool {} backend {}: circuit opened after consecutive failures",
                   backend_->pool(), backend_->label());
      break;
    case upstream::CircuitChange::kClosed:
      backend_->set_available_since_ns(now);  // recovered: slow_start ramps it back up
      spdlog::info("pool {} backend {}: circuit closed, the trial request succeeded",
                   backend_->pool(), backend_->label());
      break;
    case upstream::CircuitChange::kUnchanged:
      break;
  }
}

void DownstreamConnection::DropUpstream() {
  ReleasePendingSlot();
  upstream_.reset();
  if (ex_ != nullptr) {  // else no request is held: nothing was recorded or admitted
    ex_->upstream_head.clear();
    EndAttempt(0);  // still open here: the client went away first
    if (ex_->tunnel_open) {
      ex_->tunnel_open = false;
      shard().OnTunnelClosed(ex_->metric_backend);
    }
    if (ex_->pool_request_open)
      EndClientRequest(ex_->response_started ? ex_->response.status : 499);
    if (ex_->replay != nullptr)
      evbuffer_drain(ex_->replay.get(), evbuffer_get_length(ex_->replay.get()));
    if (ex_->breaker_admitted) {  // the client went away: says nothing about the backend
      ex_->breaker_admitted = false;
      backend_->breaker()->OnAbandoned();
    }
  }
  if (backend_ != nullptr) {
    backend_->AddActive(-1);
    backend_ = nullptr;
  }
}

// ---- metrics -----------------------------------------------------------------------------

metrics::Shard& DownstreamConnection::shard() const {
  return view_ ? *view_->shard : *worker_.view()->shard;
}

void DownstreamConnection::CountResponse(int status) {
  const int64_t duration = request_start_ns_ != 0 ? MetricNanos() - request_start_ns_ : 0;
  if (view_) {
    view_->shard->OnDownstreamResponse(request_listener_, status, duration);
  } else if (!listener_gone_) {
    worker_.view()->shard->OnDownstreamResponse(listener_index_, status, duration);
  }
}

void DownstreamConnection::BeginAttempt() {
  if constexpr (metrics::kRecording) ex().metric_backend = view_->snapshot->MetricId(backend_);
  shard().OnRequestStart(ex().metric_backend, ex().exchange_start_ns);
  ex().attempt_open = true;
  if (ex().log_open) {
    ex().log.backend.assign(backend_->label());
    ++ex().log.attempts;
  }
}

void DownstreamConnection::EndAttempt(int status, upstream::Outcome outcome) {
  if (!ex().attempt_open) return;
  ex().attempt_open = false;
  const int64_t now = MetricNanos();
  if (std::optional<metrics::FailureReason> reason = MetricReason(outcome)) {
    shard().OnRequestFailed(ex().metric_backend, now, *reason);
  } else if (status != 0) {
    shard().OnRequestEnd(ex().metric_backend, now, status, now - ex().sent_ns);
  } else {
    shard().OnRequestAbandoned(ex().metric_backend, now);
  }
}

void DownstreamConnection::EndClientRequest(int status) {
  if (!ex().pool_request_open) return;
  ex().pool_request_open = false;
  const int64_t now = MetricNanos();
  shard().OnPoolRequestEnd(
      static_cast<metrics::PoolId>(ex().pool_index), now, status, now - request_start_ns_,
      status >= 500 || status == 499 ? metrics::PoolOutcome::kError : metrics::PoolOutcome::kOk);
}

metrics::ShedReason DownstreamConnection::ShedReasonNow() const {
  // The shed path only: a scan of the pool. A backend that takes requests was passed over for
  // its caps; else an open circuit is what keeps the rest out.
  bool circuit_open = false;
  for (const auto& b : pool_->backends) {
    if (b->Available()) return metrics::ShedReason::kOverLimit;
    circuit_open = circuit_open || (b->unavailable() & upstream::Backend::kCircuitOpen) != 0;
  }
  return circuit_open ? metrics::ShedReason::kCircuitOpen : metrics::ShedReason::kNoBackend;
}

// ---- tunnel ------------------------------------------------------------------------------

void DownstreamConnection::StartTunnel() {
  ReportOutcome(/*failure=*/false);
  EndAttempt(101);
  EndClientRequest(101);
  CountResponse(101);
  LogExchange(101, ex().log.response_head_bytes);
  shard().OnTunnelOpened(ex().metric_backend);
  ex().tunnel_open = true;
  state_ = State::kTunnel;
  ex().upstream_head.clear();
  // The tunnel keeps counting as an active request on its backend until it closes.
  upstream_->stream().SetReadTimeout(milliseconds(0));
  client_.SetReadTimeout(
      milliseconds(0));  // the head timeout left running; the tunnel's is ArmTimer's
  client_.EnableRead();
  upstream_->stream().EnableRead();
  ex().last_activity_ns = MonoNanos();
  ArmTimer(pool_->config->timeouts.tunnel);
  PumpTunnel();
}

void DownstreamConnection::PumpTunnel() {
  if (!upstream_) return;
  net::Stream& up = upstream_->stream();
  net::Stream& cl = client_;
  size_t moved = evbuffer_get_length(In(cl)) + evbuffer_get_length(In(up));
  if (moved > 0) ex().last_activity_ns = MonoNanos();
  evbuffer_add_buffer(Out(up), In(cl));
  evbuffer_add_buffer(Out(cl), In(up));
  if (up.unsent() > kHighWater) cl.DisableRead();
  if (cl.unsent() > kHighWater) up.DisableRead();
}

}  // namespace outrigger::forward
