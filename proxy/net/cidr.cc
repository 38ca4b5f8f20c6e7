#include "proxy/net/cidr.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>

namespace outrigger::net {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// True when the first `bits` bits of `a` and `b` are equal.
bool PrefixEqual(const uint8_t* a, const uint8_t* b, int bits) {
  int whole = bits / 8;
  if (std::memcmp(a, b, whole) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

bool Cidr::Contains(const SocketAddress& ip) const {
  const uint8_t* bytes = nullptr;
  int family = ip.family();
  if (family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(ip.sockaddr_ptr())->sin_addr);
  } else if (family == AF_INET6) {
    bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in6*>(ip.sockaddr_ptr())->sin6_addr);
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d; they belong to IPv4 prefixes.
    if (family_ == AF_INET &&
        std::memcmp(bytes, kV4MappedPrefix.data(), kV4MappedPrefix.size()) == 0) {
      bytes += kV4MappedPrefix.size();
      family = AF_INET;
    }
  }
  if (bytes == nullptr || family != family_) return false;
  return PrefixEqual(bytes, bytes_.data(), prefix_len_);
}

bool Cidr::Contains(std::string_view ip) const {
  std::optional<SocketAddress> address = ParseIp(ip);
  return address && Contains(*address);
}

std::optional<SocketAddress> ParseIp(std::string_view ip) {
  // inet_pton wants a terminated string; an IP never needs more than this (no allocation).
  char buf[INET6_ADDRSTRLEN + 1] = {};
  if (ip.size() >= sizeof(buf)) return std::nullopt;
  std::memcpy(buf, ip.data(), ip.size());
  sockaddr_in6 v6{};
  if (inet_pton(AF_INET6, buf, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    return SocketAddress(reinterpret_cast<const sockaddr*>(&v6), sizeof(v6));
  }
  sockaddr_in v4{};
  if (inet_pton(AF_INET, buf, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    return SocketAddress(reinterpret_cast<const sockaddr*>(&v4), sizeof(v4));
  }
  return std::nullopt;
}

std::string Cidr::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family_, bytes_.data(), buf, sizeof(buf));
  return fmt::format("{}/{}", buf, prefix_len_);
}

absl::StatusOr<Cidr> ParseCidr(std::string_view text) {
  auto invalid = [&](std::string_view why) {
    return absl::InvalidArgumentError(fmt::format("invalid CIDR \"{}\": {}", text, why));
  };
  size_t slash = text.find('/');
  std::string_view ip = text.substr(0, slash);
  char buf[INET6_ADDRSTRLEN + 1] = {};
  if (ip.empty() || ip.size() >= sizeof(buf)) {
    return invalid("expected an IP address or ADDRESS/LENGTH, e.g. 10.0.0.0/8");
  }
  std::memcpy(buf, ip.data(), ip.size());
  Cidr cidr;
  if (inet_pton(AF_INET, buf, cidr.bytes_.data()) == 1) {
    cidr.family_ = AF_INET;
  } else if (inet_pton(AF_INET6, buf, cidr.bytes_.data()) == 1) {
    cidr.family_ = AF_INET6;
  } else {
    return invalid(fmt::format("\"{}\" is not an IP address", ip));
  }
  int max_len = cidr.family_ == AF_INET ? 32 : 128;
  cidr.prefix_len_ = max_len;
  if (slash != std::string_view::npos) {
    std::string_view len = text.substr(slash + 1);
    int value = -1;
    auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
    if (len.empty() || ec != std::errc() || end != len.data() + len.size() || value < 0 ||
        value > max_len) {
      return invalid(fmt::format("prefix length must be a number from 0 to {}", max_len));
    }
    cidr.prefix_len_ = value;
  }
  int bytes = max_len / 8;
  for (int bit = cidr.prefix_len_; bit < bytes * 8; ++bit) {
    if (cidr.bytes_[bit / 8] & (0x80 >> (bit % 8))) {
      Cidr network = cidr;
      for (int b = cidr.prefix_len_; b < bytes * 8; ++b) {
        network.bytes_[b / 8] &= static_cast<uint8_t>(~(0x80 >> (b % 8)));
      }
      return invalid(fmt::format("host bits are set beyond the /{} prefix; did you mean {}?",
                                 cidr.prefix_len_, network.ToString()));
    }
  }
  return cidr;
}

}  // namespace outrigger::net
