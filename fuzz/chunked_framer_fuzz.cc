// Fuzzes ChunkedFramer through the calling loop chunked_framer.h prescribes. The input is a
// chunked body (and possibly what follows it). It is framed twice, once presented whole and
// once in pseudo-random pieces; both must reach the same verdict over the same bytes, and
// neither may forward more than it was given.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "proxy/http/chunked_framer.h"

namespace outrigger::http {
namespace {

struct Verdict {
  bool done = false;
  bool error = false;
  size_t forwarded = 0;
};

// `next_piece` returns how many more input bytes arrive before the framer runs again.
template <typename NextPiece>
Verdict Frame(std::string_view input, NextPiece next_piece) {
  ChunkedFramer framer;
  Verdict v;
  size_t received = 0;  // input[v.forwarded, received) is buffered, not yet forwarded
  while (!framer.done()) {
    const size_t piece = std::min(next_piece(), input.size() - received);
    received += piece;
    while (v.forwarded < received && !framer.done()) {
      if (const uint64_t remaining = framer.data_remaining()) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining, received - v.forwarded));
        framer.ConsumeData(n);
        FUZZ_CHECK(framer.data_remaining() == remaining - n);
        v.forwarded += n;
        continue;
      }
      const std::string_view view = input.substr(
          v.forwarded, std::min(received - v.forwarded, ChunkedFramer::kMaxLineLength + 2));
      const ChunkedFramer::Step step = framer.Advance(view);
      FUZZ_CHECK(step.forward <= view.size());
      v.forwarded += step.forward;
      if (step.error) {
        FUZZ_CHECK(!step.reason.empty());
        v.error = true;
        return v;
      }
      if (step.forward == 0) break;
    }
    if (received == input.size()) break;
  }
  FUZZ_CHECK(v.forwarded <= input.size());
  v.done = framer.done();
  return v;
}

}  // namespace
}  // namespace outrigger::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using outrigger::http::Frame;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto whole = Frame(input, [&] { return input.size(); });
  uint32_t state = static_cast<uint32_t>(size) * 2654435761u + 1;  // xorshift32, seeded by size
  const auto split = Frame(input, [&] {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return static_cast<size_t>(1 + state % 64);
  });
  FUZZ_CHECK(whole.done == split.done);
  FUZZ_CHECK(whole.error == split.error);
  if (!whole.error) FUZZ_CHECK(whole.forwarded == split.forwarded);
  if (whole.done) {
    const std::string_view body = input.substr(0, whole.forwarded);
    FUZZ_CHECK(body.size() >= 5 && body.substr(body.size() - 2) == "\r\n");
  }
  return 0;
}
