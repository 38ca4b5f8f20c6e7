// Traffic listener sockets. Each worker binds its own socket to the same address with
// SO_REUSEPORT, so the kernel spreads connections across workers without a shared accept
// lock or a thundering herd.
#pragma once

#include <functional>

#include "absl/status/statusor.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

namespace outrigger::net {

// Called on the worker's loop with an accepted, non-blocking socket and the peer address.
using AcceptFn = std::function<void(evutil_socket_t fd, const SocketAddress& peer)>;

class Listener {
 public:
  // Binds and listens on `address` (SO_REUSEADDR, SO_REUSEPORT, non-blocking, close-on-exec).
  static absl::StatusOr<std::unique_ptr<Listener>> Bind(event_base* base,
                                                        const SocketAddress& address,
                                                        AcceptFn on_accept);

  // Stops accepting; the socket is closed. Connections already accepted are unaffected.
  void Close() { listener_.reset(); }

 private:
  explicit Listener(AcceptFn on_accept) : on_accept_(std::move(on_accept)) {}
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* self);
  static void OnError(evconnlistener* l, void* self);

  AcceptFn on_accept_;
  ListenerPtr listener_;
};

}  // namespace outrigger::net
