#include "proxy/net/listener.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include "proxy/base/log.h"

namespace outrigger::net {

absl::StatusOr<std::unique_ptr<Listener>> Listener::Bind(event_base* base,
                                                         const SocketAddress& address,
                                                         AcceptFn on_accept) {
  std::unique_ptr<Listener> self(new Listener(std::move(on_accept)));
  constexpr unsigned kFlags =
      LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT | LEV_OPT_CLOSE_ON_EXEC;
  self->listener_.reset(evconnlistener_new_bind(base, &Listener::OnAccept, self.get(), kFlags,
                                                /*backlog=*/4096, address.sockaddr_ptr(),
                                                static_cast<int>(address.length())));
  if (!self->listener_) {
    return absl::UnavailableError(
        fmt::format("cannot listen on {}: {}", address.ToString(), std::strerror(errno)));
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
