// The http { server { location } } walk. nginx settings inherit downwards (a level that
// sets any proxy_set_header replaces all of its parent's), so each level works on a copy
// of its parent's Settings; a route takes the settings in force at its location, and the
// pool it uses takes the timeouts (the first location to set them wins, later differing
// ones are reported).
#include "proxy/import_nginx/translate.h"

#include <map>
#include <set>

#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/upstream.h"
#include "proxy/import_nginx/values.h"

namespace outrigger::import_nginx {
namespace {

constexpr uint64_t kNginxDefaultMaxBody = 1024 * 1024;  // client_max_body_size 1m
constexpr int64_t kNginxDefaultReadMs = 60'000;         // proxy_read_timeout 60s

struct Settings {
  std::optional<int64_t> connect_ms, read_ms;
  const Directive* connect_from = nullptr;
  const Directive* read_from = nullptr;
  uint64_t max_body = kNginxDefaultMaxBody;
  std::vector<const Directive*> headers;      // proxy_set_header in force
  std::optional<int64_t> idle_ms, header_ms;  // keepalive_timeout, client_header_timeout
};

struct ServerCtx {
  std::vector<std::pair<std::string, bool>> listens;  // address, default_server
  std::vector<std::string> hosts;                     // empty: catch-all
  std::vector<Route> routes;                          // host left empty here
  Settings settings;
};

class Translator {
 public:
  Model Run(const std::vector<Directive>& top) {
    for (const Directive& d : top) {
      if (d.name == "http" && d.has_block) {
        Http(d);
      } else if (d.name == "events") {
        // Only what is inside matters (an empty `events {}` drops nothing).
        for (const Directive& e : d.children) {
          Untranslated(e, "no Outrigger equivalent (see listeners.NAME.max_connections)",
                       model_.notes);
        }
      } else if (d.name == "worker_processes" && d.args.size() == 1) {
        model_.workers = d.args[0] == "auto" ? "auto" : d.args[0];
      } else {
        Untranslated(d, WhyUntranslated(d.name), model_.notes);
      }
    }
    Listeners();
    return std::move(model_);
  }

 private:
  // Settings shared by http, server and location; false when `d` is not one of them.
  bool Setting(const Directive& d, Settings& s, bool& headers_reset) {
    auto time = [&](std::optional<int64_t>& out, const Directive*& from) {
      std::optional<int64_t> ms = d.args.size() == 1 ? ParseNginxTime(d.args[0]) : std::nullopt;
      if (ms) {
        out = ms;
        from = &d;
      } else {
        Untranslated(d, "not a time nginx accepts", model_.notes);
      }
    };
    const Directive* unused = nullptr;
    if (d.name == "proxy_connect_timeout") {
      time(s.connect_ms, s.connect_from);
    } else if (d.name == "proxy_read_timeout") {
      time(s.read_ms, s.read_from);
    } else if (d.name == "keepalive_timeout") {
      time(s.idle_ms, unused);
    } else if (d.name == "client_header_timeout") {
      time(s.header_ms, unused);
    } else if (d.name == "client_max_body_size") {
      std::optional<uint64_t> n = d.args.size() == 1 ? ParseNginxSize(d.args[0]) : std::nullopt;
      if (n) {
        s.max_body = *n;
      } else {
        Untranslated(d, "not a size nginx accepts", model_.notes);
      }
    } else if (d.name == "proxy_set_header" && d.args.size() == 2) {
      if (!headers_reset) s.headers.clear();
      headers_reset = true;
      s.headers.push_back(&d);
    } else if (d.name == "proxy_http_version") {
      if (d.args.empty() || d.args[0] != "1.1") {
        Untranslated(d, "Outrigger speaks HTTP/1.1 to backends", model_.notes);
      }
    } else {
      return false;
    }
    return true;
  }

  void Http(const Directive& http) {
    for (const Directive& d : http.children) {
      if (d.name == "upstream" && d.has_block) {
        Pool pool = TranslateUpstream(d, model_.notes);
        pool_index_[pool.name] = model_.pools.size();
        upstreams_.insert(pool.name);
        model_.pools.push_back(std::move(pool));
      }
    }
    Settings s;
    bool reset = false;
    for (const Directive& d : http.children) {
      if (d.name == "upstream" || d.name == "server") continue;
      if (Setting(d, s, reset)) continue;
      if (d.name == "resolver" && !d.args.empty()) {
        Resolver(d);
      } else if (d.name == "map" && d.args.size() == 2 && d.args[0] == "$http_upgrade") {
        // The WebSocket idiom's $connection_upgrade: read where it is used.
      } else {
        Untranslated(d, WhyUntranslated(d.name), model_.notes);
      }
    }
    for (const Directive& d : http.children) {
      if (d.name == "server" && d.has_block) Server(d, s);
    }
    for (Pool& p : model_.pools) {
      if (resolve_every_ms_) p.resolve_every_ms = resolve_every_ms_;
    }
  }

  void Resolver(const Directive& d) {
    std::string first = d.args[0];
    if (first.find(':') == std::string::npos) Append(&first, ":53");
    std::optional<std::string> addr = ListenAddress(first);
    if (!addr || StartsWith(*addr, "0.0.0.0")) {
      Untranslated(d, "Outrigger's resolver is one numeric address", model_.notes);
      return;
    }
    model_.resolver = *addr;
    for (size_t i = 1; i < d.args.size(); ++i) {
      if (StartsWith(d.args[i], "valid=")) {
        resolve_every_ms_ = ParseNginxTime(d.args[i].substr(6));
      } else if (i == 1 || !Contains(d.args[i], "=")) {
        model_.notes.push_back(
            {d.file, d.line,
             Cat("resolver `", d.args[i], "` not translated: Outrigger asks one server")});
      } else {
        model_.notes.push_back(
            {d.file, d.line,
             Cat("resolver `", d.args[i], "` not translated: no Outrigger equivalent")});
      }
    }
  }

  void Server(const Directive& server, Settings s) {
    ServerCtx ctx;
    bool reset = false;
    for (const Directive& d : server.children) {
      if (d.name == "location" || Setting(d, s, reset)) continue;
      if (d.name == "listen" && !d.args.empty()) {
        Listen(d, ctx);
      } else if (d.name == "server_name") {
        ServerNames(d, ctx);
      } else {
        Untranslated(d, WhyUntranslated(d.name), model_.notes);
      }
    }
    ctx.settings = s;
    if (ctx.listens.empty()) {
      bool had_listen = false;
      for (const Directive& d : server.children) had_listen |= d.name == "listen";
      if (!had_listen) ctx.listens.push_back({"0.0.0.0:80", false});  // nginx's default
    }
    for (const Directive& d : server.children) {
      if (d.name == "location" && d.has_block) Location(d, s, ctx);
    }
    if (ctx.listens.empty()) {
      model_.notes.push_back({server.file, server.line,
                              "server not translated: none of its listen addresses could be"});
      return;
    }
    servers_.push_back(std::move(ctx));
  }

  void Listen(const Directive& d, ServerCtx& ctx) {
    std::optional<std::string> addr = ListenAddress(d.args[0]);
    if (!addr) {
      Untranslated(d, "Outrigger listens on numeric ip:port only", model_.notes);
      return;
    }
    bool is_default = false;
    for (size_t i = 1; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      if (a == "default_server" || a == "default") {
        is_default = true;
      } else if (a == "ssl" || a == "http2" || a == "quic" || a == "proxy_protocol") {
        Untranslated(
            d,
            Cat("`", a, "`: ",
                a == "proxy_protocol" ? "no Outrigger equivalent" : "TLS is not in Outrigger yet",
                "; this address is left out"),
            model_.notes);
        return;
      } else {
        model_.notes.push_back(
            {d.file, d.line,
             Cat("listen option `", a, "` not translated: no Outrigger equivalent")});
      }
    }
    ctx.listens.push_back({*addr, is_default});
  }

  void ServerNames(const Directive& d, ServerCtx& ctx) {
    for (const std::string& n : d.args) {
      if (n.empty() || n == "_") continue;  // catch-all names: the default server's job
      if (StartsWith(n, "~") || EndsWith(n, ".*")) {
        model_.notes.push_back({d.file, d.line,
                                Cat("server_name `", n,
                                    "` not translated: Outrigger matches exact names and leading "
                                    "wildcards only")});
      } else if (StartsWith(n, ".")) {
        ctx.hosts.push_back(n.substr(1));
        ctx.hosts.push_back(Cat("*", n));
      } else {
        ctx.hosts.push_back(ToLower(n));
      }
    }
  }

  void Location(const Directive& loc, Settings s, ServerCtx& ctx) {
    std::string prefix;
    bool exact = false;
    if (loc.args.size() == 1 && StartsWith(loc.args[0], "/")) {
      prefix = loc.args[0];
    } else if (loc.args.size() == 2 && (loc.args[0] == "=" || loc.args[0] == "^~") &&
               StartsWith(loc.args[1], "/")) {
      prefix = loc.args[1];
      exact = loc.args[0] == "=";
    } else {
      Untranslated(loc,
                   "Outrigger routes by path prefix only (regex and named locations are "
                   "left out with their whole block)",
                   model_.notes);
      return;
    }
    bool reset = false;
    const Directive* proxy_pass = nullptr;
    for (const Directive& d : loc.children) {
      if (d.name == "location" || Setting(d, s, reset)) continue;
      if (d.name == "proxy_pass" && d.args.size() == 1) {
        proxy_pass = &d;
      } else {
        Untranslated(d, WhyUntranslated(d.name), model_.notes);
      }
    }
    for (const Directive& d : loc.children) {
      if (d.name == "location" && d.has_block) Location(d, s, ctx);
    }
    if (proxy_pass == nullptr) {
      model_.notes.push_back(
          {loc.file, loc.line,
           Cat("location ", prefix,
               " not translated: it has no proxy_pass, and Outrigger only "
               "proxies (its requests go to a shorter prefix's route, or get 404)")});
      return;
    }
    Route r;
    r.path_prefix = prefix;
    r.max_body = s.max_body;
    if (exact) {
      r.comment = Cat("nginx: location = ", prefix, " (exact); Outrigger matches it as a prefix");
      model_.notes.push_back(
          {loc.file, loc.line,
           Cat("location = ", prefix, ": translated as a prefix (Outrigger has no exact match)")});
    }
    if (!PoolFor(*proxy_pass, prefix, r)) return;
    r.websocket = Headers(s, *proxy_pass);
    Pool& pool = model_.pools[pool_index_[r.pool]];
    Timeout(pool.connect_ms, s.connect_ms, s.connect_from, pool, "connect");
    if (r.websocket) {
      std::optional<int64_t> tunnel = s.read_ms ? s.read_ms : kNginxDefaultReadMs;
      Timeout(pool.tunnel_ms, tunnel, s.read_from, pool, "tunnel");
    } else {
      Timeout(pool.read_ms, s.read_ms, s.read_from, pool, "read");
    }
    ctx.routes.push_back(std::move(r));
  }

  // The pool a proxy_pass names (an upstream, or a pool made for a literal address).
  bool PoolFor(const Directive& d, const std::string& prefix, Route& r) {
    std::string_view url = d.args[0];
    if (!StartsWith(url, "http://") || Contains(url, "$")) {
      Untranslated(d,
                   StartsWith(url, "https://") ? "TLS to backends is not in Outrigger yet"
                                               : "Outrigger proxies to http:// "
                                                 "addresses without variables",
                   model_.notes);
      return false;
    }
    url.remove_prefix(7);
    size_t slash = url.find('/');
    std::string host(url.substr(0, slash));
    if (slash != std::string_view::npos && url.substr(slash) != prefix) {
      model_.notes.push_back({d.file, d.line,
                              Cat("proxy_pass URI part `", url.substr(slash),
                                  "` not translated (nginx replaces the location's `", prefix,
                                  "` with it): the rewrite plugin is not in Outrigger yet; the "
                                  "path is forwarded unchanged")});
    }
    if (upstreams_.count(host) == 0) {
      std::optional<std::string> target = ServerAddress(host);
      if (!target) {
        Untranslated(d, "Outrigger connects to backends over TCP only", model_.notes);
        return false;
      }
      host = ReplaceAll(ReplaceAll(ReplaceAll(*target, ':', "-"), '[', ""), ']', "");
      if (pool_index_.count(host) == 0) {
        Pool p;
        p.name = host;
        p.backends.push_back({*target, false, 1});
        pool_index_[host] = model_.pools.size();
        model_.pools.push_back(std::move(p));
      }
    }
    if (model_.pools[pool_index_[host]].backends.empty()) {
      Untranslated(d, "its upstream has no server Outrigger can use (all down, backup or unix:)",
                   model_.notes);
      return false;
    }
    r.pool = host;
    return true;
  }

  // Reads proxy_set_header in force; true for the WebSocket idiom (Upgrade and Connection).
  bool Headers(const Settings& s, const Directive& proxy_pass) {
    bool upgrade = false, connection = false, host = false;
    for (const Directive* h : s.headers) {
      const std::string name = ToLower(h->args[0]);
      const std::string& v = h->args[1];
      if (name == "host" && (v == "$host" || v == "$http_host")) {
        host = true;
      } else if ((name == "x-real-ip" && v == "$remote_addr") ||
                 (name == "x-forwarded-for" && v == "$proxy_add_x_forwarded_for") ||
                 (name == "x-forwarded-proto" && v == "$scheme") ||
                 (name == "connection" && v.empty())) {
        // What Outrigger does anyway (it adds these fields, and pools connections).
      } else if (name == "upgrade" && v == "$http_upgrade") {
        upgrade = true;
      } else if (name == "connection" &&
                 (EqualsIgnoreCase(v, "upgrade") || v == "$connection_upgrade")) {
        connection = true;
      } else {
        Untranslated(*h, WhyUntranslated(h->name), model_.notes);
      }
    }
    if (!host) {
      model_.notes.push_back({proxy_pass.file, proxy_pass.line,
                              "nginx sends the proxy_pass host as `Host` here; Outrigger "
                              "forwards the client's (`proxy_set_header Host $host;` in nginx "
                              "makes them agree)"});
    }
    if (upgrade != connection) {
      model_.notes.push_back({proxy_pass.file, proxy_pass.line,
                              "half of the WebSocket idiom (Upgrade and Connection headers): "
                              "the route refuses upgrades, as nginx would fail them"});
    }
    return upgrade && connection;
  }

  void Timeout(std::optional<int64_t>& slot, std::optional<int64_t> value, const Directive* from,
               Pool& pool, std::string_view what) {
    if (!value) return;
    if (!slot) {
      slot = value;
    } else if (*slot != *value && from != nullptr) {
      model_.notes.push_back(
          {from->file, from->line,
           Cat("`", from->name, " ", from->args[0], "` not translated for pool ", pool.name,
               ": Outrigger sets the ", what, " timeout per pool, kept ", FormatDuration(*slot))});
    }
  }

  void Listeners() {
    std::map<std::string, std::vector<std::pair<const ServerCtx*, bool>>> by_listen;
    std::vector<std::string> order;
    for (const ServerCtx& s : servers_) {
      for (const auto& [addr, is_default] : s.listens) {
        if (by_listen.count(addr) == 0) order.push_back(addr);
        by_listen[addr].push_back({&s, is_default});
      }
    }
    std::set<std::string> names;
    for (const std::string& addr : order) {
      const auto& servers = by_listen[addr];
      const ServerCtx* def = servers.front().first;
      for (const auto& [s, is_default] : servers) {
        if (is_default) def = s;
      }
      Listener l;
      std::string port = addr.substr(addr.rfind(':') + 1);
      l.name = Cat("http-", port);
      for (int i = 2; names.count(l.name) != 0; ++i) l.name = Cat("http-", port, "-", i);
      names.insert(l.name);
      l.listen = addr;
      l.idle_ms = def->settings.idle_ms;
      l.header_ms = def->settings.header_ms;
      std::set<std::pair<std::string, std::string>> seen;
      auto add = [&](const ServerCtx& s, const std::string& host) {
        for (Route r : s.routes) {
          if (!seen.insert({host, r.path_prefix}).second) continue;  // nginx ignores it too
          r.host = host;
          l.routes.push_back(std::move(r));
        }
      };
      // With one server on the address, nginx sends it every request whatever the Host:
      // its host-less routes alone say so.
      for (const auto& [s, is_default] : servers) {
        if (servers.size() == 1) break;
        for (const std::string& h : s->hosts) add(*s, h);
      }
      add(*def, "");  // nginx's default server answers any other Host
      if (!l.routes.empty()) model_.listeners.push_back(std::move(l));
    }
  }

  Model model_;
  std::map<std::string, size_t> pool_index_;
  std::set<std::string> upstreams_;
  std::vector<ServerCtx> servers_;
  std::optional<int64_t> resolve_every_ms_;
};

}  // namespace

Model Translate(const std::vector<Directive>& top) { return Translator().Run(top); }

}  // namespace outrigger::import_nginx
