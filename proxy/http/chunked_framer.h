// Validates a chunked body (RFC 9112 §7.1) as it streams through, without decoding it: the
// proxy forwards chunked bodies verbatim, so the framer only says how many of the bytes at
// the front of the stream belong to the message and may be moved on unchanged.
//
// Use:
//   while (stream not empty && !framer.done()) {
//     if (uint64_t n = framer.data_remaining()) {      // inside chunk data: move blindly
//       n = min(n, available); move n bytes; framer.ConsumeData(n);
//     } else {                                          // sizes, CRLFs, trailers: look at them
//       view = contiguous bytes at the front (at most kMaxLineLength + 2 are ever needed);
//       step = framer.Advance(view); move step.forward bytes;
//       if (step.error) fail; if (step.forward == 0) wait for more bytes;
//     }
//   }
//
// Strictness: chunk-size is 1*HEXDIG with no sign, whitespace or 0x prefix, at most 16 hex
// digits and no overflow; chunk extensions must be `;token[=token|quoted-string]` (BWS allowed
// around ';' and '='); lines end in CRLF only; chunk data must be followed by CRLF; trailer
// fields follow field syntax. A line longer than kMaxLineLength is an error.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace outrigger::http {

class ChunkedFramer {
 public:
  // A head's size (HeadLimits::max_head), which HTTP/2's trailer sections also get: trailers
  // from an HTTP/2 backend come through this framer, and a gRPC status detail
  // (grpc-status-details-bin) is often a single field of several KiB.
  static constexpr size_t kMaxLineLength = 32 * 1024;
  static constexpr size_t kMaxTrailerBytes = 32 * 1024;

  struct Step {
    size_t forward = 0;  // bytes at the front of the view that are now accepted
    bool error = false;
    std::string_view reason;  // for error: a short static explanation
  };

  // Examines framing bytes (never chunk data: call only when data_remaining() == 0).
  // Accepts whole syntactic units only (a complete size line, a data-terminating CRLF, a
  // complete trailer line), so forward == 0 with !error means "need more bytes". It may
  // accept several units in one call; it stops after a size line that opens chunk data.
  // Calling it inside chunk data or after done() is an error.
  Step Advance(std::string_view view);

  // Chunk data bytes still expected in the current chunk.
  uint64_t data_remaining() const { return data_remaining_; }
  // REQUIRES: n <= data_remaining().
  void ConsumeData(uint64_t n) { data_remaining_ -= n; }

  // The last chunk and its trailer section (and final CRLF) have been accepted.
  bool done() const { return state_ == State::kDone; }
  // The last chunk was accepted: the lines Advance takes now are the trailer section's.
  bool in_trailer() const { return state_ == State::kTrailer; }

  // Back to the start of a new body, for reuse across messages.
  void Reset() { *this = ChunkedFramer(); }

 private:
  enum class State : uint8_t { kSize, kDataCrlf, kTrailer, kDone };
  State state_ = State::kSize;
  uint64_t data_remaining_ = 0;
  size_t trailer_bytes_ = 0;
  // Bytes at the front of the current, unfinished framing line already searched for its LF,
  // so a line trickling in costs linear time rather than a rescan per call.
  size_t line_scanned_ = 0;
};

}  // namespace outrigger::http
