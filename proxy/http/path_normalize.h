// Request-target path normalization, so routing and the backend see the same path: a proxy
// that routes on the raw target while the application normalizes before it dispatches lets
// "/x/../admin", "/%61dmin" or "//admin" past a route meant for "/admin/" (issue 21).
//
// The path part (up to the first '?') of an origin-form target is rewritten as:
//   - escapes of unreserved characters (RFC 3986 §2.3: ALPHA DIGIT - . _ ~) are decoded
//     ("%61" → "a", "%2e" → "."), every other escape has its hex digits uppercased;
//   - dot segments are removed (RFC 3986 §5.2.4), after decoding, so "%2e%2e" counts;
//     a "." or ".." last segment leaves a trailing slash ("/a/b/.." → "/a/");
//   - with merge_slashes, runs of '/' become one;
//   - "%2F" and "%5C" follow escaped_slashes: kept as they are (never a separator), the
//     target refused, or "%2F" decoded into a separator ("%5C" then counts as a backslash).
// Refused (400): dot segments climbing above the root, a raw backslash, a NUL or another
// control character (raw or escaped), a '%' not followed by two hex digits.
// The query is never touched. Targets that do not start with '/' ("*", authority-form) are
// left alone.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace outrigger::http {

enum class EscapedSlashes : uint8_t {
  kKeep,    // "%2F" / "%5C" stay encoded, uppercased, and are never separators
  kReject,  // a target holding either is refused
  kDecode,  // "%2F" becomes '/', a separator like any other; "%5C" is refused like '\'
};

struct PathNormalizeOptions {
  bool merge_slashes = true;
  EscapedSlashes escaped_slashes = EscapedSlashes::kKeep;
};

enum class PathVerdict : uint8_t {
  kNormal,     // the target is already normal: use it as it is; `out` untouched
  kRewritten,  // `out` holds the normalized target (path and query)
  kInvalid,    // answer 400; the reason says why
};

struct PathNormalizeResult {
  PathVerdict verdict = PathVerdict::kNormal;
  std::string_view reason;  // kInvalid only: static text for the 400 page
};

// Normalizes `target` (origin-form: path and optional query). Checks first and rewrites only
// when needed, so an already-normal target costs one scan and no allocation; a rewrite goes
// to `*out` (cleared first; reuse it to keep its capacity).
PathNormalizeResult NormalizePath(std::string_view target, const PathNormalizeOptions& options,
                                  std::string* out);

}  // namespace outrigger::http
