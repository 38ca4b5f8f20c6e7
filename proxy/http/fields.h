// Field syntax shared by the request parser, the response parser and the chunked framer's
// trailer section (RFC 9110 §5, RFC 9112 §5), plus the framing and connection checks both
// parsers apply to a head's fields. Internal to proxy/http: callers outside the codec use
// ParseRequestHead / ParseResponseHead.
//
// Every function here works on raw pointers into one contiguous buffer and never allocates;
// errors carry the request-side status (400/431/501) and the response parser maps them to 502.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proxy/http/limits.h"
#include "proxy/http/message.h"
#include "proxy/http/parse_result.h"

namespace outrigger::http::fields {

// tchar (RFC 9110 §5.6.2): the characters of methods, field names and coding names.
inline constexpr std::array<bool, 256> kTokenChars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<uint8_t>(c)] = true;
  return t;
}();

inline bool IsTokenChar(char c) { return kTokenChars[static_cast<uint8_t>(c)]; }
bool IsToken(std::string_view s);

// Case-insensitive match of a token (a field name, a coding) against a literal spelled in
// lowercase letters, digits and '-': OR-ing 0x20 maps no other token character onto those.
inline bool NameIs(std::string_view token, std::string_view lower) {
  if (token.size() != lower.size()) return false;
  for (size_t i = 0; i < token.size(); ++i) {
    if ((token[i] | 0x20) != lower[i]) return false;
  }
  return true;
}

inline bool IsOws(char c) { return c == ' ' || c == '\t'; }

// The value of a hexadecimal digit (either case), or -1.
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
std::string_view TrimOws(std::string_view s);

// Returns the first byte in [p, end) that may not appear in a field value (a control
// character other than HTAB, or DEL), or `end`. Bytes >= 0x80 (obs-text) are allowed.
const char* ScanFieldValue(const char* p, const char* end);

// Returns the first byte in [p, end) outside VCHAR (0x21..0x7e), or `end`: the extent of a
// request-target, which may hold no spaces, control characters or non-ASCII bytes.
const char* ScanVisible(const char* p, const char* end);

enum class LineStatus : uint8_t { kNeedMore, kDone, kError };

enum class VersionStatus : uint8_t { kNeedMore, kOk, kMalformed, kUnsupported };

// Parses the 8-byte HTTP-version "HTTP/" DIGIT "." DIGIT at `p`, judging a prefix as far as
// it goes. Only HTTP/1.0 and HTTP/1.1 are kOk; other well-formed versions are kUnsupported.
VersionStatus ParseHttpVersion(const char* p, const char* end, int* minor);
inline constexpr size_t kHttpVersionLength = 8;

struct FieldLine {
  std::string_view name;
  std::string_view value;  // OWS trimmed
  size_t length = 0;       // bytes of the line including its CRLF
  std::string_view error;  // for kError: a short static explanation
};

// Parses the field line at `p` (REQUIRES: p < end and the line is not the empty line, i.e.
// *p != '\r'). kNeedMore means the line is a valid prefix that has not ended by `end`.
LineStatus ParseFieldLine(const char* p, const char* end, FieldLine* out);

// Parses a Content-Length value: 1*DIGIT, or a list whose members are all the same number
// ("5, 5"), with no sign, no "0x", and no overflow past 2^63 - 1.
bool ParseContentLength(std::string_view value, uint64_t* out);

// What a head's fields say about framing, connection handling and routing, gathered in one
// pass over the fields so each parser only evaluates the result.
struct FieldSummary {
  int host_count = 0;
  std::string_view host;

  int content_length_count = 0;
  bool content_length_invalid = false;
  bool content_length_conflict = false;  // two valid values that differ
  uint64_t content_length = 0;

  // Transfer-Encoding, across all its field lines in order.
  bool has_transfer_encoding = false;
  bool te_invalid = false;       // an element that is not a coding name
  bool te_last_chunked = false;  // the final coding seen so far is chunked
  bool te_chunked_seen = false;
  bool te_chunked_twice = false;  // chunked applied more than once
  bool te_other_coding = false;   // a coding other than chunked

  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;

  std::string_view upgrade;  // first Upgrade field's value
  bool upgrade_websocket = false;
  bool expect_continue = false;
};

// Parses field lines from `*p` through the empty line that ends the head, appending each to
// `*headers` and folding the special ones into `*summary`. `head_start` is the first byte
// of the head (for the max_head limit) and `data_end` the end of all received bytes. On
// kDone, `*p` points just past the empty line.
ParseResult ParseFieldSection(const char* head_start, const char* data_end,
                              const HeadLimits& limits, const char** p,
                              std::vector<Header>* headers, FieldSummary* summary);

// Resolves Content-Length / Transfer-Encoding into a body kind for a message that may carry a
// body (RFC 9112 §6.3), with the request-side status for each violation.
ParseResult ResolveFraming(const FieldSummary& summary, BodyKind* body);

// Host (RFC 9110 §7.2): uri-host [ ":" port ] with a reg-name, IPv4 or IP-literal host; no
// userinfo, path or whitespace.
bool IsValidHost(std::string_view host);

// Clears a parsed head for reuse while keeping its header vector's capacity, so a
// connection parses head after head without allocating.
template <typename Head>
void ResetHeadKeepingCapacity(Head* head) {
  std::vector<Header> headers = std::move(head->headers);
  headers.clear();
  *head = Head();
  head->headers = std::move(headers);
}

}  // namespace outrigger::http::fields
