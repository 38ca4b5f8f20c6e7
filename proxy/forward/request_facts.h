// What a parsed request head means under the config it arrived on: its client, its hash key,
// whether its route lets it upgrade or take its body. Pure functions of their arguments, so
// the request path asks them and the unit tests state them (request_facts_test.cc).
#pragma once

#include <string_view>

#include "proxy/config/config.h"
#include "proxy/http/message.h"

namespace outrigger::forward {

// The client's address for stickiness and X-Real-IP: `peer_ip` itself, unless the peer is
// one of the listener's trusted_proxies; then the rightmost X-Forwarded-For entry that is not
// trusted (each trusted hop appended the address it saw; what lies left of an untrusted
// entry is that client's own claim), or the leftmost entry when all are trusted,
// or the peer when the head has none. Several X-Forwarded-For lines are one list in their
// order (RFC 9110 §5.3): a trusted balancer appends its line after any the client sent, so
// the scan runs from the last line. The view points into `peer_ip` or a header value.
std::string_view ClientIp(const config::ListenerConfig& listener, std::string_view peer_ip,
                          const http::RequestHead& req);

// The key ip_hash sticks on, per the pool's hash_on: `client_ip` (ClientIp's answer); the
// value of the first field named hash_on.name (case-insensitive); or the value of the first
// cookie named hash_on.name (case-sensitive, as cookie names are) in the Cookie lines. Empty
// when the header or cookie is absent: such clients still get a consistent backend, the one
// for the empty key. The view points into `client_ip` or a header value.
std::string_view HashKey(const config::PoolConfig& pool, std::string_view client_ip,
                         const http::RequestHead& req);

// Whether a request that asks to upgrade (REQUIRES: !req.upgrade.empty()) may go upstream on
// `route`: only a WebSocket upgrade becomes a tunnel, and only when every protocol in every
// Upgrade line is in the route's `upgrades` (`Upgrade: h2c, websocket` on a websocket-only
// route must not reach a backend that could switch to h2c). False means a 400.
bool RouteAllowsUpgrade(const config::RouteConfig& route, const http::RequestHead& req);

// A route's max_body (0: no limit) against a declared Content-Length: refused before anything
// goes upstream. A chunked body is held to it as it streams (BodyPump's max_data), so it is
// never refused here.
bool ExceedsMaxBody(const config::RouteConfig& route, const http::RequestHead& req);

// Whether the request carries body bytes: a chunked body, or a Content-Length above 0. A
// local answer to such a request closes the connection (its unread body stands before the
// next request), and once sent it is retried only if its body was buffered whole.
bool HasBody(const http::RequestHead& req);

}  // namespace outrigger::forward
