// Exchange: what serving one request needs beyond the client connection itself — the parsed
// heads, the head strings, the body pumps and the balancer's pick state. A connection holds
// one only while it has a request in hand; between requests it goes back to its worker's
// spares (Worker::TakeExchange / ReturnExchange), so an idle keep-alive connection costs
// little more than its socket while a busy one reuses the same buffers request after
// request, with no allocation.
//
// The containers are set by the request that uses them and keep their capacity; the plain
// state (ExchangeState) starts from its defaults with every request, since an exchange is
// reset when it is given back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "plugins/chain.h"
#include "proxy/balance/policy.h"
#include "proxy/forward/body_pump.h"
#include "proxy/http/message.h"
#include "proxy/log/access_log.h"
#include "proxy/metrics/shard.h"
#include "proxy/net/event.h"

namespace outrigger::forward {

// Where serving one request has got to: DownstreamConnection's per-request fields, kept here
// so that an idle connection does not carry them.
struct ExchangeState {
  size_t pool_index = 0;
  http::Method method = http::Method::kGet;
  int client_minor = 1;
  uint64_t max_body = 0;  // the route's max_body for the request being served
  bool upgrade_requested = false;
  bool response_started = false;          // the response head went to the client: no more 5xx
  bool has_body = false;                  // the current request has a (non-empty) body
  bool attempt_open = false;              // BeginAttempt recorded, its end not yet
  bool pool_request_open = false;         // OnPoolRequestStart recorded, its end not yet
  bool tunnel_open = false;               // OnTunnelOpened recorded, its close not yet
  bool log_begun = false;                 // `log` (its request id at least) is this request's
  bool log_open = false;                  // `log` describes this request, its line not yet written
  bool plugins_open = false;              // the route's plugins ran for it, their log phase not yet
  uint32_t retries = 0;                   // retries of the current request so far
  uint32_t route = 0;                     // its route in its listener (view's snapshot)
  const plugins::Chain* chain = nullptr;  // the route's plugins (the snapshot's), if any
  metrics::BackendId metric_backend = 0;
  net::EvBufferPtr replay;       // request bytes the failed attempt never sent, for the next one
  uint64_t encoded_bytes = 0;    // an encoded response's bytes to the client, chunk framing too
  uint8_t interim = 0;           // interim (1xx) responses to the request so far (kMaxInterim)
  int64_t last_activity_ns = 0;  // tunnel idle timeout
};

struct Exchange : ExchangeState {
  // Back to the defaults, keeping the containers' capacity (Worker::ReturnExchange).
  void ResetState() { static_cast<ExchangeState&>(*this) = ExchangeState{}; }

  balance::PickContext pick;    // kept across attempts: a retry avoids the backends that failed
  http::RequestHead request;    // its header vector keeps its capacity between requests
  http::ResponseHead response;  // likewise
  std::string upstream_head;    // kept until the first response byte, to resend on a fresh
                                // connection when a pooled one turns out stale
  std::string scratch;          // response heads and error pages
  std::string hash_key;         // pick.hash_key's bytes when they come from the request head
  std::string upgrade;          // an upgrade's requested protocols, to check its 101 against
  std::string target;           // request.path's bytes when normalization rewrote it
  BodyPump request_body;
  BodyPump response_body;
  // An encoded response's body (a plugin's encoder, plugins/compress/): the backend's data
  // without its framing, and the encoder's output before it is framed for the client.
  net::EvBufferPtr decoded_body;
  net::EvBufferPtr encoded_body;
  log::AccessRecord log;     // the request's id and access log record (downstream_log.cc)
  plugins::Context plugins;  // the route's plugins' view of this request (plugins/plugin.h)
};

}  // namespace outrigger::forward
