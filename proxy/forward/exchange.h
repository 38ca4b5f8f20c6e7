// Exchange: what serving one request needs beyond the client connection itself — the parsed
// heads, the head strings, the body pumps and the balancer's pick state. A connection holds
// one only while it has a request in hand; between requests it goes back to its worker's
// spares (Worker::TakeExchange / ReturnExchange), so an idle keep-alive connection costs
// little more than its socket while a busy one reuses the same buffers request after
// request, with no allocation.
//
// Every field is set by the request that uses it (as it was when each connection kept its
// own): nothing carries meaning from one request to the next.
#pragma once

#include <string>

#include "proxy/balance/policy.h"
#include "proxy/forward/body_pump.h"
#include "proxy/http/message.h"

namespace outrigger::forward {

struct Exchange {
  balance::PickContext pick;    // kept across attempts: a retry avoids the backends that failed
  http::RequestHead request;    // its header vector keeps its capacity between requests
  http::ResponseHead response;  // likewise
  std::string upstream_head;    // kept until the first response byte, to resend on a fresh
                                // connection when a pooled one turns out stale
  std::string scratch;          // response heads and error pages
  BodyPump request_body;
  BodyPump response_body;
};

}  // namespace outrigger::forward
