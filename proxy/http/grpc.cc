// gRPC over HTTP/2: call detection, deadlines, proxy-made statuses (grpc.h).
#include "proxy/http/grpc.h"

#include <cstdint>
#include <limits>

#include "proxy/http/fields.h"

namespace outrigger::http {

namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (Lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

}  // namespace

bool IsGrpcContentType(std::string_view content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (!StartsWithNoCase(content_type, kGrpc)) return false;
  if (content_type.size() == kGrpc.size()) return true;
  const char next = content_type[kGrpc.size()];
  return next == '+' || next == ';';
}

std::optional<int64_t> ParseGrpcTimeout(std::string_view value) {
  if (value.size() < 2 || value.size() > 9) return std::nullopt;
  int64_t digits = 0;
  for (char c : value.substr(0, value.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    digits = digits * 10 + (c - '0');  // at most 99999999: no overflow
  }
  int64_t unit_ns = 0;
  switch (value.back()) {
    case 'H':
      unit_ns = 3600LL * 1000000000LL;
      break;
    case 'M':
      unit_ns = 60LL * 1000000000LL;
      break;
    case 'S':
      unit_ns = 1000000000LL;
      break;
    case 'm':
      unit_ns = 1000000LL;
      break;
    case 'u':
      unit_ns = 1000LL;
      break;
    case 'n':
      unit_ns = 1LL;
      break;
    default:
      return std::nullopt;
  }
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  if (digits > kMax / unit_ns) return kMax;
  return digits * unit_ns;
}

GrpcStatus GrpcStatusForHttp(int http_status) {
  switch (http_status) {
    case 504:
      return GrpcStatus::kDeadlineExceeded;
    case 502:
    case 503:
    case 429:
      return GrpcStatus::kUnavailable;
    case 400:
      return GrpcStatus::kInternal;
    case 401:
      return GrpcStatus::kUnauthenticated;
    case 403:
      return GrpcStatus::kPermissionDenied;
    case 404:
      return GrpcStatus::kUnimplemented;
    case 413:
      return GrpcStatus::kResourceExhausted;
    default:
      return GrpcStatus::kUnknown;
  }
}

std::string EncodeGrpcMessage(std::string_view message) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(message.size());
  for (char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c <= 0x7E && c != '%') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

GrpcClass ClassifyGrpcStatus(std::string_view grpc_status) {
  if (grpc_status.empty() || grpc_status.size() > 2) return GrpcClass::kInvalid;
  int code = 0;
  for (char c : grpc_status) {
    if (c < '0' || c > '9') return GrpcClass::kInvalid;
    code = code * 10 + (c - '0');
  }
  if (code > 16) return GrpcClass::kInvalid;
  if (code == 0) return GrpcClass::kOk;
  switch (code) {
    case 1:
    case 3:
    case 5:
    case 6:
    case 7:
    case 9:
    case 11:
    case 12:
    case 16:
      return GrpcClass::kClient;
    default:
      return GrpcClass::kServer;
  }
}

GrpcClass ClassifyGrpcStatus(GrpcStatus status) {
  const int code = static_cast<int>(status);
  const char digits[2] = {static_cast<char>('0' + code / 10), static_cast<char>('0' + code % 10)};
  return code < 10 ? ClassifyGrpcStatus(std::string_view(digits + 1, 1))
                   : ClassifyGrpcStatus(std::string_view(digits, 2));
}

std::string_view GrpcStatusClass(std::string_view grpc_status) {
  static constexpr std::string_view kLabels[] = {"ok", "client", "server", "invalid"};
  return kLabels[static_cast<size_t>(ClassifyGrpcStatus(grpc_status))];
}

std::optional<std::string_view> FindGrpcStatus(std::span<const Header> fields) {
  for (const Header& h : fields) {
    if (fields::NameIs(h.name, "grpc-status")) return h.value;
  }
  return std::nullopt;
}

}  // namespace outrigger::http
