// Http1Session, a request whose head has parsed: its normalized target, its route, the
// route's checks and plugins, then the Exchange that serves it from its pool on.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/forward_internal.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/forward/http1_session.h"
#include "proxy/forward/request_facts.h"
#include "proxy/http/error_page.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/request_parser.h"
#include "proxy/http/response_parser.h"
#include "proxy/http/upgrade.h"
#include "proxy/net/event.h"
#include "proxy/upstream/caps.h"
#include "proxy/upstream/circuit_breaker.h"
#include "proxy/upstream/retry_policy.h"

namespace outrigger::forward {

using namespace internal;  // forward_internal.h

void Http1Session::HandleRequest() {
  Exchange& e = ex();
  e.view = worker_.view();
  e.listener = facts_.listener_index;
  e.request_start_ns = MetricNanos();
  const Snapshot& snap = *e.view->snapshot;
  const ListenerRuntime& listener = snap.listeners[e.listener];
  e.method = e.request.method;
  e.client_minor = e.request.version_minor;
  client_keep_alive_ = e.request.keep_alive && !worker_.draining();
  client_asked_close_ = !e.request.keep_alive;
  e.upgrade_requested = false;
  e.has_body = HasBody(e.request);
  e.BeginRequestLog(*listener.config);

  // Routed on, and forwarded as, the normalized target (forwarded_fields.h).
  const http::PathNormalizeResult target =
      http::NormalizePath(e.request.path, PathOptions(*listener.config), &e.target);
  if (target.verdict == http::PathVerdict::kInvalid) {
    worker_.CountLimit(facts_, Limit::kBadRequest);
    SendLocalResponse(400, target.reason, /*close=*/true);
    return;
  }
  if (target.verdict == http::PathVerdict::kRewritten) e.request.path = e.target;
  std::optional<size_t> route = listener.router.Match(e.request.authority, e.request.path);
  if (!route) {
    if (listener.config->redirect_https_port) {
      RedirectToHttps(*listener.config->redirect_https_port);  // drains the head itself
      return;
    }
    evbuffer_drain(In(client_), e.request.head_size);
    SendLocalResponse(404, "no route for this host and path", /*close=*/e.has_body);
    return;
  }
  const config::RouteConfig& route_config = listener.config->routes[*route];
  if (!e.request.upgrade.empty()) {
    if (!RouteAllowsUpgrade(route_config, e.request)) {
      SendLocalResponse(400, "upgrade not allowed on this route", /*close=*/true);
      return;
    }
    e.upgrade_requested = true;
    http::CopyUpgradeList(e.request.headers, &e.upgrade);
  }
  if (ExceedsMaxBody(route_config, e.request)) {
    worker_.CountLimit(facts_, Limit::kMaxBody);
    SendLocalResponse(413, "request body too large", /*close=*/true);
    return;
  }
  e.max_body = route_config.max_body;
  std::string_view client_ip = ClientIp(*listener.config, facts_.peer_ip, e.request);
  e.NoteClient(client_ip);
  e.chain = listener.route_chains[*route].get();
  e.route = static_cast<uint32_t>(*route);
  if (e.chain != nullptr && RunRequestPlugins(client_ip)) return;
  ForwardRequest(client_ip);
}

void Http1Session::ForwardRequest(std::string_view client_ip) {
  // kExchange before the Exchange starts: its first attempt may already send (or answer).
  state_ = State::kExchange;
  ex().ForwardRequest(client_ip);
}

}  // namespace outrigger::forward
