// Responses the proxy makes itself (4xx for bad requests, 5xx when no backend answered).
#pragma once

#include <string>
#include <string_view>

namespace outrigger::http {

std::string_view ReasonPhrase(int status);

// Appends a complete response to `*out`: status line, Content-Type: text/plain,
// Content-Length, "Connection: close" when `close`, and optional extra header lines
// (each "Name: value\r\n"), then a one-line body "<status> <reason>: <detail>\n" that says
// which failure it was (for example "502 Bad Gateway: upstream connect failed").
// To a HEAD request (`head_request`) the body is left out; Content-Length still says what a
// GET would carry (RFC 9110 §9.3.2), as nginx does.
// With a `request_id` (its header name and value), the head carries it and the body gets a
// second line "request id: <id>\n", so a screenshot of the page finds its access log line.
void WriteErrorResponse(int status, std::string_view detail, bool close,
                        std::string_view extra_headers, bool head_request, std::string* out,
                        std::string_view request_id_header = {}, std::string_view request_id = {});

}  // namespace outrigger::http
