// Exchange, a request whose head has parsed: its normalized target, its route and the
// route's checks (Route), or the answer that replaces them (400, 404, 413, a redirect to
// HTTPS). Whatever the codec that parsed the head.
#include <optional>

#include "proxy/forward/exchange.h"
#include "proxy/forward/forwarded_fields.h"
#include "proxy/forward/request_facts.h"
#include "proxy/forward/worker.h"
#include "proxy/http/https_redirect.h"
#include "proxy/http/upgrade.h"

namespace outrigger::forward {

bool Exchange::Route(std::string_view* client_ip) {
  const ListenerRuntime& runtime = view->snapshot->listeners[listener];
  const config::ListenerConfig& config = *runtime.config;
  upgrade_requested = false;
  has_body = HasBody(request);
  BeginRequestLog(config);

  // Routed on, and forwarded as, the normalized target (forwarded_fields.h).
  const http::PathNormalizeResult normalized =
      http::NormalizePath(request.path, PathOptions(config), &target);
  if (normalized.verdict == http::PathVerdict::kInvalid) {
    worker_->CountLimit(session_->facts(), Limit::kBadRequest);
    Reply(400, normalized.reason, /*close=*/true);
    return false;
  }
  if (normalized.verdict == http::PathVerdict::kRewritten) request.path = target;
  const std::optional<size_t> matched = runtime.router.Match(request.authority, request.path);
  if (!matched) {
    if (config.redirect_https_port) {
      RedirectToHttps(*config.redirect_https_port);
      return false;
    }
    session_->ReleaseRequestHead(*this);
    Reply(404, "no route for this host and path", /*close=*/has_body);
    return false;
  }
  const config::RouteConfig& route_config = config.routes[*matched];
  if (!request.upgrade.empty()) {
    if (!RouteAllowsUpgrade(route_config, request)) {
      Reply(400, "upgrade not allowed on this route", /*close=*/true);
      return false;
    }
    upgrade_requested = true;
    http::CopyUpgradeList(request.headers, &upgrade);
  }
  if (ExceedsMaxBody(route_config, request)) {
    worker_->CountLimit(session_->facts(), Limit::kMaxBody);
    Reply(413, "request body too large", /*close=*/true);
    return false;
  }
  max_body = route_config.max_body;
  *client_ip = ClientIp(config, session_->facts().peer_ip, request);
  NoteClient(*client_ip);
  chain = runtime.route_chains[*matched].get();
  route = static_cast<uint32_t>(*matched);
  return true;
}

void Exchange::RedirectToHttps(uint16_t port) {
  std::string location;  // before the head it points into is released
  const bool have_host =
      http::AppendHttpsLocation(request.authority, port, request.path, &location);
  session_->ReleaseRequestHead(*this);
  if (!have_host) {
    Reply(400, "a redirect to HTTPS needs a Host field", /*close=*/true);
    return;
  }
  const bool get_or_head = method == http::Method::kGet || method == http::Method::kHead;
  // The body (if any) is not read: the connection closes after the answer, as after a 404.
  Reply(http::HttpsRedirectStatus(get_or_head), "", /*close=*/has_body, location);
}

}  // namespace outrigger::forward
