#include "proxy/import_nginx/tls.h"

#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/upstream.h"

namespace outrigger::import_nginx {
namespace {

bool OneArg(const Directive& d) { return d.args.size() == 1 && !d.args[0].empty(); }

// ssl_certificate or ssl_certificate_key: a level's first one replaces the inherited list.
// A PEM written into the config itself (`data:`, nginx 1.15.10): Outrigger reads files.
bool Inline(const Directive& d, std::vector<Note>& notes) {
  if (!StartsWith(d.args[0], "data:")) return false;
  notes.push_back({d.file, d.line,
                   Cat("`", d.name,
                       " data:...` not translated: Outrigger reads certificates and keys from "
                       "files; write this one to a file")});
  return true;
}

void Collect(const Directive& d, std::vector<const Directive*>& list, bool& set_here,
             std::vector<Note>& notes) {
  if (OneArg(d) && Inline(d, notes)) return;
  if (!OneArg(d) || Contains(d.args[0], "$")) {
    Untranslated(d,
                 "Outrigger loads each certificate at start-up and picks one by SNI among "
                 "those listed (no variables)",
                 notes);
    return;
  }
  if (!set_here) list.clear();
  set_here = true;
  list.push_back(&d);
  NoteRelative(d, notes);
}

bool ListenerDirective(const Directive& d, TlsSettings& s, std::vector<Note>& notes) {
  const std::string& n = d.name;
  if (n == "ssl_certificate") {
    Collect(d, s.certs, s.certs_set_here, notes);
  } else if (n == "ssl_certificate_key") {
    Collect(d, s.keys, s.keys_set_here, notes);
  } else if (n == "ssl_protocols") {
    s.protocols = &d;
    bool has13 = false;
    for (const std::string& p : d.args) {
      has13 |= p == "TLSv1.3";
      if (p != "TLSv1.2" && p != "TLSv1.3") {
        notes.push_back(
            {d.file, d.line,
             Cat("ssl_protocols `", p, "` not translated: Outrigger speaks TLS 1.2 and 1.3 only")});
      }
    }
    if (!has13) {
      notes.push_back({d.file, d.line,
                       "ssl_protocols without TLSv1.3 not translated: Outrigger always offers "
                       "TLS 1.3 (it has a minimum version, no maximum)"});
    }
  } else if (n == "ssl_client_certificate" && OneArg(d)) {
    if (!Inline(d, notes)) {
      s.client_ca = &d;
      NoteRelative(d, notes);
    }
  } else if (n == "ssl_verify_client" && OneArg(d) &&
             (d.args[0] == "on" || d.args[0] == "optional" || d.args[0] == "off")) {
    s.verify_client = &d;
  } else if (n == "ssl_prefer_server_ciphers" && OneArg(d) && d.args[0] == "on") {
    // What Outrigger does (unless the client puts ChaCha20 first).
  } else if (n == "ssl_ciphers" || n == "ssl_prefer_server_ciphers" || n == "ssl_ecdh_curve" ||
             n == "ssl_dhparam" || n == "ssl_conf_command") {
    Untranslated(d,
                 "Outrigger offers Mozilla's intermediate TLS 1.2 suites and TLS 1.3's, in "
                 "the server's order (not configurable)",
                 notes);
  } else if (StartsWith(n, "ssl_session")) {
    Untranslated(d,
                 "Outrigger resumes sessions by tickets whose keys every worker shares and "
                 "rotates hourly (not configurable)",
                 notes);
  } else if (StartsWith(n, "ssl_stapling") || n == "ssl_trusted_certificate") {
    Untranslated(d, "Outrigger does no OCSP stapling", notes);
  } else if (n == "ssl" && OneArg(d) && (d.args[0] == "on" || d.args[0] == "off")) {
    s.ssl_on = d.args[0] == "on" ? &d : nullptr;
  } else if (StartsWith(n, "ssl_")) {
    Untranslated(d, "no Outrigger equivalent", notes);
  } else {
    return false;
  }
  return true;
}

bool UpstreamDirective(const Directive& d, PoolTls& tls, std::vector<Note>& notes) {
  const std::string& n = d.name;
  bool on_off = OneArg(d) && (d.args[0] == "on" || d.args[0] == "off");
  if (n == "proxy_ssl_verify" && on_off) {
    tls.verify = d.args[0] == "on";
  } else if (n == "proxy_ssl_trusted_certificate" && OneArg(d)) {
    if (!Inline(d, notes)) {
      tls.ca = d.args[0];
      NoteRelative(d, notes);
    }
  } else if (n == "proxy_ssl_name" && OneArg(d) && !Contains(d.args[0], "$")) {
    tls.server_name = d.args[0];
  } else if ((n == "proxy_ssl_certificate" || n == "proxy_ssl_certificate_key") && OneArg(d) &&
             !Contains(d.args[0], "$")) {
    if (!Inline(d, notes)) {
      (n == "proxy_ssl_certificate" ? tls.cert : tls.key) = d.args[0];
      NoteRelative(d, notes);
    }
  } else if (n == "proxy_ssl_server_name" && on_off && d.args[0] == "on") {
    // Outrigger always sends SNI: server_name, else the backend's DNS name.
  } else if (n == "proxy_ssl_session_reuse" && on_off && d.args[0] == "on") {
    // Outrigger resumes backend sessions too.
  } else if (StartsWith(n, "proxy_ssl")) {
    Untranslated(
        d,
        n == "proxy_ssl_server_name"
            ? "Outrigger always sends SNI to a TLS backend (server_name, else its DNS name)"
        : n == "proxy_ssl_name" ? "Outrigger's server_name is one name, no variables"
                                : "no Outrigger equivalent",
        notes);
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool TlsSetting(const Directive& d, TlsSettings& s, std::vector<Note>& notes) {
  return ListenerDirective(d, s, notes) || UpstreamDirective(d, s.upstream, notes);
}

std::optional<ListenerTls> ServerTls(const TlsSettings& s, const Directive& listen, bool is_default,
                                     std::vector<Note>& notes) {
  if (s.certs.empty() && !is_default) return std::nullopt;
  if (s.certs.empty()) {
    Untranslated(listen, "its server has no ssl_certificate; this address is left out", notes);
    return std::nullopt;
  }
  if (s.certs.size() != s.keys.size()) {
    notes.push_back({s.certs[0]->file, s.certs[0]->line,
                     Cat("ssl_certificate not translated: ", s.certs.size(), " certificate(s) but ",
                         s.keys.size(), " ssl_certificate_key; this address is left out")});
    return std::nullopt;
  }
  ListenerTls tls;
  for (size_t i = 0; i < s.certs.size(); ++i) {
    tls.certificates.push_back({s.certs[i]->args[0], s.keys[i]->args[0]});
  }
  if (s.protocols != nullptr) {
    bool has12 = false, has13 = false;
    for (const std::string& p : s.protocols->args) {
      has12 |= p == "TLSv1.2" || p == "TLSv1" || p == "TLSv1.1";
      has13 |= p == "TLSv1.3";
    }
    if (has13 && !has12) tls.min_version = "1.3";
  }
  if (s.verify_client != nullptr && s.verify_client->args[0] != "off") {
    if (s.client_ca == nullptr) {
      Untranslated(*s.verify_client, "it needs ssl_client_certificate (nginx does too)", notes);
    } else {
      tls.client_ca = s.client_ca->args[0];
      tls.client_mode = s.verify_client->args[0] == "on" ? "required" : "optional";
    }
  }
  return tls;
}

bool IsHttpsRedirect(const Directive& ret, std::vector<Note>& notes) {
  if (ret.args.size() != 2) return false;
  const std::string& code = ret.args[0];
  const std::string& url = ret.args[1];
  if (code != "301" && code != "302" && code != "303" && code != "307" && code != "308") {
    return false;
  }
  if (url != "https://$host$request_uri" && url != "https://$server_name$request_uri" &&
      url != "https://$http_host$request_uri") {
    return false;
  }
  if (code != "301") {
    notes.push_back({ret.file, ret.line,
                     Cat("return ", code,
                         ": translated as redirect_https, which answers 301 to GET and HEAD "
                         "and 308 to other methods")});
  }
  if (url != "https://$host$request_uri") {
    notes.push_back({ret.file, ret.line,
                     Cat("`", url,
                         "`: redirect_https sends the request's host without its port, as "
                         "https://$host$request_uri does")});
  }
  return true;
}

}  // namespace outrigger::import_nginx
