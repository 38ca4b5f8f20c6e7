// nginx's TLS directives: ssl_* of a server (and of http, inherited) → a listener's `tls:`;
// proxy_pass https:// with the proxy_ssl_* in force → a pool's `tls:`; a server that only
// sends every request to https:// → the listener's `redirect_https`.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "proxy/import_nginx/model.h"
#include "proxy/import_nginx/parser.h"

namespace outrigger::import_nginx {

// The TLS directives in force at one level (http, server, location); a level starts as a
// copy of its parent's. As nginx does, a level that sets any ssl_certificate (or
// ssl_certificate_key) replaces all of its parent's: `*_set_here` track that per level.
struct TlsSettings {
  std::vector<const Directive*> certs, keys;
  const Directive* protocols = nullptr;
  const Directive* verify_client = nullptr;
  const Directive* client_ca = nullptr;
  PoolTls upstream;  // proxy_ssl_*
  bool certs_set_here = false, keys_set_here = false;
  // nginx's deprecated `ssl on`: it makes an address TLS when the address's default server
  // has it (nginx 1.22), and is ignored in the others.
  const Directive* ssl_on = nullptr;
};

// Takes `d` if it is a TLS directive (true), recording what it sets in `s` and a note for
// what Outrigger does otherwise or not at all.
bool TlsSetting(const Directive& d, TlsSettings& s, std::vector<Note>& notes);

// The listener TLS of a server whose address has `ssl`: its certificates paired in order
// with their keys, min_version and client_auth. nullopt (with a note at `listen`) when it has
// no usable certificate.
// A non-default server without a certificate is served with the default server's, as in
// nginx: nullopt then, without a note.
std::optional<ListenerTls> ServerTls(const TlsSettings& s, const Directive& listen, bool is_default,
                                     std::vector<Note>& notes);

// Whether a server-level `return` sends every request to the same URL on https:// (what a
// listener's `redirect_https` does); notes where the two answer differently.
bool IsHttpsRedirect(const Directive& ret, std::vector<Note>& notes);

}  // namespace outrigger::import_nginx
