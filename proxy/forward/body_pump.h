// BodyPump: moves one message body from one connection's input to the other's output,
// exactly as far as the message's framing says — no further, so a pipelined request or a
// backend's stray bytes never leak into the other stream. Chunk data moves by evbuffer
// chain transfer (no per-byte copy); only chunk-size lines and trailers are looked at.
// Loop affinity: the worker loop of its connection.
#pragma once

#include <cstdint>
#include <string_view>

#include "proxy/http/chunked_framer.h"
#include "proxy/http/message.h"
#include "proxy/net/event.h"

namespace outrigger::forward {

class BodyPump {
 public:
  enum class Result {
    kMore,   // the body continues; call again when `in` has more bytes
    kDone,   // the body has ended; bytes left in `in` belong to what follows it
    kError,  // invalid framing (see error()); the connection must be closed
  };

  // Starts a new body. kCloseDelimited never reports kDone: it ends at the peer's EOF.
  void Start(http::BodyKind kind, uint64_t content_length);

  Result Pump(evbuffer* in, evbuffer* out);

  bool done() const { return done_; }
  uint64_t moved() const { return moved_; }  // body bytes moved so far, framing included
  std::string_view error() const { return error_; }

 private:
  Result PumpChunked(evbuffer* in, evbuffer* out);
  void Move(evbuffer* in, evbuffer* out, size_t n);

  http::BodyKind kind_ = http::BodyKind::kNone;
  uint64_t remaining_ = 0;  // kContentLength: bytes still expected
  http::ChunkedFramer framer_;
  uint64_t moved_ = 0;
  bool done_ = true;
  std::string_view error_;
};

}  // namespace outrigger::forward
