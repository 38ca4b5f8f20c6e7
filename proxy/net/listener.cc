#include "proxy/net/listener.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "proxy/base/log.h"

namespace outrigger::net {
namespace {

constexpr int kBacklog = 4096;

}  // namespace

absl::StatusOr<ListenSocket> ListenSocket::Bind(const SocketAddress& address) {
  auto fail = [&](const char* what) {
    return absl::UnavailableError(
        fmt::format("cannot listen on {}: {}: {}", address.ToString(), what, std::strerror(errno)));
  };
  evutil_socket_t fd =
      ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (fd < 0) return fail("socket");
  ListenSocket socket(address, fd);
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return fail("setsockopt");
  }
  if (::bind(fd, address.sockaddr_ptr(), address.length()) != 0) return fail("bind");
  if (::listen(fd, kBacklog) != 0) return fail("listen");
  return socket;
}

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) evutil_closesocket(fd_);
    address_ = other.address_;
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) evutil_closesocket(fd_);
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Bind(event_base* base,
                                                         const SocketAddress& address,
                                                         AcceptFn on_accept) {
  absl::StatusOr<ListenSocket> socket = ListenSocket::Bind(address);
  if (!socket.ok()) return socket.status();
  return Adopt(base, *std::move(socket), std::move(on_accept));
}

absl::StatusOr<std::unique_ptr<Listener>> Listener::Adopt(event_base* base, ListenSocket socket,
                                                          AcceptFn on_accept) {
  std::unique_ptr<Listener> self(new Listener(std::move(on_accept)));
  // Backlog 0: the socket already listens (ListenSocket::Bind).
  evutil_socket_t fd = socket.Release();
  self->listener_.reset(evconnlistener_new(base, &Listener::OnAccept, self.get(),
                                           LEV_OPT_CLOSE_ON_FREE, /*backlog=*/0, fd));
  if (!self->listener_) {
    evutil_closesocket(fd);
    return absl::UnavailableError(
        fmt::format("cannot serve {}: {}", socket.address().ToString(), std::strerror(errno)));
  }
  evconnlistener_set_error_cb(self->listener_.get(), &Listener::OnError);
  return self;
}

void Listener::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  self->on_accept_(fd, SocketAddress(sa, static_cast<socklen_t>(len)));
}

void Listener::OnError(evconnlistener*, void*) {
  // EMFILE/ENFILE and friends: libevent keeps the listener armed; log and carry on. The
  // connections that could not be accepted stay in the kernel backlog.
  spdlog::warn("accept failed: {}", std::strerror(errno));
}

}  // namespace outrigger::net
