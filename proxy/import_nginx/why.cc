// The reason printed for a directive left out: which Outrigger feature would carry it, so
// a reader knows whether to wait for it or to do without.
#include "proxy/import_nginx/text.h"
#include "proxy/import_nginx/translate.h"

namespace outrigger::import_nginx {

std::string_view WhyUntranslated(std::string_view d) {
  if (d == "http3" || d == "quic" || StartsWith(d, "http3_") || StartsWith(d, "quic_")) {
    return "Outrigger serves HTTP/1.1 and HTTP/2 to clients, not HTTP/3";
  }
  if (d == "http2") return "nginx takes `on` or `off` (in http or server)";
  if (StartsWith(d, "http2_push")) return "Outrigger does not push (nor do browsers take it)";
  if (StartsWith(d, "http2_")) {
    return "Outrigger's HTTP/2 limits are fixed (100 streams, 32 KiB header lists: the README's "
           "HTTP/2 from clients)";
  }
  if (d == "grpc_pass") return "Outrigger takes `grpc_pass ADDRESS;` alone, in a location";
  if (StartsWith(d, "grpc_")) {
    return "not translated: set it on the `protocol: h2` pool grpc_pass made (timeouts, tls)";
  }
  if (d == "add_header" || d == "proxy_set_header") {
    return "not in a form the headers plugin takes";
  }
  if (d == "proxy_hide_header" || d == "more_set_headers") {
    return "write it as the headers plugin's `response: {remove: [...]}`";
  }
  if (StartsWith(d, "limit_req")) {
    return "write it as the rate_limit plugin (burst counts the first request)";
  }
  if (StartsWith(d, "limit_conn")) return "no Outrigger equivalent (per-key connection limits)";
  if (d == "return") return "Outrigger translates a location's `return` only";
  if (d == "rewrite") return "write it as the rewrite plugin's `regex`";
  if (d == "root" || d == "alias" || d == "try_files" || d == "index" || d == "autoindex" ||
      d == "expires" || d == "sendfile" || d == "types" || d == "default_type") {
    return "Outrigger serves no files";
  }
  if (d == "allow" || d == "deny") {
    return "nginx applies them in first-match order: write them as the ip_filter plugin";
  }
  if (StartsWith(d, "auth_basic")) {
    return "write it as the basic_auth plugin by hand: its users file must hold bcrypt or "
           "SHA-crypt hashes (htpasswd -B), not the MD5 ones nginx takes";
  }
  if (StartsWith(d, "gzip")) return "the compress plugin is not in Outrigger yet";
  if (d == "log_format") {
    return "Outrigger's access log writes nginx's `combined` format or its own json";
  }
  return "no Outrigger equivalent";
}

}  // namespace outrigger::import_nginx
