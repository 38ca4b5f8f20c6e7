#include "proxy/http/path_normalize.h"

#include <array>

#include "proxy/http/fields.h"

namespace outrigger::http {
namespace {

using fields::HexValue;

bool IsUpperHex(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

// RFC 3986 §2.3.
bool IsUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

bool IsDotSegment(std::string_view seg) { return seg == "." || seg == ".."; }

// The bytes NeedsWork looks at more closely: '/', '%', '?', '\\' and the control characters.
constexpr std::array<bool, 256> kSpecial = [] {
  std::array<bool, 256> special{};
  for (int c = 0; c < 0x20; ++c) special[c] = true;
  special[0x7f] = special['/'] = special['%'] = special['?'] = special['\\'] = true;
  return special;
}();

// True when the path part of `target` (up to '?'; starts with '/') might change or be
// refused: the cheap check that keeps already-normal targets off the rewriting path. False
// means NormalizePath would return it unchanged. One pass and one table lookup per ordinary
// byte; a dot segment or a repeated slash is seen from the separator before it.
bool NeedsWork(std::string_view target, const PathNormalizeOptions& options) {
  const char* p = target.data();
  const size_t n = target.size();
  const auto path_ends_at = [p, n](size_t j) { return j >= n || p[j] == '?'; };
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (!kSpecial[c]) continue;
    if (c == '?') return false;
    if (c == '/') {
      if (path_ends_at(i + 1)) continue;
      if (p[i + 1] == '/') {
        if (options.merge_slashes) return true;
      } else if (p[i + 1] == '.') {
        if (path_ends_at(i + 2) || p[i + 2] == '/') return true;  // a "." segment
        if (p[i + 2] == '.' && (path_ends_at(i + 3) || p[i + 3] == '/')) return true;  // ".."
      }
      continue;
    }
    if (c != '%') return true;  // a backslash or a control character
    if (i + 2 >= n || !IsUpperHex(p[i + 1]) || !IsUpperHex(p[i + 2])) return true;
    const auto v = static_cast<unsigned char>(HexValue(p[i + 1]) * 16 + HexValue(p[i + 2]));
    if (IsUnreserved(v) || IsControl(v)) return true;
    if ((v == '/' || v == '\\') && options.escaped_slashes != EscapedSlashes::kKeep) return true;
    i += 2;
  }
  return false;
}

PathNormalizeResult Invalid(std::string_view reason) { return {PathVerdict::kInvalid, reason}; }

}  // namespace

PathNormalizeResult NormalizePath(std::string_view target, const PathNormalizeOptions& options,
                                  std::string* out) {
  if (target.empty() || target.front() != '/') return {};
  if (!NeedsWork(target, options)) return {};
  const size_t query = target.find('?');
  const std::string_view path = target.substr(0, query);

  out->clear();
  out->reserve(target.size());
  // One pass, segment by segment: each segment's bytes are decoded onto `out` after its
  // '/', then judged as a whole (a dot segment may have been spelled "%2e").
  size_t i = 0;  // at a separator: path[i] == '/' or a "%2F" being decoded
  for (bool more = true; more;) {
    i += path[i] == '/' ? 1 : 3;
    const size_t segment_at = out->size();
    out->push_back('/');
    while (i < path.size() && path[i] != '/') {
      const auto c = static_cast<unsigned char>(path[i]);
      if (c == '\\') return Invalid("backslash in request target");
      if (IsControl(c)) return Invalid("control character in request target");
      if (c != '%') {
        out->push_back(static_cast<char>(c));
        ++i;
        continue;
      }
      const int hi = i + 2 < path.size() ? HexValue(path[i + 1]) : -1;
      const int lo = hi >= 0 ? HexValue(path[i + 2]) : -1;
      if (lo < 0) return Invalid("malformed percent-encoding in request target");
      const auto v = static_cast<unsigned char>(hi * 16 + lo);
      if (IsControl(v)) return Invalid("encoded control character in request target");
      if (v == '/' || v == '\\') {
        if (options.escaped_slashes == EscapedSlashes::kReject) {
          return Invalid("encoded slash or backslash in request target");
        }
        if (options.escaped_slashes == EscapedSlashes::kDecode) {
          if (v == '\\') return Invalid("encoded backslash in request target");
          break;  // a separator: ends the segment
        }
      }
      if (IsUnreserved(v)) {
        out->push_back(static_cast<char>(v));
      } else {
        constexpr char kHex[] = "0123456789ABCDEF";
        out->push_back('%');
        out->push_back(kHex[v >> 4]);
        out->push_back(kHex[v & 0xF]);
      }
      i += 3;
    }
    const bool last = i >= path.size();
    const std::string_view decoded = std::string_view(*out).substr(segment_at + 1);
    if (decoded.empty()) {
      if (!last && options.merge_slashes) out->resize(segment_at);
    } else if (IsDotSegment(decoded)) {
      out->resize(segment_at);
      if (decoded.size() == 2) {  // "..": drop the segment before it
        if (out->empty()) return Invalid("request target climbs above the root");
        out->resize(out->rfind('/'));
      }
      if (last) out->push_back('/');
    }
    more = !last;
  }
  if (out->empty()) out->push_back('/');
  if (query != std::string_view::npos) out->append(target.substr(query));
  return {PathVerdict::kRewritten, {}};
}

}  // namespace outrigger::http
