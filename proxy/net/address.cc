#include "proxy/net/address.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>

#include <charconv>
#include <cstring>

namespace outrigger::net {

SocketAddress::SocketAddress(const sockaddr* sa, socklen_t len) {
  if (len > sizeof(storage_)) len = sizeof(storage_);
  std::memcpy(&storage_, sa, len);
  length_ = len;
}

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  }
  return 0;
}

std::string SocketAddress::IpString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, buf,
              sizeof(buf));
  } else if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, buf,
              sizeof(buf));
  }
  return buf;
}

std::string SocketAddress::ToString() const {
  if (family() == AF_INET6) return fmt::format("[{}]:{}", IpString(), port());
  return fmt::format("{}:{}", IpString(), port());
}

SocketAddress SocketAddress::Unmapped() const {
  if (family() != AF_INET6) return *this;
  const auto& v6 = *reinterpret_cast<const sockaddr_in6*>(&storage_);
  if (!IN6_IS_ADDR_V4MAPPED(&v6.sin6_addr)) return *this;
  sockaddr_in v4{};
  v4.sin_family = AF_INET;
  v4.sin_port = v6.sin6_port;
  std::memcpy(&v4.sin_addr, &v6.sin6_addr.s6_addr[12], sizeof(v4.sin_addr));
  return SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4));
}

bool operator==(const SocketAddress& a, const SocketAddress& b) {
  return a.length_ == b.length_ && std::memcmp(&a.storage_, &b.storage_, a.length_) == 0;
}

absl::Status SplitHostPort(std::string_view text, std::string* host, uint16_t* port) {
  std::string_view h;
  std::string_view p;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return absl::InvalidArgumentError(
          fmt::format("invalid address \"{}\": expected [IPv6]:PORT", text));
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("invalid address \"{}\": expected HOST:PORT", text));
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) {
      return absl::InvalidArgumentError(
          fmt::format("invalid address \"{}\": write IPv6 addresses as [ADDR]:PORT", text));
    }
  }
  if (h.empty()) {
    return absl::InvalidArgumentError(fmt::format("invalid address \"{}\": empty host", text));
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || value > 65535) {
    return absl::InvalidArgumentError(
        fmt::format("invalid address \"{}\": port must be a number from 0 to 65535", text));
  }
  host->assign(h);
  *port = static_cast<uint16_t>(value);
  return absl::OkStatus();
}

absl::StatusOr<SocketAddress> ParseNumericAddress(std::string_view text) {
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = SplitHostPort(text, &host, &port); !s.ok()) return s;
  sockaddr_in v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    return SocketAddress(reinterpret_cast<sockaddr*>(&v4), sizeof(v4));
  }
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    return SocketAddress(reinterpret_cast<sockaddr*>(&v6), sizeof(v6));
  }
  return absl::InvalidArgumentError(
      fmt::format("invalid address \"{}\": \"{}\" is not an IP address", text, host));
}

absl::StatusOr<SocketAddress> ResolveAddress(std::string_view text) {
  if (auto numeric = ParseNumericAddress(text); numeric.ok()) return numeric;
  std::string host;
  uint16_t port = 0;
  if (absl::Status s = SplitHostPort(text, &host, &port); !s.ok()) return s;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res);
  if (rc != 0 || res == nullptr) {
    return absl::NotFoundError(fmt::format("cannot resolve \"{}\": {}", host, gai_strerror(rc)));
  }
  SocketAddress addr(res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (addr.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(const_cast<sockaddr*>(addr.sockaddr_ptr()))->sin_port =
        htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(const_cast<sockaddr*>(addr.sockaddr_ptr()))->sin6_port =
        htons(port);
  }
  return addr;
}

}  // namespace outrigger::net
