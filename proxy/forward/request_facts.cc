#include "proxy/forward/request_facts.h"

#include "proxy/forward/forwarded_fields.h"
#include "proxy/http/fields.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/upgrade.h"

namespace outrigger::forward {

std::string_view ClientIp(const config::ListenerConfig& listener, std::string_view peer_ip,
                          const http::RequestHead& req) {
  if (listener.trusted_proxies.empty() || !IsTrustedProxy(listener, peer_ip)) return peer_ip;
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
      if (!IsTrustedProxy(listener, entry)) return client;
    }
  }
  return client;
}

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

bool RouteAllowsUpgrade(const config::RouteConfig& route, const http::RequestHead& req) {
  return req.upgrade_websocket && http::UpgradesAllowed(req.headers, route.upgrades);
}

bool ExceedsMaxBody(const config::RouteConfig& route, const http::RequestHead& req) {
  return route.max_body != 0 && req.body == http::BodyKind::kContentLength &&
         req.content_length > route.max_body;
}

bool HasBody(const http::RequestHead& req) {
  return req.body != http::BodyKind::kNone &&
         !(req.body == http::BodyKind::kContentLength && req.content_length == 0);
}

}  // namespace outrigger::forward
