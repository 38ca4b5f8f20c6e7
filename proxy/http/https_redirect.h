// Where `redirect_https` sends a plain-HTTP request: https://host[:port]/target.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace outrigger::http {

// Appends "Location: https://<host>[:<port>]<target>\r\n" to `out`. `authority` is the
// request's (the parser admits only fields::IsValidHost ones, so it carries no CR, LF or
// space); its own port, if any, is dropped, and ":<port>" is left out for 443. A target
// that is not origin-form ("*") becomes "/". Returns false, appending nothing, when there is
// no host to send the client to (an HTTP/1.0 request without Host).
bool AppendHttpsLocation(std::string_view authority, uint16_t port, std::string_view target,
                         std::string* out);

// 301 for GET and HEAD (what browsers and crawlers expect of a permanent move), 308 for the
// rest so that a client repeats its method and body rather than turning a POST into a GET.
int HttpsRedirectStatus(bool get_or_head);

}  // namespace outrigger::http
