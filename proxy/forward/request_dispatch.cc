// DownstreamConnection, a request whose head has parsed: its normalized target, its route,
// the route's checks and plugins, then its pool and backend (HandleRequest, ForwardRequest).
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>

#include "proxy/balance/eligible.h"
#include "proxy/balance/peak_ewma.h"
#include "proxy/base/clock.h"
#include "proxy/base/log.h"
#include "proxy/forward/downstream_connection.h"
#include "proxy/forward/downstream_internal.h"
#include "proxy/forward/forwarded_fields.h"
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

using namespace downstream;  // the helpers of this class's files (downstream_internal.h)

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
  ex().has_body = HasBody(ex().request);
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
    if (!RouteAllowsUpgrade(route_config, ex().request)) {
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
  const UpstreamAttempt::PickResult pick = PickBackend();
  if (pick.backend == nullptr) {
    shard().OnShed(static_cast<metrics::PoolId>(ex().pool_index), pick.shed);
    evbuffer_drain(In(client_), ex().request.head_size);
    SendLocalResponse(503, "no backend available", /*close=*/ex().has_body, "Retry-After: 1\r\n");
    return;
  }
  attempt_.Begin(ex(), pick.backend);

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

}  // namespace outrigger::forward
