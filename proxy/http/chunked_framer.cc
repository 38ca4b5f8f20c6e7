#include "proxy/http/chunked_framer.h"

#include <algorithm>

#include "proxy/http/fields.h"

namespace outrigger::http {
namespace {

using fields::LineStatus;

constexpr size_t kMaxSizeDigits = 16;  // a 64-bit size; more digits is an overflow attempt

inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

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
    const char* const end = p + window;
    const auto starved = [&] {
      return window == kMaxLineLength + 2 ? fail("chunked framing line too long") : step;
    };
    switch (state_) {
      case State::kSize: {
        SizeLine line;
        switch (ParseSizeLine(p, end, &line)) {
          case LineStatus::kNeedMore:
            return starved();
          case LineStatus::kError:
            return fail(line.error);
          case LineStatus::kDone:
            break;
        }
        pos += line.length;
        step.forward = pos;
        if (line.size == 0) {
          state_ = State::kTrailer;
        } else {
          data_remaining_ = line.size;
          state_ = State::kDataCrlf;
        }
        break;
      }
      case State::kDataCrlf:
        if (p[0] != '\r') return fail("missing CRLF after chunk data");
        if (window < 2) return step;
        if (p[1] != '\n') return fail("missing CRLF after chunk data");
        pos += 2;
        step.forward = pos;
        state_ = State::kSize;
        break;
      case State::kTrailer: {
        size_t length;
        if (p[0] == '\r') {
          if (window < 2) return step;
          if (p[1] != '\n') return fail("bare CR in trailer section");
          length = 2;
          state_ = State::kDone;
        } else {
          fields::FieldLine line;
          switch (fields::ParseFieldLine(p, end, &line)) {
            case LineStatus::kNeedMore:
              return starved();
            case LineStatus::kError:
              return fail(line.error);
            case LineStatus::kDone:
              break;
          }
          length = line.length;
          trailer_bytes_ += length;
          if (trailer_bytes_ > kMaxTrailerBytes) return fail("trailer section too large");
        }
        pos += length;
        step.forward = pos;
        break;
      }
      case State::kDone:
        break;
    }
  }
  return step;
}

}  // namespace outrigger::http
