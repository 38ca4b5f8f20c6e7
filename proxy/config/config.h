// The validated configuration: plain structs, no yaml-cpp types. Built by LoadConfig* from
// YAML (config/loader.h) and never modified afterwards; a reload builds a new one.
//
// Every field documents its YAML key, default and meaning; README.md holds the user-facing
// reference and must change with this file.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "proxy/config/plugin_config.h"
#include "proxy/config/tls_config.h"
#include "proxy/net/address.h"
#include "proxy/net/cidr.h"

namespace outrigger::config {

using Duration = std::chrono::milliseconds;

// Where a value came from, for messages that point the user at the right line.
struct SourceMark {
  std::string file;
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

// One entry of a pool's `backends`: either one fixed `address`, or a `dns` name whose every
// A/AAAA record is a backend (exactly one of the two).
struct BackendConfig {
  std::string address_text;    // `address`: "ip:port" or "host:port" as written
  net::SocketAddress address;  // resolved once at load; invalid for a `dns` entry
  // `dns`: "host:port" as written; every A and AAAA record of host, with port, becomes a
  // backend, re-resolved every `resolve_every` without a reload (upstream/dns_discovery.h).
  std::string dns_text;
  std::string dns_host;
  uint16_t dns_port = 0;
  Duration resolve_every{5000};  // `resolve_every`: only with `dns`; default 5s, at least 1s
  uint32_t weight = 1;  // `weight`: 1..10000, default 1; honoured by every policy (with `dns`:
                        // the weight of each record)
  // `name`: optional metrics label; default the address "ip:port". With `dns`, each record's
  // label is "NAME/ip:port" (a label names one backend).
  std::string name;
  SourceMark mark;

  bool is_dns() const { return !dns_text.empty(); }
};

struct PoolTimeouts {
  Duration connect{5000};  // `connect`: TCP connect to a backend; failure → 502 (5s)
  Duration read{60000};    // `read`: max silence while waiting for/reading a response → 504 (60s)
  Duration idle{60000};    // `idle`: an idle pooled upstream connection is closed after (60s)
  Duration tunnel{3600000};  // `tunnel`: idle timeout of an upgraded (WebSocket) tunnel (1h)
};

// `hash_on` of an ip_hash pool: what identifies a client for stickiness.
struct HashOn {
  enum class Kind { kClientIp, kHeader, kCookie };
  Kind kind = Kind::kClientIp;  // `client_ip` (default), `header:NAME`, `cookie:NAME`
  std::string name;             // header or cookie name
};

// `circuit_breaker` of a pool: passive failure detection per backend (design §4). Connect
// errors, timeouts, resets and 502/503/504 answers count as failures.
struct CircuitBreakerConfig {
  uint32_t consecutive_failures = 5;  // `consecutive_failures`: in a row, opens it (1..1000)
  Duration open_for{30000};  // `open_for`: open time before a half-open trial (30s); a failed
                             // trial doubles it, up to 8× (at most 5 min)
  // Caps on what one backend carries from every worker together (Envoy's circuit breaker
  // thresholds). A backend at a cap is skipped; when none is left the answer is 503.
  uint32_t max_connections = 1024;  // `max_connections`: upstream connections, idle included
  uint32_t max_pending = 128;    // `max_pending`: requests waiting for a connection (0: none wait)
  uint32_t max_requests = 1024;  // `max_requests`: requests in flight, tunnels included
};

// A range of accepted probe statuses, inclusive.
struct StatusRange {
  int low = 200;
  int high = 299;
  bool operator==(const StatusRange&) const = default;
};

// One active probe kind of a pool's `health` (design §4): an HTTP GET from the control
// thread to every backend of the pool.
// `type` of a probe: an HTTP/1.1 GET (default), or the gRPC health checking protocol
// (grpc.health.v1.Health/Check over HTTP/2, for `protocol: h2` pools only).
enum class ProbeType : uint8_t { kHttp, kGrpc };

struct ProbeConfig {
  ProbeType type = ProbeType::kHttp;  // `type`: http (default) | grpc
  // `service` (grpc only): the HealthCheckRequest's service; "" asks about the whole server.
  std::string service;
  std::string path;          // `path`: request target; default /health/live or /health/ready
  std::string host;          // `host`: Host header; default the backend's "ip:port"
  Duration interval{10000};  // `interval`: between probes, ±10% jitter (live 10s, ready 5s)
  Duration timeout{2000};    // `timeout`: connect + answer, else the probe failed (2s)
  uint32_t fall = 3;  // `fall`: failures in a row that flip a healthy backend (live 3, ready 1)
  uint32_t rise = 2;  // `rise`: successes in a row that flip it back (2)
  // `expect_status`: statuses that pass: "2xx" (default), "200", "200-399", or a list of them.
  std::vector<StatusRange> expect_status{StatusRange{}};
  SourceMark mark;

  bool operator==(const ProbeConfig& o) const {
    return type == o.type && service == o.service && path == o.path && host == o.host &&
           interval == o.interval && timeout == o.timeout && fall == o.fall && rise == o.rise &&
           expect_status == o.expect_status;
  }
};

// `health` of a pool. A probe kind that is absent is not run: a backend is then taken as
// live (or ready) until passive failures say otherwise.
struct HealthConfig {
  // `live`: a backend failing it is dead: no new requests, idle connections closed.
  std::optional<ProbeConfig> live;
  // `ready`: a backend failing it gets no new requests; in-flight ones finish. A new backend
  // is unready until its first successful probe.
  std::optional<ProbeConfig> ready;
};

// `retries` of a pool: a failed attempt is sent again, to another backend, when that is safe
// (nothing sent yet, or an idempotent method with its whole request still at hand).
struct RetryConfig {
  uint32_t attempts = 2;  // `attempts`: retries after the first try (0..10; 0 disables)
  // `budget_percent`: retries stay under this share of the pool's requests over the last
  // 10 s (plus 10 per second per worker, so a quiet pool can still retry).
  uint32_t budget_percent = 20;
};

// `scaling` of a pool: what the scaling signals of design §6 (outrigger_pool_desired_backends,
// /scaling) aim at. Exactly one target kind is set; without the block the inflight target
// of 10 applies. The windows are Knative's autoscaler windows.
struct ScalingConfig {
  enum class Target : uint8_t { kInflight, kRps };
  Target target_kind = Target::kInflight;  // which of the two keys below was given
  // `target_inflight_per_backend` (default 10) or `target_rps_per_backend`: the concurrent
  // requests, or requests per second, one backend should carry (1..1000000).
  uint32_t target = 10;
  uint32_t min_backends = 1;    // `min_backends`: floor of recommended_backends (0..100000, 1)
  uint32_t max_backends = 100;  // `max_backends`: ceiling of it (>= min_backends, 100)
  // `stable_window`: the window C̄ is averaged over for desired_backends, the time panic mode
  // lasts without a new burst, and the look-back of recommended_backends (60s; 2s..1h).
  Duration stable_window{60000};
  // `panic_window`: the short window that detects a burst (6s; 1s..stable_window).
  Duration panic_window{6000};
  SourceMark mark;
};

// `protocol` of a pool: how requests go to its backends. kH2 multiplexes them as streams on a
// few connections per worker and backend (h2c on a plain pool, ALPN h2 on a TLS one), so
// gRPC calls are balanced per call.
enum class PoolProtocol : uint8_t { kHttp1, kH2 };

// PoolConfig::keepalive for `keepalive: auto`.
inline constexpr uint32_t kKeepaliveAuto = std::numeric_limits<uint32_t>::max();

struct PoolConfig {
  std::string name;
  PoolProtocol protocol = PoolProtocol::kHttp1;  // `protocol`: http1 (default) | h2
  std::string balance = "round_robin";           // `balance`: a policy name from balance/registry.h
  HashOn hash_on;                                // `hash_on`: only meaningful with ip_hash
  Duration slow_start{0};  // `slow_start`: ramp a new/recovered backend's weight over (0: off)
  std::vector<BackendConfig> backends;  // `backends`: at least one
  // `keepalive`: idle upstream connections kept per backend per worker, at most; `auto`
  // (kKeepaliveAuto): as many as recent traffic needed (upstream/keepalive_sizer.h).
  uint32_t keepalive = kKeepaliveAuto;
  PoolTimeouts timeouts;                 // `timeouts`
  CircuitBreakerConfig circuit_breaker;  // `circuit_breaker`
  HealthConfig health;                   // `health`
  RetryConfig retries;                   // `retries`
  // `panic_threshold`: percent (0..100); when fewer of the pool's backends than this are
  // usable, balance over all of them rather than crush the few left (Envoy; 50, 0: never).
  uint32_t panic_threshold = 50;
  ScalingConfig scaling;  // `scaling`
  // `tls`: TLS to the backends (config/tls_config.h); absent: plain HTTP.
  std::optional<PoolTlsConfig> tls;
  SourceMark mark;
};

struct RouteConfig {
  std::string path_prefix = "/";    // `path_prefix`: must start with '/'; longest prefix wins
  std::optional<std::string> host;  // `host`: exact Host match (case-insensitive, port ignored)
  std::string pool;                 // `pool`: name of a pool defined under `pools`
  // `upgrades`: protocols a client may switch to on this route (Upgrade header values,
  // case-insensitive); default [websocket]. Any other upgrade request is refused with 400.
  std::vector<std::string> upgrades{"websocket"};
  // `max_body`: the largest request body this route takes, in bytes or with a unit ("1MiB",
  // "512KiB"); default 10MiB, 0 = no limit. A Content-Length over it, or a chunked body that
  // grows past it, is answered 413 and the connection closed.
  uint64_t max_body = uint64_t{10} << 20;
  // `plugins`: run in order on each request, in reverse on its response (plugin_config.h).
  // With one that always answers (respond, redirect) `pool` may be left out: empty then.
  std::vector<PluginConfig> plugins;
  SourceMark mark;
};

struct ListenerTimeouts {
  Duration header{10000};  // `header`: a client must send a whole request head within (10s) → 408
  Duration idle{60000};    // `idle`: a keep-alive client connection with no request is closed (60s)
};

// `normalize` (per listener): request paths are normalized before routing, and forwarded as
// normalized (http/path_normalize.h says how).
enum class EscapedSlashes : uint8_t { kKeep, kReject, kDecode };
struct NormalizeConfig {
  bool merge_slashes = true;                               // `merge_slashes`: "//" → "/"
  EscapedSlashes escaped_slashes = EscapedSlashes::kKeep;  // `escaped_slashes`: keep|reject|decode
};

enum class ForwardedForMode : uint8_t { kReplace, kAppend };

// `access_log` of a listener: one line per request (README "Access log").
struct AccessLogConfig {
  enum class Format : uint8_t { kOff, kJson, kCombined };
  Format format = Format::kOff;  // `format`: json | combined | off (default off)
  std::string path = "stdout";   // `path`: stdout | stderr | a file (appended to)
  // `sample`: the share (0–1) of successful requests logged; every error (status >= 400 or
  // a termination other than ok) and every request slower than `slow` is logged regardless.
  double sample = 1.0;
  Duration slow{1000};  // `slow` (1s)
};

// `request_id` of a listener: every request gets an id (README "Request ids").
struct RequestIdConfig {
  bool enabled = true;                  // `enabled` (true)
  std::string header = "X-Request-Id";  // `header`
  bool trust_incoming = true;           // `trust_incoming`: keep a valid id the client sent
};

struct ListenerConfig {
  std::string name;         // the key under `listeners`
  std::string listen_text;  // `listen`: "ip:port"
  net::SocketAddress listen;
  std::vector<RouteConfig> routes;  // `routes`: at least one
  ListenerTimeouts timeouts;        // `timeouts`
  // `max_connections`: client connections this listener holds open at once (1–1000000,
  // default 10000), split evenly across workers. When they are all taken the listener stops
  // accepting until one closes; new clients wait in the kernel's backlog (HAProxy's maxconn).
  uint32_t max_connections = 10000;
  // `trusted_proxies`: CIDRs ("10.0.0.0/8", "::1/128") whose X-Forwarded-For is believed: a
  // peer inside one is a balancer in front of us, so the client address is taken from the
  // rightmost X-Forwarded-For entry that is not itself trusted. Default: none.
  std::vector<net::Cidr> trusted_proxies;
  NormalizeConfig normalize;  // `normalize`
  // `forwarded_for`: `replace` (default): an X-Forwarded-For from a peer outside
  // trusted_proxies is dropped and the header holds the peer alone; `append`: the peer is
  // appended to whatever the client sent (nginx's $proxy_add_x_forwarded_for).
  ForwardedForMode forwarded_for = ForwardedForMode::kReplace;
  // `forwarded`: `off` (default) or `rfc7239`: also send an RFC 7239 Forwarded element
  // (for, host, proto) after any a trusted proxy sent.
  bool forwarded_rfc7239 = false;
  AccessLogConfig access_log;  // `access_log`
  RequestIdConfig request_id;  // `request_id`
  // `tls`: serve HTTPS on this listener (config/tls_config.h); absent: plain HTTP.
  std::optional<ListenerTlsConfig> tls;
  // `redirect_https: { port: N }` (plain listeners only; port 1–65535, default 443): a request
  // no route matches is answered 301 (GET, HEAD) or 308 with `Location: https://host[:N]/target`
  // (":N" left out for 443). Routes then become optional: the ones written (an ACME
  // http-01 challenge path, say) are still served.
  std::optional<uint16_t> redirect_https_port;
  // `h2c: true` (plain listeners only; default false): a client that opens with the HTTP/2
  // preface (prior knowledge, RFC 9113 §3.3) is served HTTP/2 in cleartext; HTTP/1.1 is still
  // served on the same port. A TLS listener offers HTTP/2 through `tls.alpn` instead.
  bool h2c = false;
  SourceMark mark;
};

struct AdminConfig {
  std::string listen_text = "127.0.0.1:9901";  // `admin.listen`
  net::SocketAddress listen;
  // `admin.token_file`: the file holding the bearer token that admin mutations need (read at
  // start-up and at each reload); empty: none.
  std::string token_file;
};

struct DrainConfig {
  // `drain.delay`: after SIGTERM, /health/ready answers 503 at once but traffic is still
  // served this long (5s), so an orchestrator can take the replica out of rotation before
  // its listeners close. 0s closes them at once.
  Duration delay{5000};
  Duration timeout{30000};  // `drain.timeout`: then, how long in-flight requests get (30s)
};

struct Config {
  std::string file;  // the path it was loaded from
  // `workers`: number of worker threads, or `auto` (0 here) = CPUs this process may use.
  uint32_t workers = 0;
  // `resolver`: "ip:port" of the DNS server for `dns` backends; default (nullopt): the
  // nameservers of /etc/resolv.conf.
  std::optional<net::SocketAddress> resolver;
  std::string resolver_text;
  AdminConfig admin;
  DrainConfig drain;
  std::vector<ListenerConfig> listeners;  // `listeners`: a map name → listener, in file order
  std::vector<PoolConfig> pools;          // `pools`: a map name → pool, in file order

  const PoolConfig* FindPool(std::string_view name) const;
};

}  // namespace outrigger::config
