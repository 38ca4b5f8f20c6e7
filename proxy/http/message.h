// Parsed HTTP/1.x message heads. A head is parsed in place: every string_view points into
// the caller's contiguous copy of the head bytes and is valid only while those bytes are.
// The request path reads what it needs (routing keys, framing, connection semantics) before
// the head bytes are released, so nothing here owns memory beyond the reusable header vector.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace outrigger::http {

struct Header {
  std::string_view name;   // as received (case preserved); token characters only
  std::string_view value;  // leading and trailing whitespace removed
};

enum class Method : uint8_t {
  kGet,
  kHead,
  kPost,
  kPut,
  kDelete,
  kOptions,
  kPatch,
  kTrace,
  kConnect,
  kOther
};

// RFC 9110 §9.2.2: methods a proxy may repeat without changing the outcome.
constexpr bool IsIdempotent(Method m) {
  return m == Method::kGet || m == Method::kHead || m == Method::kPut || m == Method::kDelete ||
         m == Method::kOptions || m == Method::kTrace;
}

// How the message body is delimited (RFC 9112 §6.3).
enum class BodyKind : uint8_t {
  kNone,            // no body at all
  kContentLength,   // exactly content_length bytes (may be 0)
  kChunked,         // chunked transfer coding, ends with the last chunk and trailers
  kCloseDelimited,  // responses only: the body runs until the server closes
};

struct RequestHead {
  std::string_view method_text;
  Method method = Method::kOther;
  std::string_view target;     // request-target exactly as received
  std::string_view path;       // origin-form to forward: for absolute-form, the path+query part
                               // of the target ("/" when empty); otherwise == target
  std::string_view authority;  // the Host header value, or for absolute-form the target's
                               // authority (RFC 9112 §3.2.2: it replaces Host)
  bool absolute_form = false;
  int version_minor = 1;        // HTTP/1.<version_minor>; only 0 and 1 are accepted
  std::vector<Header> headers;  // all fields in order, including Host and framing fields

  BodyKind body = BodyKind::kNone;  // never kCloseDelimited for requests
  uint64_t content_length = 0;      // valid when body == kContentLength

  bool keep_alive = true;          // after this exchange, per version and Connection tokens
  bool expect_continue = false;    // Expect: 100-continue
  bool upgrade_websocket = false;  // Connection contains "upgrade" and Upgrade: websocket
  std::string_view upgrade;        // raw Upgrade value when Connection names "upgrade"
  size_t head_size = 0;            // bytes of the head, request line through the empty line
};

struct ResponseHead {
  int status = 0;
  std::string_view reason;
  int version_minor = 1;
  std::vector<Header> headers;

  BodyKind body = BodyKind::kNone;  // accounts for the request method and the status
  uint64_t content_length = 0;      // the Content-Length value whenever one was sent, even
                                    // where no body follows (HEAD, 304), so it can be forwarded
  bool keep_alive = true;           // the server allows reuse of the connection after this response
  size_t head_size = 0;
};

}  // namespace outrigger::http
