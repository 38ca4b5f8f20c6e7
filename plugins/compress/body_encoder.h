// BodyEncoder: one response body's content coding (RFC 9110 §8.4.1), fed as the body arrives
// from the backend. Every call flushes what it was given, so the client can decode each piece
// at once: a streamed response (server-sent events, a long page) is never held back to fill
// a compression block. That costs a few bytes per call, which is how Envoy's compressor works
// too, and nothing on a body that arrives in large reads.
//
// It knows bytes only: the exchange decodes the backend's framing before and frames the
// output for the client after. Thread contract: one worker loop's.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <event2/buffer.h>

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace outrigger::plugins {

enum class Coding : uint8_t { kGzip, kBrotli };
inline constexpr size_t kCodings = 2;

// The token for Content-Encoding and Accept-Encoding.
std::string_view CodingName(Coding coding);

class BodyEncoder {
 public:
  virtual ~BodyEncoder() = default;
  // Begins a new stream at `level` (gzip 1-9, brotli quality 0-11), keeping what it can of
  // the last one's memory.
  virtual absl::Status Start(int level) = 0;
  // Encodes all of `in` (which it drains) into `out`, flushed; with `finish`, ends the stream
  // (its trailer: gzip's CRC and length). No call after `finish` until Start.
  absl::Status Encode(evbuffer* in, evbuffer* out, bool finish);

 protected:
  // What follows a segment: more of this call's input, or nothing, after which the output so
  // far must be flushed, or the stream ended.
  enum class Then : uint8_t { kMore, kFlush, kFinish };
  // Output space asked of the evbuffer at a time.
  static constexpr size_t kOutStep = 16 * 1024;

  // Encodes one contiguous segment of the input into `out`.
  virtual absl::Status EncodeSegment(const uint8_t* data, size_t size, Then then,
                                     evbuffer* out) = 0;
};

std::unique_ptr<BodyEncoder> MakeGzipEncoder();
std::unique_ptr<BodyEncoder> MakeBrotliEncoder();

// Encoders a worker has finished with, kept so that the next response does not allocate a
// fresh deflate state (a few hundred KiB) again. At most kKeep per coding are kept, so a
// burst of concurrent compressed responses does not pin its memory afterwards.
class EncoderPool {
 public:
  static constexpr size_t kKeep = 8;

  // A started encoder, or the error of Start.
  absl::StatusOr<std::unique_ptr<BodyEncoder>> Take(Coding coding, int level);
  void Give(Coding coding, std::unique_ptr<BodyEncoder> encoder);

 private:
  std::vector<std::unique_ptr<BodyEncoder>> free_[kCodings];
};

}  // namespace outrigger::plugins
