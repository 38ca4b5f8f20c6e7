// RequestFields: one HTTP/2 stream's request fields, collected as the HPACK decoder delivers
// them, and made into the http::RequestHead an Exchange serves (RFC 9113 §8.2.2, §8.3.1).
//
// The HTTP/2 session (nghttp2) already refuses most malformed requests before they get here;
// this class checks every rule again on its own, so it is safe on any input and the codec
// never hands an Exchange a head HTTP/1.1 could not carry:
//   - size: more than `max_fields` fields, or a field list over `max_list_size` counted as
//     HTTP/2's SETTINGS_MAX_HEADER_LIST_SIZE counts it (name + value + 32 per field): 431.
//   - pseudo-fields: only :method, :scheme, :authority and :path, each at most once, all
//     before any regular field; :method always; :scheme and a non-empty :path unless CONNECT,
//     neither for CONNECT, which needs :authority: 400.
//   - names: lowercase token characters; values: no NUL, CR or LF, and no leading or trailing
//     whitespace (RFC 9113 §8.2.1): 400.
//   - connection-specific fields (Connection, Keep-Alive, Proxy-Connection,
//     Transfer-Encoding, Upgrade) and a TE other than "trailers" (§8.2.2): 400.
//   - Host: it must agree with :authority when both are present; one of them is required,
//     as the HTTP/1.1 request this becomes needs a Host (§8.3.1): 400.
//   - Content-Length: 1*DIGIT, repeated only with the same value; a request ended by its
//     HEADERS must not declare a body: 400.
// Cookie fields are joined into one with "; " (§8.2.3), in order.
//
// Framing: the head's body is kNone when the HEADERS frame ended the stream, kContentLength
// when the client declared a length, and otherwise kChunked: its length is unknown, so an
// HTTP/1.1 upstream gets it chunked (as nghttpx does). version_minor is 1 and keep_alive true:
// those are the upstream request's, not the client's.
//
// Not thread-safe; one per stream slot, reused (Clear keeps the memory).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "proxy/http/message.h"
#include "proxy/http/parse_result.h"

namespace outrigger::http2 {

class RequestFields {
 public:
  struct Limits {
    size_t max_list_size = 32 * 1024;
    size_t max_fields = 100;
  };
  explicit RequestFields(Limits limits) : limits_(limits) {}

  // Takes one field, copying it. False once the limits are passed: the request is then
  // refused with 431 and the caller need not add more (further calls keep returning false).
  bool Add(std::string_view name, std::string_view value);

  // The head, its views pointing into this object (valid until Clear or the next Add), or
  // the 4xx and reason to refuse the request with. `end_stream`: the HEADERS frame ended the
  // stream (no body follows).
  http::ParseResult Finish(bool end_stream, http::RequestHead* out);

  // Forgets the fields, keeping the memory for the next stream.
  void Clear();

  size_t list_size() const { return list_size_; }

 private:
  struct Span {
    uint32_t offset;
    uint32_t size;
  };
  struct Field {
    Span name;
    Span value;
  };
  std::string_view View(Span s) const { return std::string_view(bytes_).substr(s.offset, s.size); }
  Span Append(std::string_view s);

  Limits limits_;
  std::string bytes_;  // every name and value, back to back
  std::vector<Field> fields_;
  size_t list_size_ = 0;
  bool over_limit_ = false;
};

}  // namespace outrigger::http2
