// Fuzzes NormalizePath (http/path_normalize.h). The first input byte picks the options (bit 0:
// merge_slashes off; (byte >> 1) % 3: escaped_slashes keep, reject, decode), the rest is the
// target ('/' is put in front when it does not start with one). Beyond the sanitizers, a run
// checks that the output is a fixed point (normalizing it again leaves it alone), holds no
// dot segment, no "//" when merging, no raw backslash or control byte, no escape that should
// have been decoded or uppercased, and that with escaped_slashes: keep no '/' came from a
// decoded "%2F": every output segment is one of the input's segments, decoded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "proxy/http/path_normalize.h"

namespace outrigger::http {
namespace {

int Hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool Unreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  while (true) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) return out;
    path.remove_prefix(slash + 1);
  }
}

// A reference decoding of one segment: unreserved escapes decoded, the others uppercased.
std::string Decoded(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && Hex(s[i + 1]) >= 0 && Hex(s[i + 2]) >= 0) {
      const auto v = static_cast<unsigned char>(Hex(s[i + 1]) * 16 + Hex(s[i + 2]));
      if (Unreserved(v)) {
        out.push_back(static_cast<char>(v));
      } else {
        constexpr char kHex[] = "0123456789ABCDEF";
        out += {'%', kHex[v >> 4], kHex[v & 0xF]};
      }
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

void CheckNormal(std::string_view target, const PathNormalizeOptions& options) {
  const std::string_view path = target.substr(0, target.find('?'));
  FUZZ_CHECK(!path.empty() && path.front() == '/');
  const std::vector<std::string_view> segments = Segments(path);
  for (size_t i = 0; i < segments.size(); ++i) {
    FUZZ_CHECK(segments[i] != "." && segments[i] != "..");
    if (options.merge_slashes) FUZZ_CHECK(!segments[i].empty() || i + 1 == segments.size());
  }
  for (size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    FUZZ_CHECK(c != '\\' && c >= 0x20 && c != 0x7f);
    if (c != '%') continue;
    FUZZ_CHECK(i + 2 < path.size());
    const int hi = Hex(path[i + 1]);
    const int lo = Hex(path[i + 2]);
    FUZZ_CHECK(hi >= 0 && lo >= 0 && !(path[i + 1] >= 'a') && !(path[i + 2] >= 'a'));
    const auto v = static_cast<unsigned char>(hi * 16 + lo);
    FUZZ_CHECK(!Unreserved(v) && v >= 0x20 && v != 0x7f);
    if (options.escaped_slashes != EscapedSlashes::kKeep) FUZZ_CHECK(v != '/' && v != '\\');
  }
}

}  // namespace
}  // namespace outrigger::http

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace outrigger::http;
  if (size == 0) return 0;
  PathNormalizeOptions options;
  options.merge_slashes = (data[0] & 1) == 0;
  options.escaped_slashes = static_cast<EscapedSlashes>((data[0] >> 1) % 3);
  std::string target(reinterpret_cast<const char*>(data + 1), size - 1);
  if (target.empty() || target.front() != '/') target.insert(0, 1, '/');

  std::string out;
  const PathNormalizeResult r = NormalizePath(target, options, &out);
  if (r.verdict == PathVerdict::kInvalid) {
    FUZZ_CHECK(!r.reason.empty());
    return 0;
  }
  const std::string_view result = r.verdict == PathVerdict::kNormal ? target : out;
  CheckNormal(result, options);

  std::string again;
  FUZZ_CHECK(NormalizePath(result, options, &again).verdict == PathVerdict::kNormal);

  // The query is carried over byte for byte.
  const size_t q = target.find('?');
  const std::string_view query = q == std::string::npos ? "" : std::string_view(target).substr(q);
  FUZZ_CHECK(result.size() >= query.size() && result.substr(result.size() - query.size()) == query);
  FUZZ_CHECK(result.find('?') == result.size() - query.size() || query.empty());

  if (options.escaped_slashes == EscapedSlashes::kKeep) {
    const std::string_view in_path = std::string_view(target).substr(0, q);
    std::vector<std::string> decoded;
    for (std::string_view s : Segments(in_path)) decoded.push_back(Decoded(s));
    const std::string_view out_path = result.substr(0, result.find('?'));
    for (std::string_view s : Segments(out_path)) {
      if (s.empty()) continue;
      bool found = false;
      for (const std::string& d : decoded) found |= d == s;
      FUZZ_CHECK(found);
    }
  }
  return 0;
}
