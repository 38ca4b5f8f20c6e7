// What the request path's files share (Http1Session's http1_*.cc, Exchange's exchange*.cc,
// UpstreamAttempt): its limits and the small buffer helpers. Internal to proxy/forward/.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "proxy/base/clock.h"
#include "proxy/http/request_parser.h"
#include "proxy/metrics/shard.h"
#include "proxy/net/event.h"
#include "proxy/net/stream.h"

namespace outrigger::forward::internal {

using std::chrono::milliseconds;

// Unsent bytes one side may hold before the other side stops being read (backpressure);
// reading resumes when they drain below kLowWater.
constexpr size_t kHighWater = 128 * 1024;
constexpr size_t kLowWater = 32 * 1024;
// Request heads: the parser's defaults, the same as nginx's large_client_header_buffers.
constexpr http::HeadLimits kHeadLimits{};
// Heads the proxy wrote and reads back to turn into HTTP/2 fields: what a peer sent within
// its limits, plus what the proxy adds (forwarding fields, a request id, plugins' edits).
// The re-read must never refuse what the first read let in; these bound only a bug.
constexpr http::HeadLimits kOwnHeadLimits{
    .max_request_line = 256 * 1024, .max_head = 256 * 1024, .max_headers = 1000};
// After a final response, how long a closing connection keeps reading and discarding what
// the client still sends, so the kernel does not answer it with a reset that destroys the
// response in flight (nginx's lingering_close).
constexpr milliseconds kLinger{2000};
// How often a request waiting for a connection to a backend at its max_connections looks
// again. Connections free up on any worker, so a look is simpler than a cross-thread wake-up;
// it costs a few loads, and only while a backend is saturated.
constexpr milliseconds kPendingRecheck{5};
// Interim (1xx) responses relayed for one request; a backend that sends more is broken or
// hostile (it could keep a client busy for ever), and gets a 502.
constexpr uint8_t kMaxInterim = 10;
// The detail of the 408 for a request whose client stalled before its end while the backend
// waited for it (Exchange::WaitingOnClient).
constexpr std::string_view kClientStalled = "client did not finish its request in time";
constexpr std::string_view kGrpcDeadlinePassed = "the call's grpc-timeout passed";

// Nagle's algorithm would hold the last segment of a response (or request) until the peer
// ACKs the previous one, and a peer that delays its ACK turns that into a 40 ms stall: a
// proxy writes whole messages, so it sends at once.
inline void SetNoDelay(evutil_socket_t fd) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

inline evbuffer* In(net::Stream& s) { return s.input(); }
inline evbuffer* Out(net::Stream& s) { return s.output(); }

// The clock read that only metrics use (request and attempt durations). A build without
// metric recording skips it too, so that scripts/bench --metrics-off measures the request
// path alone; there it is 0, which nothing but the (disabled) recorders reads.
inline int64_t MetricNanos() {
  if constexpr (!metrics::kRecording) return 0;
  return MonoNanos();
}

// Length of the head at the front of `in` (through its empty line), or 0 when it has not
// ended yet. `*scanned` remembers how far earlier calls searched, so a head that trickles in
// is searched once overall, not once per read.
inline size_t FindHeadEnd(evbuffer* in, size_t* scanned) {
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
inline bool HasBareLf(evbuffer* in, size_t from) {
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

inline const char* Pullup(evbuffer* in, size_t n) {
  return reinterpret_cast<const char*>(evbuffer_pullup(in, static_cast<ssize_t>(n)));
}

}  // namespace outrigger::forward::internal
