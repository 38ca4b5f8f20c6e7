// Strict HTTP/1.x response-head parser, the upstream half of design.md §7.
//
// Same calling convention as ParseRequestHead. Every error is reported with http_status 502:
// the proxy answers the client 502 and never reuses that upstream connection.
//
// Rules: status line `HTTP/1.x SP 3DIGIT SP reason CRLF` (reason may be empty, the space
// before it may be missing; the status must be 100..599); field syntax as for requests;
// ambiguous framing is an error (Content-Length with Transfer-Encoding, differing
// Content-Lengths, final coding not chunked, any coding besides chunked, Transfer-Encoding
// in HTTP/1.0), checked even when the status means no body follows. Body kind: none for a
// HEAD request, 1xx, 204, 304 and a 2xx to CONNECT; chunked; Content-Length; otherwise
// close-delimited (and keep_alive is false). keep_alive is also false after 101: that
// connection becomes a tunnel.
#pragma once

#include <string_view>

#include "proxy/http/limits.h"
#include "proxy/http/message.h"
#include "proxy/http/parse_result.h"

namespace outrigger::http {

ParseResult ParseResponseHead(std::string_view data, Method request_method,
                              const HeadLimits& limits, ResponseHead* out);

// Whether a response of `status` to `request_method` has no body, whatever its framing fields
// say (RFC 9112 §6.3 rules 1-2; RFC 9113 §8.1.1 holds the same over HTTP/2).
bool StatusHasNoBody(Method request_method, int status);

}  // namespace outrigger::http
