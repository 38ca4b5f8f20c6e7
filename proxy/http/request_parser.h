// Strict HTTP/1.x request-head parser (RFC 9112, design.md §7).
//
// Not incremental byte-by-byte: the caller presents everything it has received of the head,
// from its first byte. To avoid quadratic rescans on a trickled head, the caller should call
// again only once "\r\n\r\n" has arrived or the buffer has grown past a limit; the parser
// still answers kIncomplete or a limit error for any prefix.
//
// Rules enforced (each is an error with the code given):
//   request line: `method SP request-target SP HTTP/1.x CRLF`; method a token; single spaces;
//     target origin-form, absolute-form (http:// or https://), authority-form (CONNECT only)
//     or "*" (OPTIONS only); no control characters, spaces or bytes >= 0x7f in the target (400);
//     HTTP/1.0 or HTTP/1.1 only (other HTTP/x.y: 505); line longer than max_request_line: 414.
//   fields: name a non-empty token, no whitespace before the colon (400); obs-fold (400);
//     CR not followed by LF, bare LF as a line end, NUL or other control characters except
//     HTAB in values (400); more than max_headers fields or head over max_head: 431.
//   framing: Content-Length with Transfer-Encoding (400); Content-Length not 1*DIGIT, or
//     repeated with differing values, or a list with differing values (400); Transfer-Encoding
//     whose final coding is not "chunked" or that names chunked twice (400); an unknown coding
//     before chunked (501: every coding but chunked counts as unknown, since the forwarded
//     head says just "chunked"); Transfer-Encoding in an HTTP/1.0 request (400).
//   Host: missing in HTTP/1.1, present more than once, or invalid (400). For absolute-form
//     the authority comes from the target and a Host header is ignored (but, per RFC 9112
//     §3.2, still required in HTTP/1.1 and still validated). An absolute-form target with a
//     query but no path ("http://h?q") is a 400: its origin-form cannot be a view of the target.
//   Empty lines (CRLF) before the request line are skipped and counted in head_size.
//   Upgrade and Expect are ignored in HTTP/1.0 requests (RFC 9110 §7.8, §10.1.1).
#pragma once

#include <string_view>

#include "proxy/http/limits.h"
#include "proxy/http/message.h"
#include "proxy/http/parse_result.h"

namespace outrigger::http {

// Parses the request head at the start of `data` into `*out` (its headers vector is cleared
// and reused, so a connection can keep one RequestHead and parse without allocating).
// On kDone, out->head_size bytes of `data` form the head; the rest is body or the next request.
ParseResult ParseRequestHead(std::string_view data, const HeadLimits& limits, RequestHead* out);

// The Method a method token names; kOther for any other token (methods are case-sensitive).
Method MethodFromText(std::string_view token);

}  // namespace outrigger::http
