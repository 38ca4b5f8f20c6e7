// The http { server { location } } walk. nginx settings inherit downwards (a level that
// sets any proxy_set_header replaces all of its parent's), so each level works on a copy
// of its parent's Settings; a route takes the settings in force at its location, and the
// pool it uses takes the timeouts (the first location to set them wins, later differing
// ones are reported).
#include "proxy/import_nginx/translate.h"

#include <map>
#include <set>

#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/tls.h"
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
  std::vector<const Directive*> add_headers;  // add_header in force
  bool add_headers_set_here = false;
  std::optional<int64_t> idle_ms, header_ms;  // keepalive_timeout, client_header_timeout
  TlsSettings tls;
  const Directive* access_log = nullptr;  // the first of this level's, else the parent's
  bool access_log_set_here = false;
  const Directive* http2 = nullptr;  // `http2 on|off` in force (nginx 1.25.1); null: off
};

struct ListenCtx {
  std::string address;
  bool is_default = false;
  bool ssl = false;
  bool http2 = false;                    // `listen ... http2`: the whole address's, in nginx
  const Directive* ssl_on = nullptr;     // the server's `ssl on`
  const Directive* directive = nullptr;  // null: nginx's implicit `listen 80`
};

struct ServerCtx {
  std::vector<ListenCtx> listens;
  std::vector<std::string> hosts;             // empty: catch-all
  std::vector<Route> routes;                  // host left empty here
  const Directive* https_redirect = nullptr;  // `return 301 https://$host$request_uri`
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
    } else if (d.name == "add_header" &&
               (d.args.size() == 2 || (d.args.size() == 3 && d.args[2] == "always"))) {
      if (!s.add_headers_set_here) s.add_headers.clear();
      s.add_headers_set_here = true;
      s.add_headers.push_back(&d);
    } else if (d.name == "access_log" && !d.args.empty()) {
      if (s.access_log_set_here) {
        Untranslated(d, "Outrigger writes one access log per listener", model_.notes);
      } else {
        s.access_log = &d;
        s.access_log_set_here = true;
      }
    } else if (d.name == "http2" && d.args.size() == 1 &&
               (d.args[0] == "on" || d.args[0] == "off")) {
      s.http2 = &d;
    } else if (d.name == "proxy_http_version") {
      if (d.args.empty() || d.args[0] != "1.1") {
        Untranslated(d, "Outrigger speaks HTTP/1.1 to backends", model_.notes);
      }
    } else {
      return TlsSetting(d, s.tls, model_.notes);
    }
    return true;
  }

  // A level inherits its parent's TLS directives until it sets its own.
  static Settings Child(Settings s) {
    s.tls.certs_set_here = s.tls.keys_set_here = false;
    s.access_log_set_here = false;
    s.add_headers_set_here = false;
    return s;
  }

  // The listener's access log from the default server's `access_log` (Outrigger writes
  // nginx's `combined` format); what does not carry over is reported once.
  std::string AccessLog(const Directive* d) {
    if (d == nullptr || d->args[0] == "off") return "";
    const bool first = access_logs_noted_.insert(d).second;
    auto untranslated = [&](std::string_view why) {
      if (first) Untranslated(*d, why, model_.notes);
    };
    const std::string& path = d->args[0];
    if (StartsWith(path, "syslog:") || Contains(path, "$")) {
      untranslated("Outrigger logs to stdout, stderr or a file named without variables");
      return "";
    }
    if (first && d->args.size() > 1 && d->args[1] != "combined") {
      model_.notes.push_back(
          {d->file, d->line,
           Cat("access_log format `", d->args[1],
               "` not translated: Outrigger writes nginx's `combined` (or its own json)")});
    }
    if (first && d->args.size() > 2) {
      model_.notes.push_back(
          {d->file, d->line,
           Cat("access_log `",
               Join(std::vector<std::string>(d->args.begin() + 2, d->args.end()), " "),
               "` not translated: Outrigger batches its lines itself")});
    }
    if (path == "/dev/stdout") return "stdout";
    if (path == "/dev/stderr") return "stderr";
    if (first) NoteRelative(*d, model_.notes);
    return path;
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
    s = Child(std::move(s));
    ServerCtx ctx;
    bool reset = false;
    for (const Directive& d : server.children) {
      if (d.name == "location" || Setting(d, s, reset)) continue;
      if (d.name == "listen" && !d.args.empty()) {
        Listen(d, ctx);
      } else if (d.name == "server_name") {
        ServerNames(d, ctx);
      } else if (d.name == "return" && ctx.https_redirect == nullptr &&
                 IsHttpsRedirect(d, model_.notes)) {
        ctx.https_redirect = &d;
      } else {
        Untranslated(d, WhyUntranslated(d.name), model_.notes);
      }
    }
    ctx.settings = s;
    if (ctx.listens.empty()) {
      bool had_listen = false;
      for (const Directive& d : server.children) had_listen |= d.name == "listen";
      if (!had_listen && s.tls.ssl_on) {
        model_.notes.push_back({server.file, server.line,
                                "server not translated: `ssl on` with nginx's implicit "
                                "`listen 80`; write the listen with `ssl`"});
      } else if (!had_listen) {
        ctx.listens.push_back({"0.0.0.0:80"});  // nginx's default
      }
    }
    for (ListenCtx& l : ctx.listens) l.ssl_on = s.tls.ssl_on;
    for (const Directive& d : server.children) {
      if (d.name == "location" && d.has_block) Location(d, s, ctx);
    }
    // A server-level `return` answers before any location is chosen.
    if (ctx.https_redirect != nullptr) ctx.routes.clear();
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
    ListenCtx l{.address = *addr, .directive = &d};
    for (size_t i = 1; i < d.args.size(); ++i) {
      const std::string& a = d.args[i];
      if (a == "default_server" || a == "default") {
        l.is_default = true;
      } else if (a == "ssl") {
        l.ssl = true;
      } else if (a == "http2") {
        l.http2 = true;
      } else if (a == "quic" || a == "proxy_protocol") {
        Untranslated(d, Cat("`", a, "`: no Outrigger equivalent; this address is left out"),
                     model_.notes);
        return;
      } else {
        model_.notes.push_back(
            {d.file, d.line,
             Cat("listen option `", a, "` not translated: no Outrigger equivalent")});
      }
    }
    ctx.listens.push_back(l);
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
    s = Child(std::move(s));
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
    const Directive* ret = nullptr;
    for (const Directive& d : loc.children) {
      if (d.name == "access_log") {
        Untranslated(d, "Outrigger writes one access log per listener (the server's)",
                     model_.notes);
        continue;
      }
      if (d.name == "ssl" || StartsWith(d.name, "ssl_") || d.name == "http2") {
        Untranslated(d, "not allowed in a location (nginx refuses it there too)", model_.notes);
        continue;
      }
      if (d.name == "location" || Setting(d, s, reset)) continue;
      if ((d.name == "proxy_pass" || d.name == "grpc_pass") && d.args.size() == 1) {
        proxy_pass = &d;
      } else if (d.name == "return" && ret == nullptr && !d.args.empty()) {
        ret = &d;
      } else {
        Untranslated(d, WhyUntranslated(d.name), model_.notes);
      }
    }
    for (const Directive& d : loc.children) {
      if (d.name == "location" && d.has_block) Location(d, s, ctx);
    }
    if (ret != nullptr) {
      Return(*ret, prefix, exact, s, ctx);
      if (proxy_pass != nullptr) {
        Untranslated(*proxy_pass, "never reached: the location's `return` answers first",
                     model_.notes);
      }
      return;
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
    if (!PoolFor(*proxy_pass, prefix, s.tls.upstream, r)) return;
    r.websocket = Headers(s, *proxy_pass, r);
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

  // The pool a proxy_pass or grpc_pass names (an upstream, or a pool made for a literal
  // address), with `tls` (the proxy_ssl_* in force) for an https:// or grpcs:// one. A
  // grpc_pass pool speaks HTTP/2 (`protocol: h2`).
  bool PoolFor(const Directive& d, const std::string& prefix, const PoolTls& tls, Route& r) {
    std::string_view url = d.args[0];
    const bool grpc = d.name == "grpc_pass";
    bool https = false;
    if (Contains(url, "$")) {
      Untranslated(d, "Outrigger proxies to addresses without variables", model_.notes);
      return false;
    }
    if (grpc) {
      // nginx takes grpc:// and grpcs://, or an address alone (grpc://).
      https = StartsWith(url, "grpcs://");
      if (https || StartsWith(url, "grpc://")) url.remove_prefix(https ? 8 : 7);
    } else {
      https = StartsWith(url, "https://");
      if (!(https || StartsWith(url, "http://"))) {
        Untranslated(d, "Outrigger proxies to http:// and https:// addresses without variables",
                     model_.notes);
        return false;
      }
      url.remove_prefix(https ? 8 : 7);
    }
    size_t slash = url.find('/');
    std::string host(url.substr(0, slash));
    if (slash != std::string_view::npos && url.substr(slash) != prefix) {
      // nginx replaces the location's prefix with the URI part.
      r.plugins.push_back(Cat("{ rewrite: { replace_prefix: { from: ", Quote(prefix),
                              ", to: ", Quote(url.substr(slash)), " } } }"));
    }
    const bool is_upstream = upstreams_.count(host) != 0;
    if (!is_upstream) {
      // A literal https:// address without a port is on 443 (ServerAddress assumes 80).
      std::string literal = host;
      if (https && literal.substr(literal.rfind(']') + 1).find(':') == std::string::npos) {
        Append(&literal, ":443");
      }
      std::optional<std::string> target = ServerAddress(literal);
      if (!target) {
        Untranslated(d, "Outrigger connects to backends over TCP only", model_.notes);
        return false;
      }
      host = ReplaceAll(ReplaceAll(ReplaceAll(*target, ':', "-"), '[', ""), ']', "");
      while (upstreams_.count(host) != 0) Append(&host, "-address");  // an upstream's name
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
    PoolTls pool_tls = tls;
    if (https && is_upstream && pool_tls.verify && pool_tls.server_name.empty()) {
      pool_tls.server_name = host;  // nginx's proxy_ssl_name default: $proxy_host
    }
    if (!PoolScheme(d, model_.pools[pool_index_[host]], https, pool_tls)) return false;
    if (!PoolProtocol(d, model_.pools[pool_index_[host]], grpc)) return false;
    r.pool = host;
    return true;
  }

  // A pool speaks TLS or not, with one set of settings: the first proxy_pass to it decides.
  bool PoolScheme(const Directive& d, Pool& pool, bool https, const PoolTls& tls) {
    auto [it, first] = pool_https_.insert({pool.name, https});
    if (first) {
      if (https) pool.tls = tls;
      return true;
    }
    if (it->second != https) {
      Untranslated(
          d,
          Cat("pool ", pool.name, " is already reached over ", it->second ? "https://" : "http://",
              " and Outrigger speaks one of them per pool; this location is left out"),
          model_.notes);
      return false;
    }
    if (https && !(*pool.tls == tls)) {
      model_.notes.push_back({d.file, d.line,
                              Cat("the proxy_ssl_* settings here differ from another "
                                  "location's for pool ",
                                  pool.name, ": Outrigger sets them per pool, the first kept")});
    }
    return true;
  }

  // A pool speaks HTTP/1.1 (proxy_pass) or HTTP/2 (grpc_pass): the first location to reach it
  // decides.
  bool PoolProtocol(const Directive& d, Pool& pool, bool grpc) {
    auto [it, first] = pool_grpc_.insert({pool.name, grpc});
    if (first) {
      pool.h2 = grpc;
      return true;
    }
    if (it->second == grpc) return true;
    Untranslated(d,
                 Cat("pool ", pool.name, " is already reached by ",
                     it->second ? "grpc_pass (HTTP/2)" : "proxy_pass (HTTP/1.1)",
                     " and Outrigger speaks one protocol per pool; this location is left out"),
                 model_.notes);
    return false;
  }

  // Reads proxy_set_header and add_header in force into a headers plugin on `r`; true for
  // the WebSocket idiom (Upgrade and Connection).
  bool Headers(const Settings& s, const Directive& proxy_pass, Route& r) {
    bool upgrade = false, connection = false, host = false;
    std::vector<std::string> set, remove, add;
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
      } else if (IsCodecField(name)) {
        Untranslated(*h, "Outrigger writes framing and connection fields itself", model_.notes);
      } else if (v.empty()) {
        remove.push_back(Quote(h->args[0]));  // nginx sends no field with an empty value
      } else if (std::optional<std::string> t = Template(*h, v)) {
        host |= name == "host";
        set.push_back(Cat(Quote(h->args[0]), ": ", Quote(*t)));
      }
    }
    for (const Directive* h : s.add_headers) {
      if (IsCodecField(ToLower(h->args[0]))) {
        Untranslated(*h, "Outrigger writes framing and connection fields itself", model_.notes);
      } else if (std::optional<std::string> t = Template(*h, h->args[1])) {
        add.push_back(Cat(Quote(h->args[0]), ": ", Quote(*t)));
      }
    }
    if (!set.empty() || !remove.empty() || !add.empty()) {
      std::string request;
      if (!set.empty()) Append(&request, "set: { ", Join(set, ", "), " }");
      if (!remove.empty()) {
        Append(&request, request.empty() ? "" : ", ", "remove: [", Join(remove, ", "), "]");
      }
      std::string plugin = "{ headers: { ";
      if (!request.empty()) Append(&plugin, "request: { ", request, " }");
      if (!add.empty()) {
        Append(&plugin, request.empty() ? "" : ", ", "response: { add: { ", Join(add, ", "),
               " } }");
      }
      r.plugins.push_back(Cat(plugin, " } }"));
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

  static bool IsCodecField(const std::string& lower) {
    return lower == "content-length" || lower == "transfer-encoding" || lower == "connection" ||
           lower == "keep-alive" || lower == "proxy-connection" || lower == "te" ||
           lower == "trailer" || lower == "upgrade";
  }

  // `value` as a template, or nullopt with the directive reported.
  std::optional<std::string> Template(const Directive& d, std::string_view value) {
    std::string unknown;
    std::optional<std::string> t = NginxTemplate(value, &unknown);
    if (!t) {
      Untranslated(d, Cat("the variable ", unknown, " has no Outrigger equivalent"), model_.notes);
    }
    return t;
  }

  // A location's `return`: a route that answers with the redirect or respond plugin.
  void Return(const Directive& d, const std::string& prefix, bool exact, const Settings& s,
              ServerCtx& ctx) {
    const std::vector<std::string>& a = d.args;
    int code = 302;
    std::string_view text;
    const bool url_only =
        a.size() == 1 && (StartsWith(a[0], "http://") || StartsWith(a[0], "https://") ||
                          StartsWith(a[0], "$scheme"));
    if (url_only) {
      text = a[0];
    } else {
      std::optional<uint64_t> n = a.size() <= 2 ? ParseNginxSize(a[0]) : std::nullopt;
      if (!n || *n < 200 || *n > 599 || a[0].find_first_not_of("0123456789") != std::string::npos) {
        Untranslated(d, "Outrigger answers with a status from 200 to 599", model_.notes);
        return;
      }
      code = static_cast<int>(*n);
      if (code == 444) {
        Untranslated(d, "nginx's 444 closes the connection unanswered; Outrigger answers",
                     model_.notes);
        return;
      }
      if (a.size() == 2) text = a[1];
    }
    const bool redirect = code == 301 || code == 302 || code == 303 || code == 307 || code == 308;
    if (redirect && text.empty()) {
      Untranslated(d, "a redirect without a URL", model_.notes);
      return;
    }
    if ((code == 204 || code == 304) && !text.empty()) {
      Untranslated(d, Cat("a ", code, " has no body"), model_.notes);
      return;
    }
    std::optional<std::string> t = text.empty() ? std::string() : Template(d, text);
    if (!t) return;
    Route r;
    r.path_prefix = prefix;
    if (exact) {
      r.comment = Cat("nginx: location = ", prefix, " (exact); Outrigger matches it as a prefix");
    }
    if (redirect) {
      r.plugins.push_back(Cat("{ redirect: { to: ", Quote(*t), ", status: ", code, " } }"));
    } else {
      r.plugins.push_back(
          Cat("{ respond: { status: ", code, t->empty() ? "" : Cat(", body: ", Quote(*t)), " } }"));
    }
    // add_header in force applies to a return's answer too (with `always`, or its code is
    // one nginx adds to): kept as the route's response edits.
    std::vector<std::string> add;
    for (const Directive* h : s.add_headers) {
      if (std::optional<std::string> v = Template(*h, h->args[1])) {
        add.push_back(Cat(Quote(h->args[0]), ": ", Quote(*v)));
      }
    }
    if (!add.empty()) {
      r.plugins.insert(r.plugins.begin(),
                       Cat("{ headers: { response: { add: { ", Join(add, ", "), " } } } }"));
    }
    ctx.routes.push_back(std::move(r));
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

  // A server on an address, by the listen that put it there.
  struct OnAddress {
    const ServerCtx* server;
    const ListenCtx* listen;
  };

  void Listeners() {
    std::map<std::string, std::vector<OnAddress>> by_listen;
    std::vector<std::string> order;
    for (const ServerCtx& s : servers_) {
      for (const ListenCtx& l : s.listens) {
        if (by_listen.count(l.address) == 0) order.push_back(l.address);
        by_listen[l.address].push_back({&s, &l});
      }
    }
    std::set<std::string> names;
    for (const std::string& addr : order) {
      const std::vector<OnAddress>& servers = by_listen[addr];
      OnAddress def = servers.front();
      bool ssl = false;
      for (const OnAddress& s : servers) {
        if (s.listen->is_default) def = s;
        ssl |= s.listen->ssl;  // as in nginx, `ssl` on one listen makes the whole port TLS
      }
      // `ssl on` counts where the default server has it (nginx 1.22); elsewhere nginx ignores it.
      ssl |= def.listen->ssl_on != nullptr;
      for (const OnAddress& s : servers) {
        if (!ssl && s.listen->ssl_on != nullptr) {
          Untranslated(*s.listen->ssl_on,
                       "nginx ignores it: the default server of this address does not have it",
                       model_.notes);
        }
      }
      Listener l;
      if (ssl) {
        for (const OnAddress& s : servers) {
          if (s.server->https_redirect == nullptr) continue;
          Untranslated(*s.server->https_redirect, "a redirect to https:// from a TLS address",
                       model_.notes);
        }
        if (!ListenerTlsFor(servers, def, l)) continue;
      }
      const bool h2 = Http2For(servers, def);
      if (ssl) {
        l.tls->h2 = h2;
      } else {
        l.h2c = h2;
      }
      l.redirect_https = !ssl && RedirectsAll(servers);
      std::string port = addr.substr(addr.rfind(':') + 1);
      const char* scheme = ssl ? "https-" : "http-";
      l.name = Cat(scheme, port);
      for (int i = 2; names.count(l.name) != 0; ++i) l.name = Cat(scheme, port, "-", i);
      names.insert(l.name);
      l.listen = addr;
      l.idle_ms = def.server->settings.idle_ms;
      l.header_ms = def.server->settings.header_ms;
      l.access_log = AccessLog(def.server->settings.access_log);
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
      for (const OnAddress& s : servers) {
        if (servers.size() == 1) break;
        for (const std::string& h : s.server->hosts) add(*s.server, h);
      }
      add(*def.server, "");  // nginx's default server answers any other Host
      if (!l.routes.empty() || l.redirect_https) model_.listeners.push_back(std::move(l));
    }
  }

  // Whether the address serves HTTP/2: nginx's `listen ... http2` on any server there turns
  // it on for the whole address; `http2 on` is a server's, and Outrigger's ALPN and h2c are
  // the listener's, so the default server's setting decides (the servers that differ are
  // reported: nginx picks by SNI, or by the default server on a plain address).
  bool Http2For(const std::vector<OnAddress>& servers, const OnAddress& def) {
    bool address = false;
    for (const OnAddress& s : servers) address |= s.listen->http2;
    auto wants = [&](const OnAddress& s) {
      const Directive* d = s.server->settings.http2;
      return address || (d != nullptr && d->args[0] == "on");
    };
    const bool h2 = wants(def);
    for (const OnAddress& s : servers) {
      const Directive* at = s.server->settings.http2;
      if (at == nullptr) at = s.listen->directive;
      if (wants(s) == h2 || at == nullptr || !http2_noted_.insert(at).second) continue;
      model_.notes.push_back(
          {at->file, at->line,
           Cat("`http2` differs from the default server's on this address: Outrigger serves "
               "HTTP/2 per listener, here ",
               h2 ? "on" : "off", " as the default server has it")});
    }
    return h2;
  }

  // The listener's TLS: the default server's certificates first, then the other servers'
  // (Outrigger picks among them by SNI, as nginx picks the server). false: left out.
  bool ListenerTlsFor(const std::vector<OnAddress>& servers, const OnAddress& def, Listener& l) {
    const Directive* where = def.listen->directive;
    for (const OnAddress& s : servers) {
      if (where == nullptr && s.listen->ssl) where = s.listen->directive;
    }
    std::optional<ListenerTls> tls =
        ServerTls(def.server->settings.tls, *where, /*is_default=*/true, model_.notes);
    if (!tls) return false;
    std::set<std::string> certs;
    for (const Certificate& c : tls->certificates) certs.insert(c.cert);
    for (const OnAddress& s : servers) {
      if (s.server == def.server) continue;
      // nginx's implicit `listen 80` is the same socket as a `listen 80 ssl`.
      const Directive& at = s.listen->directive != nullptr ? *s.listen->directive : *where;
      std::optional<ListenerTls> other =
          ServerTls(s.server->settings.tls, at, /*is_default=*/false, model_.notes);
      if (!other) continue;
      for (const Certificate& c : other->certificates) {
        if (certs.insert(c.cert).second) tls->certificates.push_back(c);
      }
      if (!certs_noted_.count(&at) && tls->certificates.size() > 1) {
        certs_noted_.insert(&at);
        model_.notes.push_back({at.file, at.line,
                                "certificates of several servers on one TLS address: Outrigger "
                                "picks one by the names it holds (SAN), nginx by server_name; "
                                "they agree when each certificate names its own server's hosts "
                                "only"});
      }
      if (other->min_version != tls->min_version || other->client_ca != tls->client_ca ||
          other->client_mode != tls->client_mode) {
        model_.notes.push_back({at.file, at.line,
                                "ssl_protocols and ssl_verify_client differ from the default "
                                "server's on this address: Outrigger sets them per listener, "
                                "the default server's kept"});
      }
    }
    l.tls = std::move(tls);
    return true;
  }

  // Whether every server on a plain address redirects to https:// (redirect_https is the
  // whole listener's); the redirects that cannot be carried over are reported.
  bool RedirectsAll(const std::vector<OnAddress>& servers) {
    bool all = true;
    for (const OnAddress& s : servers) all &= s.server->https_redirect != nullptr;
    if (all) return true;
    for (const OnAddress& s : servers) {
      if (s.server->https_redirect == nullptr) continue;
      Untranslated(*s.server->https_redirect,
                   "Outrigger redirects a whole listener (redirect_https), and other servers "
                   "on this address do not redirect",
                   model_.notes);
    }
    return false;
  }

  Model model_;
  std::map<std::string, size_t> pool_index_;
  std::set<std::string> upstreams_;
  std::map<std::string, bool> pool_https_;  // pool → reached over https://
  std::map<std::string, bool> pool_grpc_;   // pool → reached by grpc_pass
  std::set<const Directive*> access_logs_noted_;
  std::set<const Directive*> certs_noted_;
  std::set<const Directive*> http2_noted_;
  std::vector<ServerCtx> servers_;
  std::optional<int64_t> resolve_every_ms_;
};

}  // namespace

Model Translate(const std::vector<Directive>& top) { return Translator().Run(top); }

}  // namespace outrigger::import_nginx
