// ResponseFields: an HTTP/1 response head's fields (or trailers) as the nghttp2_nv list an
// HTTP/2 response carries (RFC 9113 §8.2.2, §8.3.2):
//   - :status first, for a head (none for trailers);
//   - names lowercased (HTTP/2 forbids uppercase; HTTP/1 names are case-insensitive);
//   - connection-specific fields dropped: Connection, Keep-Alive, Proxy-Connection,
//     Transfer-Encoding, Upgrade, and every field a Connection field names (RFC 9110 §7.6.1).
// Values are passed on as they are: the HTTP/1 parser already refused CR, LF and NUL.
//
// The list owns copies of the names and values, so it outlives the caller's views (a
// response's trailers are sent later, from nghttp2's data callback). One per codec or
// stream slot, reused: Build keeps the memory.
#pragma once

#include <nghttp2/nghttp2.h>

#include <span>
#include <string>
#include <vector>

#include "proxy/http/message.h"

namespace outrigger::http2 {

class ResponseFields {
 public:
  // `status`: 100-999 for a head; 0 for trailers (no :status).
  // REQUIRES: `fields`' names are HTTP tokens.
  void Build(int status, std::span<const http::Header> fields);
  void Clear();

  // Valid until the next Build or Clear.
  const nghttp2_nv* data() const { return nva_.data(); }
  size_t size() const { return nva_.size(); }

 private:
  std::string bytes_;  // each kept field's lowercased name, then its value
  std::vector<nghttp2_nv> nva_;
  char status_[4] = {};
};

}  // namespace outrigger::http2
