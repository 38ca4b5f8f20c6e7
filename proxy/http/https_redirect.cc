#include "proxy/http/https_redirect.h"

#include <charconv>

namespace outrigger::http {

bool AppendHttpsLocation(std::string_view authority, uint16_t port, std::string_view target,
                         std::string* out) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);  // an IPv6 literal keeps its brackets
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  if (host.empty()) return false;
  out->append("Location: https://");
  out->append(host);
  if (port != 443) {
    char digits[8];
    out->push_back(':');
    out->append(digits, std::to_chars(digits, digits + sizeof(digits), port).ptr);
  }
  out->append(!target.empty() && target.front() == '/' ? target : std::string_view("/"));
  out->append("\r\n");
  return true;
}

int HttpsRedirectStatus(bool get_or_head) { return get_or_head ? 301 : 308; }

}  // namespace outrigger::http
