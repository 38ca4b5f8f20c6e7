// The loader reads every section into Config even when parts of it are wrong, so that
// one run reports every problem: a broken entry still takes its place (keeping the
// cross-section checks' indices aligned), with a broken value either kept as written (so
// it cannot look like a duplicate of a valid one) or left empty/invalid, which those checks
// skip. A Config is returned only when nothing at all was reported.
#include "proxy/config/loader.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <tuple>

#include "proxy/balance/registry.h"
#include "proxy/config/access_log_reader.h"
#include "proxy/config/forwarding_reader.h"
#include "proxy/config/health_reader.h"
#include "proxy/config/plugin_reader.h"
#include "proxy/config/tls_reader.h"
#include "proxy/config/validate.h"
#include "proxy/config/yaml_reader.h"
#include "proxy/http/fields.h"

namespace outrigger::config {
namespace {

constexpr uint32_t kMaxWorkers = 256;
constexpr uint32_t kMaxWeight = 10000;
constexpr uint32_t kMaxKeepalive = 65535;
constexpr uint32_t kMaxCap = 1000000;
// Re-resolving more often would only load the DNS server: records change at human pace.
constexpr Duration kMinResolveEvery{1000};
constexpr uint32_t kMaxScalingTarget = 1'000'000;
constexpr uint32_t kMaxScalingBackends = 100'000;
constexpr uint32_t kMaxConnections = 1000000;
constexpr std::string_view kDefaultAdminListen = "127.0.0.1:9901";

// A trusted_proxies entry holding all of IPv4 (0.0.0.0/0, ::ffff:0:0/96) or of IPv6 (::/0):
// it believes any peer's X-Forwarded-For. Refused rather than warned about: Traefik asks for
// an explicit `insecure` switch to trust every source, and a balancer's own network is always
// known and narrower. A prefix holds every address between its lowest and highest.
bool TrustsEveryAddress(const net::Cidr& cidr) {
  return (cidr.Contains("0.0.0.0") && cidr.Contains("255.255.255.255")) ||
         (cidr.Contains("::ffff:0.0.0.0") && cidr.Contains("::ffff:255.255.255.255")) ||
         (cidr.Contains("::") && cidr.Contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), AsciiLower);
  return out;
}

// RFC 9110 token: header names, cookie names and Upgrade protocol names are all tokens.
using http::fields::IsToken;

class Loader {
 public:
  explicit Loader(const std::string& file) : diag_(file) { config_.file = file; }

  absl::StatusOr<Config> Load(std::string_view yaml);

 private:
  void ReadRoot(const YAML::Node& root);
  void ReadWorkers(const Field& f);
  void ReadResolver(const Field& f);
  void ReadAdmin(const std::optional<Field>& f);
  void ReadDrain(const Field& f);
  void ReadListeners(const Field& f);
  void ReadListener(const Field& f);
  void ReadListenerTimeouts(const Field& f, ListenerTimeouts* timeouts);
  void ReadRedirectHttps(const Field& f, std::optional<uint16_t>* port);
  // A rate_limit without `zone` is named after its route (plugin_config.h).
  static void DefaultRateLimitZones(RouteConfig* route);
  void ReadRoute(const Field& f, RouteConfig* route, SourceMark* pool_mark);
  void ReadPools(const Field& f);
  void ReadPool(const Field& f);
  // `protocol: http1 | h2`.
  void ReadPoolProtocol(const Field& f, PoolProtocol* protocol);
  void ReadPoolTimeouts(const Field& f, PoolTimeouts* timeouts);
  void ReadCircuitBreaker(const Field& f, CircuitBreakerConfig* breaker);
  void ReadScaling(const Field& f, ScalingConfig* scaling);
  void ReadBackend(const Field& f, BackendConfig* backend);
  void ReadBackendAddress(const Field& f, BackendConfig* backend);
  void ReadBackendDns(const Field& f, BackendConfig* backend);
  // A numeric listen address; an invalid SocketAddress when it was reported as wrong.
  net::SocketAddress ReadListenAddress(const Field& f, std::string* text);
  std::optional<HashOn> ReadHashOn(const Field& f);

  Diagnostics diag_;
  Config config_;
  ValueMarks marks_;
};

absl::StatusOr<Config> Loader::Load(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    diag_.Add(diag_.At(e.mark), fmt::format("YAML syntax error: {}", e.msg));
    return diag_.ToStatus();
  } catch (const YAML::Exception& e) {
    diag_.Add(diag_.At(e.mark), fmt::format("cannot parse YAML: {}", e.msg));
    return diag_.ToStatus();
  }
  // Before anything reads a name: the readers echo names into their messages, and every name
  // ends up in /status JSON or a metric label, which must be UTF-8.
  if (!CheckUtf8(Field{std::nullopt, root, ""}, &diag_)) return diag_.ToStatus();
  ReadRoot(root);
  ValidateCrossReferences(config_, marks_, &diag_);
  if (absl::Status s = diag_.ToStatus(); !s.ok()) return s;
  return std::move(config_);
}

void Loader::ReadRoot(const YAML::Node& root) {
  if (root.IsNull()) {
    diag_.Add(SourceMark{diag_.file(), 1, 1},
              "the config is empty: expected a map with at least `listeners` and `pools`");
    return;
  }
  Field top{std::nullopt, root, ""};
  if (!root.IsMap()) {
    diag_.Add(LocateValue(top, diag_),
              fmt::format("expected a map of sections (workers, admin, drain, listeners, pools) "
                          "at the top level, got {}",
                          Describe(root)));
    return;
  }
  MapReader sections(top, {"workers", "resolver", "admin", "drain", "listeners", "pools"}, &diag_);
  if (auto f = sections.Get("workers")) ReadWorkers(*f);
  if (auto f = sections.Get("resolver")) ReadResolver(*f);
  ReadAdmin(sections.Get("admin"));
  if (auto f = sections.Get("drain")) ReadDrain(*f);
  if (auto f = sections.Require("listeners")) ReadListeners(*f);
  if (auto f = sections.Require("pools")) ReadPools(*f);
}

void Loader::ReadWorkers(const Field& f) {
  if (f.value.IsScalar() && f.value.Scalar() == "auto") {
    config_.workers = 0;
    return;
  }
  Diagnostics scratch(diag_.file());
  if (auto n = ReadInteger(f, 1, kMaxWorkers, &scratch)) {
    config_.workers = *n;
    return;
  }
  // One message for both ways of being wrong, since `auto` is as valid as a number.
  diag_.Add(LocateValue(f, diag_),
            fmt::format("workers: must be `auto` or an integer between 1 and {}, got {}",
                        kMaxWorkers, Describe(f.value)));
}

void Loader::ReadResolver(const Field& f) {
  std::optional<std::string> s = ReadString(f, &diag_);
  if (!s) return;
  config_.resolver_text = *s;
  absl::StatusOr<net::SocketAddress> address = net::ParseNumericAddress(*s);
  if (!address.ok() || address->port() == 0) {
    diag_.Add(LocateValue(f, diag_),
              fmt::format("resolver: expected the numeric IP:PORT of a DNS server (e.g. "
                          "127.0.0.11:53), got \"{}\"",
                          *s));
    return;
  }
  config_.resolver = *address;
}

void Loader::ReadAdmin(const std::optional<Field>& f) {
  std::optional<Field> listen;
  if (f && ExpectMap(*f, &diag_)) {
    MapReader admin(*f, {"listen", "token_file"}, &diag_);
    listen = admin.Get("listen");
    if (auto token = admin.Get("token_file")) {
      if (auto s = ReadString(*token, &diag_)) {
        config_.admin.token_file = ResolvePath(*s, diag_.file());
      }
    }
  }
  if (listen) {
    config_.admin.listen = ReadListenAddress(*listen, &config_.admin.listen_text);
    marks_.admin_listen = LocateValue(*listen, diag_);
    return;
  }
  config_.admin.listen_text = std::string(kDefaultAdminListen);
  config_.admin.listen = *net::ParseNumericAddress(kDefaultAdminListen);
}

void Loader::ReadDrain(const Field& f) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader drain(f, {"delay", "timeout"}, &diag_);
  if (auto t = drain.Get("delay")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/true, &diag_)) config_.drain.delay = *d;
  }
  if (auto t = drain.Get("timeout")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/true, &diag_)) config_.drain.timeout = *d;
  }
}

net::SocketAddress Loader::ReadListenAddress(const Field& f, std::string* text) {
  std::optional<std::string> s = ReadString(f, &diag_);
  if (!s) return {};
  *text = *s;
  absl::StatusOr<net::SocketAddress> address = net::ParseNumericAddress(*s);
  if (!address.ok()) {
    diag_.Add(LocateValue(f, diag_),
              fmt::format("{}{} (listen addresses are numeric: IP:PORT or [IPv6]:PORT)", f.Prefix(),
                          std::string(address.status().message())));
    return {};
  }
  if (address->port() == 0) {
    // Every worker binds its own SO_REUSEPORT socket: they must agree on a fixed port.
    diag_.Add(LocateValue(f, diag_), fmt::format("{}port must not be 0", f.Prefix()));
    return {};
  }
  return *address;
}

void Loader::ReadListeners(const Field& f) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader listeners(f, {}, &diag_);
  if (listeners.empty()) {
    diag_.Add(LocateKey(f, diag_), "listeners: at least one listener is required");
  }
  for (const Field& entry : listeners.entries()) ReadListener(entry);
}

void Loader::ReadListener(const Field& f) {
  ListenerConfig& listener = config_.listeners.emplace_back();
  SourceMark& listen_mark = marks_.listener_listen.emplace_back();
  std::vector<SourceMark>& pool_marks = marks_.route_pool.emplace_back();
  listener.name = f.key->Scalar();
  listener.mark = LocateKey(f, diag_);
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(
      f,
      {"listen", "trusted_proxies", "timeouts", "max_connections", "access_log", "request_id",
       "routes", "normalize", "forwarded_for", "forwarded", "tls", "redirect_https", "h2c"},
      &diag_);
  if (auto listen = keys.Require("listen")) {
    listener.listen = ReadListenAddress(*listen, &listener.listen_text);
    listen_mark = LocateValue(*listen, diag_);
  }
  if (auto proxies = keys.Get("trusted_proxies"); proxies && ExpectList(*proxies, &diag_)) {
    for (const Field& item : ListItems(*proxies)) {
      std::optional<std::string> text = ReadString(item, &diag_);
      if (!text) continue;
      absl::StatusOr<net::Cidr> cidr = net::ParseCidr(*text);
      if (!cidr.ok()) {
        diag_.Add(LocateValue(item, diag_),
                  fmt::format("{}{}", item.Prefix(), std::string(cidr.status().message())));
        continue;
      }
      if (TrustsEveryAddress(*cidr)) {
        diag_.Add(LocateValue(item, diag_),
                  fmt::format("{}{} trusts every address: any client could then forge "
                              "X-Forwarded-For, and with it X-Real-IP and client_ip "
                              "stickiness; list your balancers' own networks (e.g. 10.0.0.0/8)",
                              item.Prefix(), *text));
        continue;
      }
      listener.trusted_proxies.push_back(*cidr);
    }
  }
  if (auto normalize = keys.Get("normalize"))
    ReadNormalize(*normalize, &listener.normalize, &diag_);
  if (auto xff = keys.Get("forwarded_for")) ReadForwardedFor(*xff, &listener.forwarded_for, &diag_);
  if (auto fwd = keys.Get("forwarded")) ReadForwarded(*fwd, &listener.forwarded_rfc7239, &diag_);
  if (auto timeouts = keys.Get("timeouts")) ReadListenerTimeouts(*timeouts, &listener.timeouts);
  if (auto log = keys.Get("access_log")) ReadAccessLog(*log, &listener.access_log, &diag_);
  if (auto id = keys.Get("request_id")) ReadRequestId(*id, &listener.request_id, &diag_);
  if (auto tls = keys.Get("tls")) listener.tls = ReadListenerTls(*tls, std::time(nullptr), &diag_);
  if (auto max = keys.Get("max_connections")) {
    if (auto n = ReadInteger(*max, 1, kMaxConnections, &diag_)) listener.max_connections = *n;
  }
  if (auto redirect = keys.Get("redirect_https")) {
    ReadRedirectHttps(*redirect, &listener.redirect_https_port);
    if (listener.tls) {
      diag_.Add(LocateKey(*redirect, diag_),
                fmt::format("{}belongs on a plain-HTTP listener; this one already serves TLS",
                            redirect->Prefix()));
    }
  }
  if (auto h2c = keys.Get("h2c")) {
    if (auto on = ReadBool(*h2c, &diag_)) listener.h2c = *on;
    if (listener.tls) {
      // On TLS, HTTP/2 is chosen by ALPN (`tls.alpn: [h2, http/1.1]`), never by prior
      // knowledge of a cleartext preface.
      diag_.Add(LocateKey(*h2c, diag_),
                fmt::format("{}belongs on a plain-HTTP listener; on TLS, offer h2 in tls.alpn",
                            h2c->Prefix()));
    }
  }
  std::optional<Field> routes =
      listener.redirect_https_port ? keys.Get("routes") : keys.Require("routes");
  if (routes && ExpectList(*routes, &diag_)) {
    std::vector<Field> items = ListItems(*routes);
    if (items.empty() && !listener.redirect_https_port) {
      diag_.Add(LocateKey(*routes, diag_),
                fmt::format("{}a listener needs at least one route", routes->Prefix()));
    }
    for (const Field& item : items) {
      ReadRoute(item, &listener.routes.emplace_back(), &pool_marks.emplace_back());
    }
  }
}

void Loader::ReadRedirectHttps(const Field& f, std::optional<uint16_t>* port) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f, {"port"}, &diag_);
  *port = 443;
  if (auto p = keys.Get("port")) {
    if (auto n = ReadInteger(*p, 1, 65535, &diag_)) *port = static_cast<uint16_t>(*n);
  }
}

void Loader::ReadListenerTimeouts(const Field& f, ListenerTimeouts* timeouts) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f, {"header", "idle"}, &diag_);
  if (auto t = keys.Get("header")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/false, &diag_)) timeouts->header = *d;
  }
  if (auto t = keys.Get("idle")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/false, &diag_)) timeouts->idle = *d;
  }
}

void Loader::ReadRoute(const Field& f, RouteConfig* route, SourceMark* pool_mark) {
  route->mark = LocateValue(f, diag_);
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f, {"path_prefix", "host", "pool", "upgrades", "max_body", "plugins"}, &diag_);
  if (auto plugins = keys.Get("plugins")) ReadPlugins(*plugins, &route->plugins, &diag_);
  const bool answers = std::any_of(route->plugins.begin(), route->plugins.end(),
                                   [](const PluginConfig& p) { return p.AlwaysAnswers(); });
  if (auto prefix = keys.Get("path_prefix")) {
    if (auto s = ReadString(*prefix, &diag_)) {
      route->path_prefix = *s;
      if (s->front() != '/') {
        diag_.Add(LocateValue(*prefix, diag_),
                  fmt::format("{}must start with '/', got \"{}\"", prefix->Prefix(), *s));
      }
    }
  }
  if (auto host = keys.Get("host")) {
    if (auto s = ReadString(*host, &diag_)) {
      // The router compares against the Host header with its port removed, so a host
      // written with a port, a path or a scheme could never match.
      bool bracketed = s->front() == '[';
      bool bad = s->find_first_of(bracketed ? "/ \t" : ":/ \t") != std::string::npos;
      std::string lower = ToLower(*s);
      if (lower.size() > 1 && lower.back() == '.') lower.pop_back();
      route->host = std::move(lower);
      if (bad) {
        diag_.Add(LocateValue(*host, diag_),
                  fmt::format("{}expected a host name without scheme, port or path, got \"{}\"",
                              host->Prefix(), *s));
      } else if (const size_t star = s->find('*');
                 star != std::string::npos &&
                 (star != 0 || !s->starts_with("*.") || s->size() == 2 ||
                  s->find('*', 1) != std::string::npos)) {
        diag_.Add(LocateValue(*host, diag_),
                  fmt::format("{}only a leading wildcard is supported (\"*.example.com\"), got "
                              "\"{}\"",
                              host->Prefix(), *s));
      }
    }
  }
  // A route whose plugins always answer (respond, redirect) reaches no pool.
  if (auto pool = answers ? keys.Get("pool") : keys.Require("pool")) {
    if (auto s = ReadString(*pool, &diag_)) route->pool = *s;
    *pool_mark = LocateValue(*pool, diag_);
  }
  if (auto upgrades = keys.Get("upgrades"); upgrades && ExpectList(*upgrades, &diag_)) {
    route->upgrades.clear();
    for (const Field& item : ListItems(*upgrades)) {
      std::optional<std::string> s = ReadString(item, &diag_);
      if (!s) continue;
      if (!IsToken(*s)) {
        diag_.Add(LocateValue(item, diag_),
                  fmt::format("{}expected a protocol name as sent in the Upgrade header (e.g. "
                              "websocket), got \"{}\"",
                              item.Prefix(), *s));
        continue;
      }
      route->upgrades.push_back(ToLower(*s));
    }
  }
  if (auto max_body = keys.Get("max_body")) {
    if (auto n = ReadByteSize(*max_body, &diag_)) route->max_body = *n;
  }
  DefaultRateLimitZones(route);
}

void Loader::DefaultRateLimitZones(RouteConfig* route) {
  // Named by what every replica's config says of the route, so that they share the limit.
  size_t n = 0;
  for (PluginConfig& p : route->plugins) {
    auto* limit = std::get_if<RateLimitPluginConfig>(&p.spec);
    if (limit == nullptr) continue;
    if (limit->zone.empty()) {
      limit->zone = route->host.value_or("*") + route->path_prefix;
      if (n > 0) limit->zone += fmt::format("#{}", n);
    }
    ++n;
  }
}

void Loader::ReadPools(const Field& f) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader pools(f, {}, &diag_);
  for (const Field& entry : pools.entries()) ReadPool(entry);
}

std::optional<HashOn> Loader::ReadHashOn(const Field& f) {
  std::optional<std::string> s = ReadString(f, &diag_);
  if (!s) return std::nullopt;
  if (*s == "client_ip") return HashOn{HashOn::Kind::kClientIp, ""};
  for (auto [prefix, kind] : {std::pair{std::string_view("header:"), HashOn::Kind::kHeader},
                              std::pair{std::string_view("cookie:"), HashOn::Kind::kCookie}}) {
    if (s->starts_with(prefix) && IsToken(std::string_view(*s).substr(prefix.size()))) {
      return HashOn{kind, s->substr(prefix.size())};
    }
  }
  diag_.Add(LocateValue(f, diag_),
            fmt::format("{}expected `client_ip`, `header:NAME` or `cookie:NAME`, got \"{}\"",
                        f.Prefix(), *s));
  return std::nullopt;
}

void Loader::ReadPool(const Field& f) {
  PoolConfig& pool = config_.pools.emplace_back();
  pool.name = f.key->Scalar();
  pool.mark = LocateKey(f, diag_);
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f,
                 {"balance", "hash_on", "slow_start", "keepalive", "timeouts", "circuit_breaker",
                  "health", "retries", "panic_threshold", "scaling", "backends", "tls", "protocol"},
                 &diag_);
  if (auto protocol = keys.Get("protocol")) ReadPoolProtocol(*protocol, &pool.protocol);
  bool balance_known = true;  // false: already reported, so say nothing more about it
  if (auto balance = keys.Get("balance")) {
    std::optional<std::string> s = ReadString(*balance, &diag_);
    balance_known = s && balance::FindPolicy(*s) != nullptr;
    if (balance_known) {
      pool.balance = *s;
    } else if (s) {
      std::vector<std::string_view> names = balance::PolicyNames();
      std::string message = fmt::format("{}unknown balance policy `{}`", balance->Prefix(), *s);
      if (auto suggestion = Suggest(*s, names)) {
        message += fmt::format("; did you mean `{}`?", *suggestion);
      }
      message += fmt::format(" (valid policies: {})", JoinNames(names));
      diag_.Add(LocateValue(*balance, diag_), std::move(message));
    }
  }
  if (auto hash_on = keys.Get("hash_on")) {
    std::optional<HashOn> h = ReadHashOn(*hash_on);
    if (h) pool.hash_on = *h;
    // Any other policy would silently ignore it; say so rather than let the user believe
    // requests are sticky.
    if (h && balance_known && pool.balance != "ip_hash") {
      diag_.Add(LocateKey(*hash_on, diag_),
                fmt::format("{}only used by `balance: ip_hash`, but this pool uses `{}`",
                            hash_on->Prefix(), pool.balance));
    }
  }
  if (auto slow_start = keys.Get("slow_start")) {
    if (auto d = ReadDuration(*slow_start, /*allow_zero=*/true, &diag_)) pool.slow_start = *d;
  }
  if (auto keepalive = keys.Get("keepalive")) {
    Diagnostics scratch(diag_.file());
    if (keepalive->value.IsScalar() && keepalive->value.Scalar() == "auto") {
      pool.keepalive = kKeepaliveAuto;
    } else if (auto n = ReadInteger(*keepalive, 0, kMaxKeepalive, &scratch)) {
      pool.keepalive = *n;
    } else {  // one message for both ways of being wrong, as for `workers`
      diag_.Add(LocateValue(*keepalive, diag_),
                fmt::format("{}must be `auto` or an integer between 0 and {}, got {}",
                            keepalive->Prefix(), kMaxKeepalive, Describe(keepalive->value)));
    }
  }
  if (auto timeouts = keys.Get("timeouts")) ReadPoolTimeouts(*timeouts, &pool.timeouts);
  if (auto breaker = keys.Get("circuit_breaker")) {
    ReadCircuitBreaker(*breaker, &pool.circuit_breaker);
  }
  if (auto health = keys.Get("health")) ReadHealth(*health, pool.protocol, &pool.health, &diag_);
  if (auto retries = keys.Get("retries")) ReadRetries(*retries, &pool.retries, &diag_);
  if (auto panic = keys.Get("panic_threshold")) {
    if (auto v = ReadInteger(*panic, 0, 100, &diag_)) pool.panic_threshold = *v;
  }
  if (auto scaling = keys.Get("scaling")) ReadScaling(*scaling, &pool.scaling);
  if (auto tls = keys.Get("tls")) pool.tls = ReadPoolTls(*tls, std::time(nullptr), &diag_);
  if (auto backends = keys.Require("backends"); backends && ExpectList(*backends, &diag_)) {
    std::vector<Field> items = ListItems(*backends);
    if (items.empty()) {
      diag_.Add(LocateKey(*backends, diag_),
                fmt::format("{}a pool needs at least one backend", backends->Prefix()));
    }
    for (const Field& item : items) ReadBackend(item, &pool.backends.emplace_back());
  }
}

void Loader::ReadPoolProtocol(const Field& f, PoolProtocol* protocol) {
  static constexpr std::array<std::string_view, 2> kNames{"http1", "h2"};
  std::optional<std::string> s = ReadString(f, &diag_);
  if (!s) return;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (*s == kNames[i]) {
      *protocol = static_cast<PoolProtocol>(i);
      return;
    }
  }
  std::string message =
      fmt::format("{}expected one of: {}, got \"{}\"", f.Prefix(), JoinNames(kNames), *s);
  if (auto suggestion = Suggest(*s, kNames)) {
    message += fmt::format("; did you mean `{}`?", *suggestion);
  }
  diag_.Add(LocateValue(f, diag_), std::move(message));
}

void Loader::ReadPoolTimeouts(const Field& f, PoolTimeouts* timeouts) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f, {"connect", "read", "idle", "tunnel"}, &diag_);
  for (auto [name, slot] :
       {std::pair{"connect", &timeouts->connect}, std::pair{"read", &timeouts->read},
        std::pair{"idle", &timeouts->idle}, std::pair{"tunnel", &timeouts->tunnel}}) {
    if (auto t = keys.Get(name)) {
      if (auto d = ReadDuration(*t, /*allow_zero=*/false, &diag_)) *slot = *d;
    }
  }
}

void Loader::ReadCircuitBreaker(const Field& f, CircuitBreakerConfig* breaker) {
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(
      f, {"consecutive_failures", "open_for", "max_connections", "max_pending", "max_requests"},
      &diag_);
  if (auto n = keys.Get("consecutive_failures")) {
    if (auto v = ReadInteger(*n, 1, 1000, &diag_)) breaker->consecutive_failures = *v;
  }
  for (auto [name, slot, min] : {std::tuple{"max_connections", &breaker->max_connections, 1u},
                                 std::tuple{"max_pending", &breaker->max_pending, 0u},
                                 std::tuple{"max_requests", &breaker->max_requests, 1u}}) {
    if (auto n = keys.Get(name)) {
      if (auto v = ReadInteger(*n, min, kMaxCap, &diag_)) *slot = *v;
    }
  }
  if (auto t = keys.Get("open_for")) {
    if (auto d = ReadDuration(*t, /*allow_zero=*/false, &diag_)) breaker->open_for = *d;
  }
}

void Loader::ReadScaling(const Field& f, ScalingConfig* scaling) {
  scaling->mark = LocateKey(f, diag_);
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f,
                 {"target_inflight_per_backend", "target_rps_per_backend", "min_backends",
                  "max_backends", "stable_window", "panic_window"},
                 &diag_);
  std::optional<Field> inflight = keys.Get("target_inflight_per_backend");
  std::optional<Field> rps = keys.Get("target_rps_per_backend");
  if (inflight && rps) {
    diag_.Add(LocateKey(*rps, diag_),
              fmt::format("{}give either target_inflight_per_backend or target_rps_per_backend, "
                          "not both",
                          f.Prefix()));
  } else if (inflight) {
    if (auto n = ReadInteger(*inflight, 1, kMaxScalingTarget, &diag_)) {
      scaling->target_kind = ScalingConfig::Target::kInflight;
      scaling->target = *n;
    }
  } else if (rps) {
    if (auto n = ReadInteger(*rps, 1, kMaxScalingTarget, &diag_)) {
      scaling->target_kind = ScalingConfig::Target::kRps;
      scaling->target = *n;
    }
  }
  std::optional<Field> min = keys.Get("min_backends");
  std::optional<Field> max = keys.Get("max_backends");
  if (min) {
    if (auto n = ReadInteger(*min, 0, kMaxScalingBackends, &diag_)) scaling->min_backends = *n;
  }
  if (max) {
    if (auto n = ReadInteger(*max, 1, kMaxScalingBackends, &diag_)) scaling->max_backends = *n;
  }
  if (scaling->min_backends > scaling->max_backends) {
    const Field& at = max ? *max : *min;
    diag_.Add(LocateValue(at, diag_),
              fmt::format("{}max_backends ({}) must not be below min_backends ({})", f.Prefix(),
                          scaling->max_backends, scaling->min_backends));
  }
  std::optional<Field> stable = keys.Get("stable_window");
  std::optional<Field> panic = keys.Get("panic_window");
  if (stable) {
    if (auto d = ReadDuration(*stable, /*allow_zero=*/false, &diag_)) {
      if (*d < Duration(2000) || *d > Duration(3600000)) {
        diag_.Add(LocateValue(*stable, diag_),
                  fmt::format("{}must be between 2s and 1h", stable->Prefix()));
      } else {
        scaling->stable_window = *d;
      }
    }
  }
  if (panic) {
    if (auto d = ReadDuration(*panic, /*allow_zero=*/false, &diag_)) {
      if (*d < Duration(1000)) {
        diag_.Add(LocateValue(*panic, diag_),
                  fmt::format("{}must be at least 1s", panic->Prefix()));
      } else {
        scaling->panic_window = *d;
      }
    }
  }
  if (scaling->panic_window > scaling->stable_window) {
    const Field& at = panic ? *panic : *stable;
    diag_.Add(LocateValue(at, diag_),
              fmt::format("{}panic_window must not be longer than stable_window", f.Prefix()));
  }
}

void Loader::ReadBackend(const Field& f, BackendConfig* backend) {
  backend->mark = LocateValue(f, diag_);
  if (!ExpectMap(f, &diag_)) return;
  MapReader keys(f, {"address", "dns", "resolve_every", "weight", "name"}, &diag_);
  std::optional<Field> address = keys.Get("address");
  std::optional<Field> dns = keys.Get("dns");
  if (address && dns) {
    diag_.Add(LocateKey(*dns, diag_),
              fmt::format("{}a backend has either `address` or `dns`, not both", f.Prefix()));
  } else if (!address && !dns) {
    diag_.Add(LocateValue(f, diag_),
              fmt::format("{}missing required key `address` or `dns`", f.Prefix()));
  }
  if (address) ReadBackendAddress(*address, backend);
  if (dns && !address) ReadBackendDns(*dns, backend);
  if (auto every = keys.Get("resolve_every")) {
    if (!dns) {
      diag_.Add(LocateKey(*every, diag_),
                fmt::format("{}only used with `dns` (an `address` is resolved once, at load)",
                            every->Prefix()));
    } else if (auto d = ReadDuration(*every, /*allow_zero=*/false, &diag_)) {
      if (*d < kMinResolveEvery) {
        diag_.Add(LocateValue(*every, diag_),
                  fmt::format("{}must be at least 1s, got {}ms", every->Prefix(), d->count()));
      } else {
        backend->resolve_every = *d;
      }
    }
  }
  if (auto weight = keys.Get("weight")) {
    if (auto n = ReadInteger(*weight, 1, kMaxWeight, &diag_)) backend->weight = *n;
  }
  if (auto name = keys.Get("name")) {
    if (auto s = ReadString(*name, &diag_)) backend->name = *s;
  } else if (backend->address.valid()) {
    backend->name = backend->address.ToString();
  }
}

void Loader::ReadBackendAddress(const Field& f, BackendConfig* backend) {
  std::optional<std::string> s = ReadString(f, &diag_);
  if (!s) return;
  backend->address_text = *s;
  absl::StatusOr<net::SocketAddress> resolved = net::ResolveAddress(*s);
  if (!resolved.ok()) {
    diag_.Add(LocateValue(f, diag_),
              fmt::format("{}{}", f.Prefix(), std::string(resolved.status().message())));
  } else if (resolved->port() == 0) {
    diag_.Add(LocateValue(f, diag_), fmt::format("{}port must not be 0", f.Prefix()));
  } else {
    backend->address = *resolved;
  }
}

void Loader::ReadBackendDns(const Field& f, BackendConfig* backend) {
  std::optional<std::string> s = ReadString(f, &diag_);
  if (!s) return;
  // Kept as written even when wrong, so that it cannot look like a duplicate of a valid one.
  backend->dns_text = *s;
  std::string host;
  uint16_t port = 0;
  if (absl::Status st = net::SplitHostPort(*s, &host, &port); !st.ok()) {
    diag_.Add(LocateValue(f, diag_), fmt::format("{}{}", f.Prefix(), std::string(st.message())));
  } else if (port == 0) {
    diag_.Add(LocateValue(f, diag_), fmt::format("{}port must not be 0", f.Prefix()));
  } else {
    backend->dns_host = std::move(host);
    backend->dns_port = port;
  }
}

// Reads the whole file; the message is the one LoadConfigFile reports.
absl::StatusOr<std::string> ReadFile(const std::string& path) {
  auto cannot_read = [&](int error) {
    return absl::InvalidArgumentError(
        fmt::format("{}: cannot read: {}", path, std::strerror(error)));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read(errno);
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int error = errno;
      ::close(fd);
      return cannot_read(error);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

}  // namespace

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  return LoadConfigString(*text, path);
}

absl::StatusOr<Config> LoadConfigString(std::string_view yaml, const std::string& file) {
  return Loader(file).Load(yaml);
}

}  // namespace outrigger::config
