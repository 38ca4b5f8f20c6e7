// What a listener's config says about the request head sent upstream: how the target is
// normalized before routing (issue 21) and which forwarded fields are trusted and added.
#pragma once

#include <string_view>

#include "proxy/config/config.h"
#include "proxy/http/head_writer.h"
#include "proxy/http/path_normalize.h"

namespace outrigger::forward {

inline http::PathNormalizeOptions PathOptions(const config::ListenerConfig& listener) {
  http::PathNormalizeOptions options;
  options.merge_slashes = listener.normalize.merge_slashes;
  switch (listener.normalize.escaped_slashes) {
    case config::EscapedSlashes::kKeep:
      options.escaped_slashes = http::EscapedSlashes::kKeep;
      break;
    case config::EscapedSlashes::kReject:
      options.escaped_slashes = http::EscapedSlashes::kReject;
      break;
    case config::EscapedSlashes::kDecode:
      options.escaped_slashes = http::EscapedSlashes::kDecode;
      break;
  }
  return options;
}

// True when `ip` lies in one of the listener's trusted_proxies.
bool IsTrustedProxy(const config::ListenerConfig& listener, std::string_view ip);

// The forwarded fields for a request from `peer_ip` whose client is `client_ip` (the peer, or
// what a trusted proxy reported). The views point at the arguments.
http::ForwardedFor ForwardedFields(const config::ListenerConfig& listener, std::string_view peer_ip,
                                   std::string_view client_ip);

}  // namespace outrigger::forward
