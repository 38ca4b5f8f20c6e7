#include "proxy/import_nginx/values.h"

#include <cctype>
#include <utility>

#include "absl/strings/str_format.h"
#include "proxy/import_nginx/text.h"

namespace outrigger::import_nginx {

std::optional<int64_t> ParseNginxTime(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    if (i == start) return std::nullopt;
    int64_t n = 0;
    if (!ToInt(text.substr(start, i - start), &n) || n > 1'000'000'000) {
      return std::nullopt;
    }
    int64_t unit = 1000;  // a bare number is seconds
    if (i < text.size()) {
      if (text.substr(i, 2) == "ms") {
        unit = 1;
        i += 2;
      } else {
        switch (text[i]) {
          case 's':
            unit = 1000;
            break;
          case 'm':
            unit = 60'000;
            break;
          case 'h':
            unit = 3'600'000;
            break;
          case 'd':
            unit = 86'400'000;
            break;
          case 'w':
            unit = 7 * int64_t{86'400'000};
            break;
          default:
            return std::nullopt;
        }
        ++i;
      }
    } else if (start != 0) {
      return std::nullopt;  // "1m30": the trailing number needs a unit
    }
    total += n * unit;
  }
  return total;
}

std::string FormatDuration(int64_t ms) {
  if (ms != 0 && ms % 3'600'000 == 0) return Cat(ms / 3'600'000, "h");
  if (ms != 0 && ms % 60'000 == 0) return Cat(ms / 60'000, "m");
  if (ms % 1000 == 0) return Cat(ms / 1000, "s");
  return Cat(ms, "ms");
}

std::optional<uint64_t> ParseNginxSize(std::string_view text) {
  if (text.empty()) return std::nullopt;
  uint64_t unit = 1;
  char last = static_cast<char>(std::tolower(static_cast<unsigned char>(text.back())));
  if (last == 'k' || last == 'm' || last == 'g') {
    unit = last == 'k' ? 1024 : last == 'm' ? 1024 * 1024 : 1024 * 1024 * 1024;
    text.remove_suffix(1);
  }
  uint64_t n = 0;
  if (!ToInt(text, &n) || n > (uint64_t{1} << 40) / unit) return std::nullopt;
  return n * unit;
}

std::string FormatByteSize(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024, kMiB = kKiB * 1024, kGiB = kMiB * 1024;
  if (bytes != 0 && bytes % kGiB == 0) return Cat(bytes / kGiB, "GiB");
  if (bytes != 0 && bytes % kMiB == 0) return Cat(bytes / kMiB, "MiB");
  if (bytes != 0 && bytes % kKiB == 0) return Cat(bytes / kKiB, "KiB");
  return Cat(bytes);
}

namespace {

bool IsPort(std::string_view p) {
  int n = 0;
  return ToInt(p, &n) && n >= 1 && n <= 65535 &&
         p.find_first_not_of("0123456789") == std::string_view::npos;
}

bool IsIpv4(std::string_view h) {
  int dots = 0;
  for (char c : h) {
    if (c == '.')
      ++dots;
    else if (!std::isdigit(static_cast<unsigned char>(c)))
      return false;
  }
  return dots == 3;
}

// Splits "host:port", "[v6]:port", "host", "port-only" (when `bare_is_port`).
bool SplitHostPort(std::string_view text, bool bare_is_port, std::string& host, std::string& port) {
  if (StartsWith(text, "[")) {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = std::string(text.substr(0, close + 1));
    std::string_view rest = text.substr(close + 1);
    if (rest.empty()) return true;
    if (rest[0] != ':') return false;
    port = std::string(rest.substr(1));
    return IsPort(port);
  }
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    if (bare_is_port && IsPort(text)) {
      port = std::string(text);
    } else {
      host = std::string(text);
    }
    return true;
  }
  host = std::string(text.substr(0, colon));
  port = std::string(text.substr(colon + 1));
  return IsPort(port);
}

}  // namespace

std::optional<std::string> ListenAddress(std::string_view text) {
  if (StartsWith(text, "unix:")) return std::nullopt;
  std::string host, port = "80";
  if (!SplitHostPort(text, true, host, port)) return std::nullopt;
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  if (!IsIpv4(host) && !StartsWith(host, "[")) return std::nullopt;
  return Cat(host, ":", port);
}

std::optional<std::string> ServerAddress(std::string_view text) {
  if (StartsWith(text, "unix:")) return std::nullopt;
  std::string host, port = "80";
  if (!SplitHostPort(text, false, host, port) || host.empty()) return std::nullopt;
  return Cat(host, ":", port);
}

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      // A line break inside quotes would fold into a space: escaped, the value stays exact.
      absl::StrAppendFormat(&out, "\\x%02x", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

std::optional<std::string> NginxTemplate(std::string_view value, std::string* unknown) {
  static constexpr std::pair<std::string_view, std::string_view> kVars[] = {
      {"host", "host"},
      {"request_uri", "request_uri"},
      {"scheme", "scheme"},
      {"remote_addr", "remote_addr"},
      {"request_id", "request_id"},
      {"uri", "path"},
      {"args", "query"},
      {"query_string", "query"}};
  std::string out;
  for (size_t i = 0; i < value.size();) {
    if (value[i] != '$') {
      out.push_back(value[i++]);
      continue;
    }
    size_t start = i + 1, end;
    const bool braced = start < value.size() && value[start] == '{';
    if (braced) {
      end = value.find('}', ++start);
      if (end == std::string_view::npos) end = value.size();
    } else {
      end = start;
      while (end < value.size() &&
             (std::isalnum(static_cast<unsigned char>(value[end])) || value[end] == '_')) {
        ++end;
      }
    }
    const std::string_view name = value.substr(start, end - start);
    const std::pair<std::string_view, std::string_view>* found = nullptr;
    for (const auto& v : kVars) {
      if (v.first == name) found = &v;
    }
    if (found == nullptr) {
      *unknown = "$" + std::string(name);
      return std::nullopt;
    }
    i = braced ? end + 1 : end;
    const bool name_follows =
        i < value.size() && (std::isalnum(static_cast<unsigned char>(value[i])) || value[i] == '_');
    out += name_follows ? "${" : "$";
    out += found->second;
    if (name_follows) out += "}";
  }
  return out;
}

}  // namespace outrigger::import_nginx
