// DnsResolver: asynchronous A / AAAA look-ups on a libevent loop, with c-ares.
//
// Why c-ares and not libevent's evdns: evdns (2.1) sends no EDNS0 and has no TCP fallback,
// so a name with more than ~30 A records (a 512-byte UDP answer) fails as "truncated".
// c-ares advertises a 1232-byte EDNS0 buffer, retries a truncated answer over TCP, and
// applies resolv.conf's search list and ndots as glibc does, all without blocking.
//
// Thread contract: one thread — the loop's. Construction, every call and every callback
// happen on it. A callback never runs after the resolver is destroyed or reconfigured
// (the look-ups in flight are then dropped without a call), and must not call Configure.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

struct ares_channeldata;
struct ares_addrinfo;

namespace outrigger::net {

class DnsResolver {
 public:
  // The addresses of one family (with the port asked for), or an error. A name that does
  // not exist or has no record of that family is an answer: ok and empty.
  using Callback = std::function<void(absl::StatusOr<std::vector<SocketAddress>>)>;

  // REQUIRES: `base` outlives this object.
  explicit DnsResolver(event_base* base);
  ~DnsResolver();
  DnsResolver(const DnsResolver&) = delete;
  DnsResolver& operator=(const DnsResolver&) = delete;

  // `server`: ask only it (no search list, no /etc/hosts); nullopt: the nameservers, search
  // list and ndots of /etc/resolv.conf, then /etc/hosts. Drops the look-ups in flight.
  absl::Status Configure(const std::optional<SocketAddress>& server);

  // Looks `host` up for `family` (AF_INET or AF_INET6). `done` may run before this
  // returns (a name in /etc/hosts, a query that cannot be sent). One try waits `kTryMs`,
  // the second twice that: a look-up ends within 3 × kTryMs even with the server gone.
  void Resolve(const std::string& host, int family, uint16_t port, Callback done);

  static constexpr int kTryMs = 2000;

 private:
  struct Lookup;
  void Destroy();
  void ArmTimer();
  static void OnSocketState(void* self, int fd, int readable, int writable);
  static void OnSocket(evutil_socket_t fd, short what, void* self);
  static void OnTimer(evutil_socket_t, short, void* self);
  static void OnAnswer(void* lookup, int status, int timeouts, ares_addrinfo* result);

  event_base* const base_;
  ares_channeldata* channel_ = nullptr;
  std::map<int, EventPtr> sockets_;  // c-ares' sockets and what it waits for on each
  EventPtr timer_;                   // c-ares' next retry or timeout
};

}  // namespace outrigger::net
