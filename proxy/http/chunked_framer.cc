#include "proxy/http/chunked_framer.h"

#include <algorithm>
#include <cstring>

#include "proxy/http/fields.h"

namespace outrigger::http {
namespace {

using fields::LineStatus;

constexpr size_t kMaxSizeDigits = 16;  // a 64-bit size; more digits is an overflow attempt

// How much of an unfinished framing line is validated before its LF arrives. The same
// prefix is checked however the bytes were split across calls, so the verdict is too.
constexpr size_t kEarlyCheckBytes = 64;

using fields::HexValue;

// qdtext and the escaped byte of a quoted-pair (RFC 9110 §5.6.4), HTAB and SP included.
inline bool IsQuotedTextChar(char c) {
  const auto u = static_cast<uint8_t>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}

struct SizeLine {
  uint64_t size = 0;
  size_t length = 0;  // including CRLF
  std::string_view error;
};

// Parses `chunk-size [ chunk-ext ] CRLF` at the start of [p, end), judging a prefix as far
// as it goes so that garbage is refused before its line ends.
LineStatus ParseSizeLine(const char* p, const char* end, SizeLine* out) {
  const char* const start = p;
  const auto fail = [out](std::string_view why) {
    out->error = why;
    return LineStatus::kError;
  };
  uint64_t size = 0;
  size_t digits = 0;
  for (; p < end; ++p) {
    const int v = HexValue(*p);
    if (v < 0) break;
    if (++digits > kMaxSizeDigits) return fail("chunk size too large");
    size = (size << 4) | static_cast<uint64_t>(v);
  }
  if (p == end) return LineStatus::kNeedMore;
  if (digits == 0) return fail("invalid chunk size");

  // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] )
  for (;;) {
    const char* const ws_start = p;
    while (p < end && fields::IsOws(*p)) ++p;
    if (p == end) return LineStatus::kNeedMore;
    if (*p == '\r') {
      if (p != ws_start) return fail("whitespace before end of chunk size line");
      if (p + 1 == end) return LineStatus::kNeedMore;
      if (p[1] != '\n') return fail("bare CR in chunk size line");
      out->size = size;
      out->length = static_cast<size_t>(p + 2 - start);
      return LineStatus::kDone;
    }
    if (*p != ';') return fail(*p == '\n' ? "bare LF in chunk size line" : "invalid chunk size");
    ++p;
    while (p < end && fields::IsOws(*p)) ++p;
    const char* const name_start = p;
    while (p < end && fields::IsTokenChar(*p)) ++p;
    if (p == end) return LineStatus::kNeedMore;
    if (p == name_start) return fail("invalid chunk extension");
    const char* const after_name = p;
    while (p < end && fields::IsOws(*p)) ++p;
    if (p == end) return LineStatus::kNeedMore;
    if (*p != '=') {
      p = after_name;  // the BWS belongs to the next extension or is an error before CRLF
      continue;
    }
    ++p;
    while (p < end && fields::IsOws(*p)) ++p;
    if (p == end) return LineStatus::kNeedMore;
    if (*p == '"') {
      for (++p;; ++p) {
        if (p == end) return LineStatus::kNeedMore;
        if (*p == '"') break;
        if (*p == '\\') {
          if (++p == end) return LineStatus::kNeedMore;
        }
        if (!IsQuotedTextChar(*p)) return fail("invalid chunk extension value");
      }
      ++p;
    } else {
      const char* const value_start = p;
      while (p < end && fields::IsTokenChar(*p)) ++p;
      if (p == end) return LineStatus::kNeedMore;
      if (p == value_start) return fail("invalid chunk extension value");
    }
  }
}

}  // namespace

ChunkedFramer::Step ChunkedFramer::Advance(std::string_view view) {
  Step step;
  const auto fail = [&step](std::string_view why) {
    step.error = true;
    step.reason = why;
    return step;
  };
  if (state_ == State::kDone) return fail("chunked body already complete");
  if (data_remaining_ != 0) return fail("framing examined inside chunk data");

  size_t pos = 0;
  while (data_remaining_ == 0 && state_ != State::kDone && pos < view.size()) {
    const char* const p = view.data() + pos;
    // No unit is longer than a line plus its CRLF: a line that has not ended within that
    // many bytes is too long, however many more bytes are buffered.
    const size_t window = std::min(view.size() - pos, kMaxLineLength + 2);

    if (state_ == State::kDataCrlf) {
      if (p[0] != '\r') return fail("missing CRLF after chunk data");
      if (window < 2) return step;
      if (p[1] != '\n') return fail("missing CRLF after chunk data");
      pos += 2;
      step.forward = pos;
      state_ = State::kSize;
      continue;
    }
    if (state_ == State::kTrailer && p[0] == '\r') {
      if (window < 2) return step;
      if (p[1] != '\n') return fail("bare CR in trailer section");
      pos += 2;
      step.forward = pos;
      state_ = State::kDone;
      continue;
    }

    // A size line or a trailer field line: validated whole once its LF is here. Until then
    // its first kEarlyCheckBytes are validated as a prefix, so garbage is refused without
    // waiting for a line end, at a cost that stays linear while a long line trickles in.
    const size_t from = std::min(line_scanned_, window);
    const void* lf = std::memchr(p + from, '\n', window - from);
    const bool early_checked = line_scanned_ >= kEarlyCheckBytes;
    if (lf == nullptr) {
      if (window == kMaxLineLength + 2) return fail("chunked framing line too long");
      line_scanned_ = window;
      if (early_checked) return step;
    }
    const char* const end =
        lf ? static_cast<const char*>(lf) + 1 : p + std::min(window, kEarlyCheckBytes);
    size_t length = 0;
    if (state_ == State::kSize) {
      SizeLine line;
      const LineStatus status = ParseSizeLine(p, end, &line);
      if (status == LineStatus::kError) return fail(line.error);
      if (status == LineStatus::kNeedMore) return step;
      length = line.length;
      if (line.size == 0) {
        state_ = State::kTrailer;
      } else {
        data_remaining_ = line.size;
        state_ = State::kDataCrlf;
      }
    } else {
      fields::FieldLine line;
      const LineStatus status = fields::ParseFieldLine(p, end, &line);
      if (status == LineStatus::kError) return fail(line.error);
      if (status == LineStatus::kNeedMore) return step;
      length = line.length;
      trailer_bytes_ += length;
      if (trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
    }
    line_scanned_ = 0;
    pos += length;
    step.forward = pos;
  }
  return step;
}

}  // namespace outrigger::http
