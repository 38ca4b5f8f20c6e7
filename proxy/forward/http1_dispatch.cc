// Http1Session, a request whose head has parsed: the codec's facts of it (keep-alive, the
// client's version), then the Exchange routes it, the route's plugins run, and the Exchange
// serves it from its pool on.
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/http1_session.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

void Http1Session::HandleRequest() {
  Exchange& e = ex();
  e.view = worker_.view();
  e.listener = facts_.listener_index;
  e.request_start_ns = MetricNanos();
  e.method = e.request.method;
  e.client_minor = e.request.version_minor;
  client_keep_alive_ = e.request.keep_alive && !worker_.draining();
  client_asked_close_ = !e.request.keep_alive;
  std::string_view client_ip;
  if (!e.Route(&client_ip)) return;  // answered
  if (e.chain != nullptr && RunRequestPlugins(client_ip)) return;
  ForwardRequest(client_ip);
}

void Http1Session::ForwardRequest(std::string_view client_ip) {
  // kExchange before the Exchange starts: its first attempt may already send (or answer).
  state_ = State::kExchange;
  ex().ForwardRequest(client_ip);
}

}  // namespace outrigger::forward
