// StreamFilter: a byte transformation between a Stream's socket and its owner (TLS). The
// Stream reads wire bytes into wire_in() and asks the filter to decode them into the owner's
// input(); on Flush it asks the filter to encode the owner's output() into wire_out(), which
// it then writes, in one writev as without a filter. The filter never touches the socket.
//
// A client's filter (TLS to a backend) has a handshake to make before its owner may talk:
// Ready() is false until it is done, the Stream calls Start() once its connect completes
// (the filter queues its first flight in wire_out()), and reports kConnected only once
// Ready(), so that a handshake that fails is a failed connect to the owner. Until then Encode
// leaves the owner's plaintext in output(), where it counts against the owner's limits.
//
// Contract: Decode consumes what wire_in() holds (keeping a partial record for next time)
// and may queue bytes to send in wire_out() (handshake messages, alerts): the Stream writes
// them after each Decode. Encode consumes all of `plain_out`. kEof is the peer's orderly end
// of the stream (TLS close_notify), kError a failure that ends the connection; after either
// the Stream stops reading and reports it like the socket's own EOF or error.
#pragma once

#include <event2/buffer.h>

#include <cstdint>

namespace outrigger::net {

class StreamFilter {
 public:
  enum class Result : uint8_t { kOk, kEof, kError };

  virtual ~StreamFilter() = default;

  virtual evbuffer* wire_in() = 0;
  virtual evbuffer* wire_out() = 0;
  virtual Result Decode(evbuffer* plain_in) = 0;
  virtual Result Encode(evbuffer* plain_out) = 0;
  virtual void Start() {}
  virtual bool Ready() const { return true; }
  // The socket ended (EOF or error) before Ready(): the filter notes why its handshake
  // failed. The Stream then reports the end to its owner as usual.
  virtual void HandshakeCut() {}
};

}  // namespace outrigger::net
