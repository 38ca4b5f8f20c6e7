#include "proxy/forward/forwarded_fields.h"

#include <algorithm>

namespace outrigger::forward {

bool IsTrustedProxy(const config::ListenerConfig& listener, std::string_view ip) {
  return std::any_of(listener.trusted_proxies.begin(), listener.trusted_proxies.end(),
                     [&](const net::Cidr& c) { return c.Contains(ip); });
}

http::ForwardedFor ForwardedFields(const config::ListenerConfig& listener, std::string_view peer_ip,
                                   std::string_view client_ip) {
  http::ForwardedFor fwd{peer_ip, listener.tls ? "https" : "http", client_ip};
  fwd.trusted = IsTrustedProxy(listener, peer_ip);
  fwd.append_untrusted_for = listener.forwarded_for == config::ForwardedForMode::kAppend;
  fwd.rfc7239 = listener.forwarded_rfc7239;
  fwd.port = listener.listen.port();
  return fwd;
}

}  // namespace outrigger::forward
