// Socket addresses for listeners and backends: parsed from "ip:port", "[v6]:port" or
// "host:port" (the host resolved once, at config load).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace outrigger::net {

class SocketAddress {
 public:
  SocketAddress() = default;
  SocketAddress(const sockaddr* sa, socklen_t len);

  const sockaddr* sockaddr_ptr() const { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t length() const { return length_; }
  int family() const { return storage_.ss_family; }
  uint16_t port() const;
  bool valid() const { return length_ != 0; }

  // "127.0.0.1:8080" or "[::1]:8080": the label backends carry in metrics.
  std::string ToString() const;
  // "127.0.0.1" or "::1": what X-Forwarded-For carries.
  std::string IpString() const;
  // An IPv4-mapped IPv6 address ([::ffff:a.b.c.d]:port) as the IPv4 address it stands for;
  // any other as it is. Both name the same IPv4 endpoint: compare listen addresses this way.
  SocketAddress Unmapped() const;

  friend bool operator==(const SocketAddress& a, const SocketAddress& b);
  template <typename H>
  friend H AbslHashValue(H h, const SocketAddress& a) {
    return H::combine(std::move(h), a.ToString());
  }

 private:
  sockaddr_storage storage_{};
  socklen_t length_ = 0;
};

// Splits "host:port" / "[v6]:port" into its parts. Errors name what is wrong.
absl::Status SplitHostPort(std::string_view text, std::string* host, uint16_t* port);

// Parses a numeric "ip:port" or "[v6]:port" without any lookup.
absl::StatusOr<SocketAddress> ParseNumericAddress(std::string_view text);

// Parses "host:port", resolving a name with getaddrinfo (blocking: control thread only).
// A name with several addresses yields the first.
absl::StatusOr<SocketAddress> ResolveAddress(std::string_view text);

}  // namespace outrigger::net
