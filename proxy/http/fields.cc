#include "proxy/http/fields.h"

#include <algorithm>
#include <cstring>

#include "proxy/http/head_writer.h"

namespace outrigger::http::fields {
namespace {

// Word-at-a-time scanning (the "has byte less than n" tricks from Bit Twiddling Hacks): each
// test is exact about whether *some* byte of the word matches, which is all the scanners need
// before they fall back to a byte loop to find which one.
constexpr uint64_t kOnes = 0x0101010101010101ULL;
constexpr uint64_t kHighBits = 0x8080808080808080ULL;

inline uint64_t Load8(const char* p) {
  uint64_t x;
  std::memcpy(&x, p, sizeof(x));
  return x;
}

// High bit set in some byte iff a byte of `x` is 0x7f.
inline uint64_t HasDel(uint64_t x) {
  const uint64_t y = x ^ (kOnes * 0x7f);
  return (y - kOnes) & ~y & kHighBits;
}

enum class FieldKind : uint8_t {
  kOther,
  kHost,
  kExpect,
  kUpgrade,
  kConnection,
  kContentLength,
  kTransferEncoding,
};

inline FieldKind Classify(std::string_view name) {
  switch (name.size()) {
    case 4:
      return NameIs(name, "host") ? FieldKind::kHost : FieldKind::kOther;
    case 6:
      return NameIs(name, "expect") ? FieldKind::kExpect : FieldKind::kOther;
    case 7:
      return NameIs(name, "upgrade") ? FieldKind::kUpgrade : FieldKind::kOther;
    case 10:
      return NameIs(name, "connection") ? FieldKind::kConnection : FieldKind::kOther;
    case 14:
      return NameIs(name, "content-length") ? FieldKind::kContentLength : FieldKind::kOther;
    case 17:
      return NameIs(name, "transfer-encoding") ? FieldKind::kTransferEncoding : FieldKind::kOther;
    default:
      return FieldKind::kOther;
  }
}

// Calls fn(element) for each OWS-trimmed, non-empty member of a comma-separated list
// (RFC 9110 §5.6.1: recipients ignore empty list elements).
template <typename Fn>
void ForEachListElement(std::string_view list, Fn fn) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view element = TrimOws(list.substr(0, comma));
    if (!element.empty()) fn(element);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
}

enum class LengthParse : uint8_t { kOk, kInvalid, kConflict };

LengthParse ParseLengthList(std::string_view value, uint64_t* out) {
  constexpr uint64_t kMax = static_cast<uint64_t>(INT64_MAX);
  const char* p = value.data();
  const char* const end = p + value.size();
  bool have = false;
  uint64_t first = 0;
  for (;;) {
    while (p < end && IsOws(*p)) ++p;
    if (p == end || *p < '0' || *p > '9') return LengthParse::kInvalid;
    uint64_t v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; ++p) {
      const uint64_t digit = static_cast<uint64_t>(*p - '0');
      if (v > (kMax - digit) / 10) return LengthParse::kInvalid;
      v = v * 10 + digit;
    }
    while (p < end && IsOws(*p)) ++p;
    if (have && v != first) return LengthParse::kConflict;
    have = true;
    first = v;
    if (p == end) break;
    if (*p != ',') return LengthParse::kInvalid;
    ++p;
  }
  *out = first;
  return LengthParse::kOk;
}

void AbsorbContentLength(std::string_view value, FieldSummary* s) {
  uint64_t v = 0;
  switch (ParseLengthList(value, &v)) {
    case LengthParse::kInvalid:
      s->content_length_invalid = true;
      return;
    case LengthParse::kConflict:
      s->content_length_conflict = true;
      return;
    case LengthParse::kOk:
      break;
  }
  if (s->content_length_count > 0 && v != s->content_length) s->content_length_conflict = true;
  s->content_length = v;
  ++s->content_length_count;
}

void AbsorbTransferEncoding(std::string_view value, FieldSummary* s) {
  s->has_transfer_encoding = true;
  ForEachListElement(value, [s](std::string_view coding) {
    // transfer-coding = token *( OWS ";" OWS transfer-parameter ); chunked takes none.
    const size_t semi = coding.find(';');
    const bool has_params = semi != std::string_view::npos;
    const std::string_view name = TrimOws(coding.substr(0, semi));
    if (!IsToken(name)) {
      s->te_invalid = true;
      return;
    }
    if (name.size() == 7 && NameIs(name, "chunked")) {
      if (has_params) s->te_invalid = true;
      if (s->te_chunked_seen) s->te_chunked_twice = true;
      s->te_chunked_seen = true;
      s->te_last_chunked = true;
    } else {
      s->te_other_coding = true;
      s->te_last_chunked = false;
    }
  });
}

void AbsorbConnection(std::string_view value, FieldSummary* s) {
  ForEachListElement(value, [s](std::string_view token) {
    if (token.size() == 5 && NameIs(token, "close")) {
      s->connection_close = true;
    } else if (token.size() == 10 && NameIs(token, "keep-alive")) {
      s->connection_keep_alive = true;
    } else if (token.size() == 7 && NameIs(token, "upgrade")) {
      s->connection_upgrade = true;
    }
  });
}

void AbsorbUpgrade(std::string_view value, FieldSummary* s) {
  if (s->upgrade.data() == nullptr) s->upgrade = value;
  // protocol = protocol-name ["/" protocol-version]
  ForEachListElement(value, [s](std::string_view protocol) {
    const std::string_view name = TrimOws(protocol.substr(0, protocol.find('/')));
    if (EqualsIgnoreCase(name, "websocket")) s->upgrade_websocket = true;
  });
}

void Absorb(const Header& h, FieldSummary* s) {
  switch (Classify(h.name)) {
    case FieldKind::kOther:
      return;
    case FieldKind::kHost:
      ++s->host_count;
      s->host = h.value;
      return;
    case FieldKind::kExpect:
      if (ListHasToken(h.value, "100-continue")) s->expect_continue = true;
      return;
    case FieldKind::kUpgrade:
      AbsorbUpgrade(h.value, s);
      return;
    case FieldKind::kConnection:
      AbsorbConnection(h.value, s);
      return;
    case FieldKind::kContentLength:
      AbsorbContentLength(h.value, s);
      return;
    case FieldKind::kTransferEncoding:
      AbsorbTransferEncoding(h.value, s);
      return;
  }
}

constexpr std::array<bool, 256> kRegNameChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  // unreserved, pct-encoded's '%', sub-delims (RFC 3986 §3.2.2)
  for (char c : std::string_view("-._~%!$&'()*+,;=")) t[static_cast<uint8_t>(c)] = true;
  return t;
}();

bool IsPort(std::string_view s) {
  if (s.size() > 5) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), IsTokenChar);
}

std::string_view TrimOws(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && IsOws(s[b])) ++b;
  while (e > b && IsOws(s[e - 1])) --e;
  return s.substr(b, e - b);
}

const char* ScanFieldValue(const char* p, const char* end) {
  while (end - p >= 8) {
    const uint64_t x = Load8(p);
    const uint64_t below_space = (x - kOnes * 0x20) & ~x & kHighBits;
    if (below_space | HasDel(x)) break;
    p += 8;
  }
  for (; p < end; ++p) {
    const auto c = static_cast<uint8_t>(*p);
    if ((c < 0x20 && c != '\t') || c == 0x7f) return p;
  }
  return end;
}

const char* ScanVisible(const char* p, const char* end) {
  while (end - p >= 8) {
    const uint64_t x = Load8(p);
    // (x - 0x21..) sets a byte's high bit when the byte is below 0x21; OR-ing x flags every
    // byte >= 0x80.
    const uint64_t outside = ((x - kOnes * 0x21) | x) & kHighBits;
    if (outside | HasDel(x)) break;
    p += 8;
  }
  for (; p < end; ++p) {
    const auto c = static_cast<uint8_t>(*p);
    if (c <= 0x20 || c >= 0x7f) return p;
  }
  return end;
}

LineStatus ParseFieldLine(const char* p, const char* end, FieldLine* out) {
  const char* const start = p;
  if (IsOws(*p)) {
    out->error = "field line starts with whitespace (obs-fold)";
    return LineStatus::kError;
  }
  while (p < end && IsTokenChar(*p)) ++p;
  if (p == end) return LineStatus::kNeedMore;
  if (*p != ':') {
    if (IsOws(*p)) {
      out->error = "whitespace before colon in field line";
    } else if (*p == '\n') {
      out->error = "bare LF in field section";
    } else if (*p == '\r') {
      out->error = "field line without colon";
    } else {
      out->error = "invalid character in field name";
    }
    return LineStatus::kError;
  }
  if (p == start) {
    out->error = "empty field name";
    return LineStatus::kError;
  }
  out->name = std::string_view(start, static_cast<size_t>(p - start));
  ++p;
  while (p < end && IsOws(*p)) ++p;
  const char* const value_start = p;
  const char* q = ScanFieldValue(p, end);
  if (q == end) return LineStatus::kNeedMore;
  if (*q != '\r') {
    out->error = *q == '\n' ? "bare LF in field line" : "control character in field value";
    return LineStatus::kError;
  }
  if (q + 1 == end) return LineStatus::kNeedMore;
  if (q[1] != '\n') {
    out->error = "bare CR in field line";
    return LineStatus::kError;
  }
  const char* value_end = q;
  while (value_end > value_start && IsOws(value_end[-1])) --value_end;
  out->value = std::string_view(value_start, static_cast<size_t>(value_end - value_start));
  out->length = static_cast<size_t>(q + 2 - start);
  return LineStatus::kDone;
}

VersionStatus ParseHttpVersion(const char* p, const char* end, int* minor) {
  static constexpr std::string_view kShape = "HTTP/1.1";
  const size_t n = std::min(static_cast<size_t>(end - p), kHttpVersionLength);
  for (size_t i = 0; i < n; ++i) {
    const bool ok = (i == 5 || i == 7) ? (p[i] >= '0' && p[i] <= '9') : p[i] == kShape[i];
    if (!ok) return VersionStatus::kMalformed;
  }
  if (n < kHttpVersionLength) return VersionStatus::kNeedMore;
  if (p[5] != '1' || p[7] > '1') return VersionStatus::kUnsupported;
  *minor = p[7] - '0';
  return VersionStatus::kOk;
}

bool ParseContentLength(std::string_view value, uint64_t* out) {
  return ParseLengthList(value, out) == LengthParse::kOk;
}

ParseResult ParseFieldSection(const char* head_start, const char* data_end,
                              const HeadLimits& limits, const char** p,
                              std::vector<Header>* headers, FieldSummary* summary) {
  // Never look past max_head bytes of head; running out there is 431, not "incomplete".
  const size_t available = static_cast<size_t>(data_end - head_start);
  const char* const end = head_start + std::min(available, limits.max_head);
  const auto starved = [&] {
    return end < data_end ? ParseResult::Error(431, "header section too large")
                          : ParseResult::Incomplete();
  };
  const char* cur = *p;
  for (;;) {
    if (cur >= end) return starved();
    if (*cur == '\r') {
      if (cur + 1 >= end) return starved();
      if (cur[1] != '\n') return ParseResult::Error(400, "bare CR in field section");
      *p = cur + 2;
      return ParseResult::Done();
    }
    if (headers->size() >= limits.max_headers) {
      return ParseResult::Error(431, "too many header fields");
    }
    FieldLine line;
    switch (ParseFieldLine(cur, end, &line)) {
      case LineStatus::kNeedMore:
        return starved();
      case LineStatus::kError:
        return ParseResult::Error(400, line.error);
      case LineStatus::kDone:
        break;
    }
    headers->push_back(Header{line.name, line.value});
    Absorb(headers->back(), summary);
    cur += line.length;
  }
}

ParseResult ResolveFraming(const FieldSummary& s, BodyKind* body) {
  if (s.content_length_invalid) return ParseResult::Error(400, "invalid Content-Length");
  if (s.content_length_conflict)
    return ParseResult::Error(400, "conflicting Content-Length values");
  if (s.has_transfer_encoding) {
    if (s.content_length_count > 0) {
      return ParseResult::Error(400, "Content-Length with Transfer-Encoding");
    }
    if (s.te_invalid) return ParseResult::Error(400, "invalid Transfer-Encoding");
    if (s.te_chunked_twice) return ParseResult::Error(400, "chunked applied more than once");
    if (!s.te_last_chunked) return ParseResult::Error(400, "final transfer coding is not chunked");
    // Bodies are forwarded verbatim with Transfer-Encoding normalised to "chunked", so any
    // other coding would be silently dropped: refuse it as not implemented (RFC 9112 §6.1).
    if (s.te_other_coding) return ParseResult::Error(501, "unsupported transfer coding");
    *body = BodyKind::kChunked;
  } else if (s.content_length_count > 0) {
    *body = BodyKind::kContentLength;
  } else {
    *body = BodyKind::kNone;
  }
  return ParseResult::Done();
}

bool IsValidHost(std::string_view host) {
  if (host.empty()) return false;
  std::string_view rest;
  if (host.front() == '[') {
    // IP-literal: IPv6address or IPvFuture; checked for its character set only.
    const size_t close = host.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (char c : host.substr(1, close - 1)) {
      if (c != ':' && !kRegNameChars[static_cast<uint8_t>(c)]) return false;
    }
    rest = host.substr(close + 1);
  } else {
    size_t i = 0;
    while (i < host.size() && kRegNameChars[static_cast<uint8_t>(host[i])]) ++i;
    if (i == 0) return false;
    rest = host.substr(i);
  }
  if (rest.empty()) return true;
  return rest.front() == ':' && IsPort(rest.substr(1));
}

}  // namespace outrigger::http::fields
