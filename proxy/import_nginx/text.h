// String helpers on std::string_view. Debian's Abseil (20220623) has its own string_view
// type, so absl::StrCat and friends do not take std::string_view; this folder uses these.
#pragma once

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace outrigger::import_nginx {

template <typename T>
void AppendOne(std::string& out, const T& v) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    out.append(std::string_view(v));
  } else {
    out.append(fmt::to_string(v));
  }
}

template <typename... T>
std::string Cat(const T&... v) {
  std::string out;
  (AppendOne(out, v), ...);
  return out;
}

template <typename... T>
void Append(std::string* out, const T&... v) {
  (AppendOne(*out, v), ...);
}

inline bool StartsWith(std::string_view s, std::string_view p) { return s.starts_with(p); }
inline bool EndsWith(std::string_view s, std::string_view p) { return s.ends_with(p); }
inline bool Contains(std::string_view s, std::string_view p) {
  return s.find(p) != std::string_view::npos;
}

inline std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

inline bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ToLower(a) == ToLower(b);
}

inline std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i != 0) out.append(sep);
    out.append(parts[i]);
  }
  return out;
}

inline std::string ReplaceAll(std::string_view s, char from, std::string_view to) {
  std::string out;
  for (char c : s) {
    if (c == from) {
      out.append(to);
    } else {
      out += c;
    }
  }
  return out;
}

// The whole of `s` as a decimal integer.
template <typename Int>
bool ToInt(std::string_view s, Int* out) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace outrigger::import_nginx
