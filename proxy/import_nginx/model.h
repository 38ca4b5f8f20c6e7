// What the translator builds from an nginx config before it is written out as YAML: the
// subset of Outrigger's config (config/config.h) that nginx directives map to, plus the
// notes for everything that did not map.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace outrigger::import_nginx {

// One thing the translation could not carry over (or carried over only approximately),
// printed as "FILE:LINE: message".
struct Note {
  std::string file;
  int line = 0;
  std::string message;
};

struct Backend {
  std::string target;  // ip:port or host:port
  bool dns = false;    // `server NAME resolve`: re-resolved (`dns:`) rather than once
  int weight = 1;
};

// A pool's `tls:` (proxy_pass https:// and the proxy_ssl_* in force there).
struct PoolTls {
  bool verify = false;  // nginx's proxy_ssl_verify is off by default; Outrigger's is on
  std::string ca, server_name, cert, key;
  bool operator==(const PoolTls&) const = default;
};

struct Pool {
  std::string name;
  std::string balance = "round_robin";
  std::string hash_on;  // with ip_hash
  std::optional<int> keepalive;
  std::optional<int64_t> connect_ms, read_ms, idle_ms, tunnel_ms;
  std::optional<int> consecutive_failures;
  std::optional<int64_t> open_for_ms;
  std::optional<int64_t> resolve_every_ms;
  std::vector<Backend> backends;
  std::optional<PoolTls> tls;
  bool h2 = false;                    // reached by grpc_pass: `protocol: h2`
  std::vector<std::string> comments;  // written above the pool: where semantics differ
};

struct Route {
  std::string host;  // empty: any host
  std::string path_prefix;
  std::string pool;                  // empty: its plugins answer (return)
  std::vector<std::string> plugins;  // `plugins:` items, each one line of flow-style YAML
  bool websocket = false;
  uint64_t max_body = 0;
  std::string comment;
};

struct Certificate {
  std::string cert, key;
};

// A listener's `tls:` (listen ... ssl and the ssl_* of the servers on that address).
struct ListenerTls {
  std::vector<Certificate> certificates;  // the default server's first
  std::string min_version;                // empty: Outrigger's default (1.2)
  std::string client_ca, client_mode;     // client_mode empty: no client_auth
  bool h2 = false;                        // `alpn: [h2, http/1.1]` (nginx's http2)
};

struct Listener {
  std::string name;
  std::string listen;
  std::optional<int64_t> idle_ms, header_ms;
  std::optional<ListenerTls> tls;
  bool h2c = false;  // a plain listener with nginx's http2: HTTP/2 by prior knowledge
  bool redirect_https = false;
  std::string access_log;  // a combined-format log to this path ("stdout", a file); empty: none
  std::vector<Route> routes;
};

struct Model {
  std::string workers = "auto";
  std::string resolver;
  std::vector<Listener> listeners;
  std::vector<Pool> pools;
  std::vector<Note> notes;
};

}  // namespace outrigger::import_nginx
