// Model → YAML text. Written by hand rather than through yaml-cpp's emitter so that the
// comments (where nginx and Outrigger differ) sit next to the keys they explain. Every
// string scalar is double-quoted: hosts like `*.example.com` would otherwise be aliases.
#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/translate.h"
#include "proxy/import_nginx/values.h"

namespace outrigger::import_nginx {
namespace {

void Timeouts(std::string& out, const std::string& indent,
              std::initializer_list<std::pair<const char*, std::optional<int64_t>>> items) {
  std::string body;
  for (const auto& [key, ms] : items) {
    if (!ms) continue;
    Append(&body, body.empty() ? "" : ", ", key, ": ", FormatDuration(*ms));
  }
  if (!body.empty()) Append(&out, indent, "timeouts: { ", body, " }\n");
}

// `text` as comment lines of at most ~96 columns.
void Comment(std::string& out, const std::string& indent, std::string_view raw) {
  // A comment ends at a line break: one inside nginx text (a quoted location) would let the
  // rest be read as YAML.
  std::string flat(raw);
  for (char& c : flat) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  std::string_view text = flat;
  std::string line;
  size_t start = 0;
  while (start < text.size()) {
    size_t space = text.find(' ', start);
    std::string_view word =
        text.substr(start, space == std::string_view::npos ? text.npos : space - start);
    if (!line.empty() && indent.size() + 2 + line.size() + 1 + word.size() > 96) {
      Append(&out, indent, "# ", line, "\n");
      line.clear();
    }
    Append(&line, line.empty() ? "" : " ", word);
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  if (!line.empty()) Append(&out, indent, "# ", line, "\n");
}

void ListenerTlsYaml(std::string& out, const ListenerTls& tls) {
  Append(&out, "    tls:\n      certificates:\n");
  for (const Certificate& c : tls.certificates) {
    Append(&out, "        - { cert: ", Quote(c.cert), ", key: ", Quote(c.key), " }\n");
  }
  if (!tls.min_version.empty()) Append(&out, "      min_version: ", Quote(tls.min_version), "\n");
  if (!tls.client_mode.empty()) {
    Append(&out, "      client_auth: { ca: ", Quote(tls.client_ca), ", mode: ", tls.client_mode,
           " }\n");
  }
  if (tls.h2) Append(&out, "      alpn: [h2, http/1.1]\n");
}

void PoolTlsYaml(std::string& out, const PoolTls& tls) {
  if (!tls.verify) {
    Comment(out, "    ",
            "nginx does not verify a backend's certificate unless `proxy_ssl_verify on`; "
            "Outrigger does by default. Kept off as nginx had it: set `verify: true` (and `ca:` "
            "if they are not signed by a public CA).");
  }
  Append(&out, "    tls:\n      verify: ", tls.verify ? "true" : "false", "\n");
  if (!tls.ca.empty()) Append(&out, "      ca: ", Quote(tls.ca), "\n");
  if (!tls.server_name.empty()) Append(&out, "      server_name: ", Quote(tls.server_name), "\n");
  if (!tls.cert.empty()) Append(&out, "      cert: ", Quote(tls.cert), "\n");
  if (!tls.key.empty()) Append(&out, "      key: ", Quote(tls.key), "\n");
}

}  // namespace

std::string EmitYaml(const Model& m, std::string_view source) {
  std::string out = Cat(
      "# Translated from ", source, " by `outrigger import-nginx`.\n",
      "# Every nginx directive not carried over was reported on stderr as FILE:LINE.\n",
      "# Unlike nginx, Outrigger always adds X-Forwarded-For, X-Forwarded-Proto and X-Real-IP,\n",
      "# keeps the client's Host, retries idempotent requests on another backend, and answers\n",
      "# a path no route covers with 404. Check the result with: outrigger --check -c FILE\n\n");
  Append(&out, "workers: ", m.workers, "\n");
  if (!m.resolver.empty()) Append(&out, "resolver: ", m.resolver, "\n");
  Append(&out, "admin:\n  listen: 127.0.0.1:9901\n\nlisteners:\n");
  if (m.listeners.empty()) Append(&out, "  {}\n");
  for (const Listener& l : m.listeners) {
    Append(&out, "  ", Quote(l.name), ":\n    listen: ", Quote(l.listen), "\n");
    Timeouts(out, "    ", {{"header", l.header_ms}, {"idle", l.idle_ms}});
    if (l.tls) ListenerTlsYaml(out, *l.tls);
    if (l.h2c) {
      Append(&out,
             "    # nginx: http2 on a plain address (nginx 1.22 speaks only HTTP/2 there).\n"
             "    # Outrigger serves HTTP/2 to clients with prior knowledge, and HTTP/1.1.\n"
             "    h2c: true\n");
    }
    if (!l.access_log.empty()) {
      Append(&out, "    access_log: { format: combined, path: ", Quote(l.access_log), " }\n");
    }
    if (l.redirect_https) {
      Append(&out,
             "    # nginx: return 301 https://$host$request_uri (port 443). Outrigger answers 308\n"
             "    # to methods other than GET and HEAD, so that a POST stays a POST.\n"
             "    redirect_https: { port: 443 }\n");
    }
    if (l.routes.empty()) continue;
    Append(&out, "    routes:\n");
    for (const Route& r : l.routes) {
      if (!r.comment.empty()) Comment(out, "      ", r.comment);
      Append(&out, "      - path_prefix: ", Quote(r.path_prefix), "\n");
      if (!r.host.empty()) Append(&out, "        host: ", Quote(r.host), "\n");
      if (!r.pool.empty()) {
        Append(&out, "        pool: ", Quote(r.pool), "\n");
        // nginx passes no Upgrade without the WebSocket idiom, so such a route refuses one.
        Append(&out, "        upgrades: ", r.websocket ? "[websocket]" : "[]", "\n");
        Append(&out, "        max_body: ", FormatByteSize(r.max_body), "\n");
      }
      if (!r.plugins.empty()) Append(&out, "        plugins:\n");
      for (const std::string& p : r.plugins) Append(&out, "          - ", p, "\n");
    }
  }
  Append(&out, "\npools:\n");
  bool any_pool = false;
  for (const Pool& p : m.pools) any_pool |= !p.backends.empty();
  if (!any_pool) Append(&out, "  {}\n");
  for (const Pool& p : m.pools) {
    if (p.backends.empty()) continue;  // reported where a route used it
    for (const std::string& c : p.comments) Comment(out, "  ", c);
    Append(&out, "  ", Quote(p.name), ":\n    balance: ", p.balance, "\n");
    if (!p.hash_on.empty()) Append(&out, "    hash_on: ", Quote(p.hash_on), "\n");
    if (p.h2) Append(&out, "    protocol: h2\n");
    if (p.keepalive) Append(&out, "    keepalive: ", *p.keepalive, "\n");
    if (p.tls) PoolTlsYaml(out, *p.tls);
    Timeouts(out, "    ",
             {{"connect", p.connect_ms},
              {"read", p.read_ms},
              {"idle", p.idle_ms},
              {"tunnel", p.tunnel_ms}});
    if (p.consecutive_failures || p.open_for_ms) {
      Append(&out,
             "    # nginx max_fails counts failures within fail_timeout; Outrigger's "
             "circuit counts them in a row.\n    circuit_breaker:\n");
      if (p.consecutive_failures) {
        Append(&out, "      consecutive_failures: ", *p.consecutive_failures, "\n");
      }
      if (p.open_for_ms) Append(&out, "      open_for: ", FormatDuration(*p.open_for_ms), "\n");
    }
    Append(&out, "    backends:\n");
    for (const Backend& b : p.backends) {
      Append(&out, "      - ", b.dns ? "dns: " : "address: ", Quote(b.target), "\n");
      if (b.dns && p.resolve_every_ms) {
        Append(&out, "        resolve_every: ", FormatDuration(*p.resolve_every_ms), "\n");
      }
      if (b.weight != 1) Append(&out, "        weight: ", b.weight, "\n");
    }
  }
  return out;
}

}  // namespace outrigger::import_nginx
