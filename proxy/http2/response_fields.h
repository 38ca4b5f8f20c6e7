// ResponseFields: an HTTP/1 head's fields (or trailers) as the nghttp2_nv list an HTTP/2
// message carries (RFC 9113 §8.2.2, §8.3). Named for responses, its first use; ClientCodec
// builds its requests with it too (BuildRequest):
//   - :status first, for a response head (none for trailers); :method, :scheme, :authority
//     and :path first for a request head;
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
#include <string_view>
#include <vector>

#include "proxy/http/message.h"

namespace outrigger::http2 {

class ResponseFields {
 public:
  // `status`: 100-999 for a head; 0 for trailers (no :status).
  // REQUIRES: `fields`' names are HTTP tokens.
  void Build(int status, std::span<const http::Header> fields);
  // A request head: pseudo-fields from `head` (:authority is its authority, from Host or an
  // absolute-form target; :path its origin-form path) and `scheme`, then its fields as Build
  // keeps them, less Host (it became :authority) and a TE other than "trailers" (§8.2.2).
  // REQUIRES: `head` is not CONNECT (no tunnels over HTTP/2 upstreams).
  void BuildRequest(const http::RequestHead& head, std::string_view scheme);
  void Clear();

  // Valid until the next Build or Clear.
  const nghttp2_nv* data() const { return nva_.data(); }
  size_t size() const { return nva_.size(); }

 private:
  struct Pseudo {
    const char* name;
    std::string_view value;
  };
  // Copies `pseudo`'s values and the kept fields into bytes_ and points nva_ at them.
  void Assemble(std::span<const Pseudo> pseudo, std::span<const http::Header> fields, bool request);

  std::string bytes_;  // pseudo-field values, then each kept field's lowercased name and value
  std::vector<nghttp2_nv> nva_;
};

}  // namespace outrigger::http2
