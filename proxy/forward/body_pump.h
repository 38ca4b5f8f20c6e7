// BodyPump: moves one message body from one connection's input to the other's output,
// exactly as far as the message's framing says — no further, so a pipelined request or a
// backend's stray bytes never leak into the other stream. Chunk data moves by evbuffer
// chain transfer (no per-byte copy); only chunk-size lines and trailers are looked at.
// Loop affinity: the worker loop of its connection.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

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
  // `max_data` (0: none) caps a chunked body's data: a chunk that would take it past the cap
  // is a kError with too_large(), reported before its size line is moved on. (A declared
  // Content-Length is the caller's to check before it starts the body.)
  // With `decode`, only the body's data goes to `out`: a chunked body's size lines and
  // trailers are consumed and dropped (for an encoder, whose output is framed anew).
  void Start(http::BodyKind kind, uint64_t content_length, uint64_t max_data = 0,
             bool decode = false);

  Result Pump(evbuffer* in, evbuffer* out);

  // With `decode`, a chunked body's trailer lines ("Name: value\r\n") are appended to
  // `*to` instead of being dropped (an HTTP/2 client gets them as a trailer HEADERS frame).
  // Until the next Start, which forgets `to`.
  void KeepTrailers(std::string* to) { keep_trailers_ = to; }

  bool done() const { return done_; }
  uint64_t moved() const { return moved_; }  // body bytes taken so far, framing included
  std::string_view error() const { return error_; }
  bool too_large() const { return too_large_; }

 private:
  Result PumpChunked(evbuffer* in, evbuffer* out);
  void Move(evbuffer* in, evbuffer* out, size_t n);
  void MoveFraming(evbuffer* in, evbuffer* out, size_t n);

  http::BodyKind kind_ = http::BodyKind::kNone;
  uint64_t remaining_ = 0;  // kContentLength: bytes still expected
  http::ChunkedFramer framer_;
  uint64_t moved_ = 0;
  uint64_t max_data_ = 0;
  uint64_t data_declared_ = 0;  // chunked: sizes of the chunks accepted so far
  std::string* keep_trailers_ = nullptr;
  bool done_ = true;
  bool too_large_ = false;
  bool decode_ = false;
  std::string_view error_;
};

// The fields of trailer lines BodyPump::KeepTrailers kept ("Name: value\r\n", as the chunked
// framer accepted them), values trimmed of surrounding whitespace; views into `lines`,
// replacing `*out`.
void TrailerFields(std::string_view lines, std::vector<http::Header>* out);

}  // namespace outrigger::forward
