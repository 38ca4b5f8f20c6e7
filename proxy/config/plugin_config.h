// A route's `plugins:` list (README "Plugins"): what each plugin was configured with, read
// and checked at load (plugin_reader.cc). The plugins themselves, built from these once per
// snapshot, are in the top-level plugins/ folder.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "proxy/config/htpasswd.h"
#include "proxy/config/template.h"
#include "proxy/net/cidr.h"

namespace re2 {
class RE2;
}

namespace outrigger::config {

// One side's edits: a field named in `remove` or `set` is dropped from what the peer sent;
// `set` then sends one field of each name, `add` one more line beside any already there.
struct FieldEditsConfig {
  std::vector<std::pair<std::string, Template>> set;
  std::vector<std::pair<std::string, Template>> add;
  std::vector<std::string> remove;
  bool empty() const { return set.empty() && add.empty() && remove.empty(); }
};

// `headers: { request: {set, add, remove}, response: {set, add, remove} }`.
struct HeadersPluginConfig {
  FieldEditsConfig request;   // to the backend
  FieldEditsConfig response;  // to the client
};

// `rewrite:` one of `strip_prefix: /api`, `replace_prefix: { from: /a/, to: /b/ }`, or
// `regex: { match: RE, to: REPLACEMENT }` (RE2 syntax; $1..$9 in `to`).
struct RewritePluginConfig {
  enum class Kind : uint8_t { kStripPrefix, kReplacePrefix, kRegex };
  Kind kind = Kind::kStripPrefix;
  std::string from;  // the prefix replaced (strip_prefix: the prefix stripped)
  std::string to;    // its replacement; kRegex: RE2's rewrite string (\1..\9)
  std::shared_ptr<const re2::RE2> regex;
};

// `redirect: { to: TEMPLATE, status: 301|302|303|307|308 }` (default 302).
struct RedirectPluginConfig {
  Template to;
  int status = 302;
};

// `respond: { status: N, body: TEMPLATE, content_type: TYPE }`.
struct RespondPluginConfig {
  int status = 200;
  Template body;
  std::string content_type = "text/plain; charset=utf-8";
};

// `ip_filter: { allow: [CIDR...], deny: [CIDR...] }`: the client address (after
// trusted_proxies) in any `deny` is refused; with an `allow` list, so is one in none of it.
struct IpFilterPluginConfig {
  std::vector<net::Cidr> allow;
  std::vector<net::Cidr> deny;
};

// `rate_limit: { key: client_ip | "header:NAME" | route, rate: N/PERIOD, burst: B,
// max_keys: K, headers: true }`: at most `burst` requests at once per key, refilled at `rate`
// (GCRA); over it, 429 with Retry-After. Keys beyond `max_keys` evict the ones closest to
// full, so memory stays bounded. With `store`, the limit lives in Redis instead.
struct RateLimitPluginConfig {
  enum class Key : uint8_t { kClientIp, kHeader, kRoute };
  Key key = Key::kClientIp;
  std::string key_text = "client_ip";   // as written: also the RateLimit policy's name
  std::string header;                   // kHeader: the field whose value is the key
  uint64_t count = 0;                   // `rate`'s N ...
  std::chrono::milliseconds period{0};  // ... per this
  uint32_t burst = 0;                   // default: count
  uint32_t max_keys = 100000;
  bool headers = true;  // RateLimit-Policy and RateLimit on every response
  // `store: "redis://HOST:PORT"`: the limit is kept in Redis, shared by every proxy that
  // names the same store and zone, instead of in this process (store_host empty).
  std::string store_host;
  uint16_t store_port = 0;
  std::chrono::milliseconds store_timeout{100};  // `store_timeout`: the longest a decision waits
  bool deny_on_store_error = false;              // `on_store_error: allow | deny` (allow)
  // `zone`: the limit's name in the store; default: the route's host and path prefix (and
  // "#N" for the route's Nth rate_limit after the first), the same in every replica.
  std::string zone;

  bool operator==(const RateLimitPluginConfig&) const = default;
};

// `basic_auth: { users_file: PATH, realm: "restricted", forward_authorization: false }`:
// a request without the credentials of a user in the file gets 401 with WWW-Authenticate.
// The file is read with the config (a reload reads it again).
struct BasicAuthPluginConfig {
  std::string users_file;
  std::vector<HtpasswdUser> users;
  std::string realm = "restricted";
  bool forward_authorization = false;  // the backend sees the client's Authorization

  bool operator==(const BasicAuthPluginConfig&) const = default;
};

// `cors: { origins: [ORIGIN | "*"], methods: [...], headers: [...], expose: [...],
// credentials: false, max_age: 10m }`: a preflight from an allowed origin is answered here
// (204); other requests from one get Access-Control-Allow-Origin on their response.
struct CorsPluginConfig {
  std::vector<std::string> origins;  // lower-cased "scheme://host[:port]"
  bool any_origin = false;           // "*"
  std::string methods = "GET, HEAD, POST";
  std::string headers;  // empty: the preflight's Access-Control-Request-Headers are allowed
  std::string expose;
  bool credentials = false;
  std::chrono::milliseconds max_age{600000};
};

// `compress: { encodings: [br, gzip], types: [...], min_size: 256, gzip_level: 1,
// brotli_quality: 4 }`: a backend's response of a listed type, not already encoded and not
// known to be smaller than `min_size`, goes to a client that accepts one of `encodings` (the
// first it accepts, in this order) encoded with it, streamed.
struct CompressPluginConfig {
  std::vector<std::string> encodings = {"br", "gzip"};
  // Lower-cased media types; "type/*" matches the whole type.
  std::vector<std::string> types = {"text/html",
                                    "text/plain",
                                    "text/css",
                                    "text/javascript",
                                    "text/xml",
                                    "text/csv",
                                    "text/markdown",
                                    "application/javascript",
                                    "application/json",
                                    "application/xml",
                                    "application/ld+json",
                                    "application/manifest+json",
                                    "application/rss+xml",
                                    "application/atom+xml",
                                    "application/wasm",
                                    "image/svg+xml"};
  uint64_t min_size = 256;
  int gzip_level = 1;      // nginx's gzip_comp_level default
  int brotli_quality = 4;  // the usual setting for responses made per request

  bool operator==(const CompressPluginConfig&) const = default;
};

struct PluginConfig {
  std::variant<HeadersPluginConfig, RewritePluginConfig, RedirectPluginConfig, RespondPluginConfig,
               IpFilterPluginConfig, RateLimitPluginConfig, CorsPluginConfig, BasicAuthPluginConfig,
               CompressPluginConfig>
      spec;
  std::string name;  // its key in the config: "headers", "rewrite", ...

  // A plugin that answers every request itself: a route whose list has one needs no pool.
  bool AlwaysAnswers() const {
    return std::holds_alternative<RedirectPluginConfig>(spec) ||
           std::holds_alternative<RespondPluginConfig>(spec);
  }
};

}  // namespace outrigger::config
