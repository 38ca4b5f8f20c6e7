// An IPv4 or IPv6 network prefix, for trusted_proxies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "proxy/net/address.h"

namespace outrigger::net {

class Cidr {
 public:
  // True when `ip` (an address's IP, port ignored) lies inside this prefix. An IPv4-mapped
  // IPv6 address (::ffff:a.b.c.d) matches the IPv4 prefix it maps.
  bool Contains(const SocketAddress& ip) const;
  // Same, for a textual IP ("10.1.2.3", "::1"); false when it does not parse.
  bool Contains(std::string_view ip) const;
  std::string ToString() const;

  friend absl::StatusOr<Cidr> ParseCidr(std::string_view text);

 private:
  int family_ = 0;                   // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes_{};  // network address, host bits zero
  int prefix_len_ = 0;
};

// "10.0.0.0/8", "192.168.1.7" (= /32), "fd00::/8", "::1" (= /128). Host bits set beyond the
// prefix are an error, as in most tools (so a typo like 10.0.0.1/8 is caught).
absl::StatusOr<Cidr> ParseCidr(std::string_view text);

// A textual IP ("10.1.2.3", "::1") as an address with port 0; nullopt when it does not parse.
std::optional<SocketAddress> ParseIp(std::string_view ip);

}  // namespace outrigger::net
