// The validated configuration: plain structs, no yaml-cpp types. Built by LoadConfig* from
// YAML (config/loader.h) and never modified afterwards; a reload builds a new one.
//
// Every field documents its YAML key, default and meaning; README.md holds the user-facing
// reference and must change with this file.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

struct BackendConfig {
  std::string address_text;    // `address`: "ip:port" or "host:port" as written
  net::SocketAddress address;  // resolved once at load
  uint32_t weight = 1;         // `weight`: 1..10000, default 1; honoured by every policy
  std::string name;            // `name`: optional metrics label; default the address "ip:port"
  SourceMark mark;
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
};

struct PoolConfig {
  std::string name;
  std::string balance = "round_robin";  // `balance`: a policy name from balance/registry.h
  HashOn hash_on;                       // `hash_on`: only meaningful with ip_hash
  Duration slow_start{0};  // `slow_start`: ramp a new/recovered backend's weight over (0: off)
  std::vector<BackendConfig> backends;  // `backends`: at least one
  uint32_t keepalive = 32;  // `keepalive`: idle upstream connections kept per backend per worker
  PoolTimeouts timeouts;    // `timeouts`
  CircuitBreakerConfig circuit_breaker;  // `circuit_breaker`
  SourceMark mark;
};

struct RouteConfig {
  std::string path_prefix = "/";    // `path_prefix`: must start with '/'; longest prefix wins
  std::optional<std::string> host;  // `host`: exact Host match (case-insensitive, port ignored)
  std::string pool;                 // `pool`: name of a pool defined under `pools`
  // `upgrades`: protocols a client may switch to on this route (Upgrade header values,
  // case-insensitive); default [websocket]. Any other upgrade request is refused with 400.
  std::vector<std::string> upgrades{"websocket"};
  SourceMark mark;
};

struct ListenerTimeouts {
  Duration header{10000};  // `header`: a client must send a whole request head within (10s) → 408
  Duration idle{60000};    // `idle`: a keep-alive client connection with no request is closed (60s)
};

struct ListenerConfig {
  std::string name;         // the key under `listeners`
  std::string listen_text;  // `listen`: "ip:port"
  net::SocketAddress listen;
  std::vector<RouteConfig> routes;  // `routes`: at least one
  ListenerTimeouts timeouts;        // `timeouts`
  // `trusted_proxies`: CIDRs ("10.0.0.0/8", "::1/128") whose X-Forwarded-For is believed: a
  // peer inside one is a balancer in front of us, so the client address is taken from the
  // rightmost X-Forwarded-For entry that is not itself trusted. Default: none.
  std::vector<net::Cidr> trusted_proxies;
  SourceMark mark;
};

struct AdminConfig {
  std::string listen_text = "127.0.0.1:9901";  // `admin.listen`
  net::SocketAddress listen;
};

struct DrainConfig {
  Duration timeout{30000};  // `drain.timeout`: how long in-flight requests get on SIGTERM (30s)
};

struct Config {
  std::string file;  // the path it was loaded from
  // `workers`: number of worker threads, or `auto` (0 here) = CPUs this process may use.
  uint32_t workers = 0;
  AdminConfig admin;
  DrainConfig drain;
  std::vector<ListenerConfig> listeners;  // `listeners`: a map name → listener, in file order
  std::vector<PoolConfig> pools;          // `pools`: a map name → pool, in file order

  const PoolConfig* FindPool(std::string_view name) const;
};

}  // namespace outrigger::config
