#include "proxy/net/dns_resolver.h"

#include <ares.h>
#include <arpa/inet.h>
#include <fmt/format.h>

#include <cstring>
#include <memory>
#include <mutex>

namespace outrigger::net {
namespace {

// The EDNS0 buffer size of DNS Flag Day 2020: no IP fragmentation on any usual path.
// Larger answers come back truncated and are asked again over TCP.
constexpr int kEdnsPayload = 1232;
constexpr int kTries = 2;
char kDnsOnly[] = "b";  // c-ares' lookups: DNS only, no /etc/hosts

void InitCaresOnce() {
  static std::once_flag once;
  std::call_once(once, [] { ares_library_init(ARES_LIB_INIT_ALL); });
}

void SetPort(SocketAddress& address, uint16_t port) {
  auto* sa = const_cast<sockaddr*>(address.sockaddr_ptr());
  if (sa->sa_family == AF_INET) {
    reinterpret_cast<sockaddr_in*>(sa)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(sa)->sin6_port = htons(port);
  }
}

}  // namespace

struct DnsResolver::Lookup {
  DnsResolver* owner;
  int family;
  uint16_t port;
  Callback done;
};

DnsResolver::DnsResolver(event_base* base)
    : base_(base), timer_(evtimer_new(base, &DnsResolver::OnTimer, this)) {
  InitCaresOnce();
}

DnsResolver::~DnsResolver() { Destroy(); }

void DnsResolver::Destroy() {
  if (channel_ == nullptr) return;
  // Calls every pending look-up back with ARES_EDESTRUCTION (dropped in OnAnswer) and
  // closes its sockets through OnSocketState, so sockets_ must still be here.
  ares_destroy(channel_);
  channel_ = nullptr;
  sockets_.clear();
  evtimer_del(timer_.get());
}

absl::Status DnsResolver::Configure(const std::optional<SocketAddress>& server) {
  Destroy();
  ares_options options{};
  int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_EDNSPSZ |
             ARES_OPT_SOCK_STATE_CB;
  options.flags = ARES_FLAG_EDNS;
  options.timeout = kTryMs;
  options.tries = kTries;
  options.ednspsz = kEdnsPayload;
  options.sock_state_cb = &DnsResolver::OnSocketState;
  options.sock_state_cb_data = this;
  if (server) {
    // As evdns did with an explicit resolver: the name as written, asked of it alone.
    options.flags |= ARES_FLAG_NOSEARCH;
    options.lookups = kDnsOnly;
    mask |= ARES_OPT_LOOKUPS;
  }
  ares_channel channel = nullptr;
  if (int rc = ares_init_options(&channel, &options, mask); rc != ARES_SUCCESS) {
    return absl::InternalError(fmt::format("cannot start the resolver: {}", ares_strerror(rc)));
  }
  channel_ = channel;
  if (!server) return absl::OkStatus();
  ares_addr_port_node node{};
  node.family = server->family();
  const sockaddr* sa = server->sockaddr_ptr();
  if (node.family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(&node.addr.addr4, &sin->sin_addr, sizeof(sin->sin_addr));
    node.udp_port = node.tcp_port = ntohs(sin->sin_port);
  } else {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    std::memcpy(&node.addr.addr6, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
    node.udp_port = node.tcp_port = ntohs(sin6->sin6_port);
  }
  if (int rc = ares_set_servers_ports(channel_, &node); rc != ARES_SUCCESS) {
    return absl::InvalidArgumentError(
        fmt::format("cannot use resolver {}: {}", server->ToString(), ares_strerror(rc)));
  }
  return absl::OkStatus();
}

void DnsResolver::Resolve(const std::string& host, int family, uint16_t port, Callback done) {
  if (channel_ == nullptr) {
    done(absl::FailedPreconditionError("no resolver"));
    return;
  }
  auto lookup = std::make_unique<Lookup>(Lookup{this, family, port, std::move(done)});
  ares_addrinfo_hints hints{};
  hints.ai_family = family;
  hints.ai_flags = ARES_AI_NOSORT;
  // c-ares owns the Lookup until OnAnswer, which it calls exactly once.
  ares_getaddrinfo(channel_, host.c_str(), nullptr, &hints, &DnsResolver::OnAnswer,
                   lookup.release());
  ArmTimer();
}

void DnsResolver::OnAnswer(void* arg, int status, int, ares_addrinfo* result) {
  std::unique_ptr<Lookup> lookup(static_cast<Lookup*>(arg));
  std::unique_ptr<ares_addrinfo, void (*)(ares_addrinfo*)> owned(result, &ares_freeaddrinfo);
  if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED) return;
  if (status == ARES_ENOTFOUND || status == ARES_ENODATA) {
    lookup->done(std::vector<SocketAddress>{});
    return;
  }
  if (status != ARES_SUCCESS) {
    lookup->done(absl::UnavailableError(ares_strerror(status)));
    return;
  }
  std::vector<SocketAddress> found;
  for (ares_addrinfo_node* n = result == nullptr ? nullptr : result->nodes; n != nullptr;
       n = n->ai_next) {
    if (n->ai_family != lookup->family || n->ai_addr == nullptr) continue;
    if (n->ai_addrlen != (n->ai_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6))) {
      continue;
    }
    found.emplace_back(n->ai_addr, n->ai_addrlen);
    SetPort(found.back(), lookup->port);
  }
  lookup->done(std::move(found));
}

void DnsResolver::ArmTimer() {
  if (channel_ == nullptr) return;
  timeval buffer{};
  if (timeval* next = ares_timeout(channel_, nullptr, &buffer); next != nullptr) {
    evtimer_add(timer_.get(), next);
  } else {
    evtimer_del(timer_.get());
  }
}

void DnsResolver::OnSocketState(void* arg, int fd, int readable, int writable) {
  auto* self = static_cast<DnsResolver*>(arg);
  if (!readable && !writable) {
    // Called before c-ares closes fd; freeing an event inside its own callback is safe.
    self->sockets_.erase(fd);
    return;
  }
  short what =
      static_cast<short>(EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0));
  EventPtr& ev = self->sockets_[fd];
  if (ev && event_get_events(ev.get()) == what) return;
  ev.reset(event_new(self->base_, fd, what, &DnsResolver::OnSocket, self));
  event_add(ev.get(), nullptr);
}

void DnsResolver::OnSocket(evutil_socket_t fd, short what, void* arg) {
  auto* self = static_cast<DnsResolver*>(arg);
  ares_process_fd(self->channel_, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
                  (what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
  self->ArmTimer();
}

void DnsResolver::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<DnsResolver*>(arg);
  ares_process_fd(self->channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  self->ArmTimer();
}

}  // namespace outrigger::net
