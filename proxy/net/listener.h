// Traffic listener sockets. Each worker binds its own socket to the same address with
// SO_REUSEPORT, so the kernel spreads connections across workers without a shared accept
// lock or a thundering herd.
#pragma once

#include <functional>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

namespace outrigger::net {

// Called on the worker's loop with an accepted, non-blocking socket and the peer address.
using AcceptFn = std::function<void(evutil_socket_t fd, const SocketAddress& peer)>;

// A bound, listening socket not yet served by any loop. A reload binds the sockets of new
// listeners on the control thread, so that a port in use refuses the reload before anything
// changes, and hands each to its worker, which adopts it into its loop. Closed on
// destruction unless adopted.
class ListenSocket {
 public:
  // Binds and listens on `address` (SO_REUSEADDR, SO_REUSEPORT, non-blocking, close-on-exec).
  static absl::StatusOr<ListenSocket> Bind(const SocketAddress& address);

  ListenSocket(ListenSocket&& other) noexcept
      : address_(other.address_), fd_(std::exchange(other.fd_, -1)) {}
  ListenSocket& operator=(ListenSocket&& other) noexcept;
  ListenSocket(const ListenSocket&) = delete;
  ListenSocket& operator=(const ListenSocket&) = delete;
  ~ListenSocket();

  const SocketAddress& address() const { return address_; }
  // Gives up ownership of the descriptor.
  evutil_socket_t Release() { return std::exchange(fd_, -1); }

 private:
  ListenSocket(const SocketAddress& address, evutil_socket_t fd) : address_(address), fd_(fd) {}

  SocketAddress address_;
  evutil_socket_t fd_ = -1;
};

class Listener {
 public:
  // Binds (ListenSocket::Bind) and serves `address` on `base`.
  static absl::StatusOr<std::unique_ptr<Listener>> Bind(event_base* base,
                                                        const SocketAddress& address,
                                                        AcceptFn on_accept);
  // Serves an already bound socket on `base` (the loop's own thread).
  static absl::StatusOr<std::unique_ptr<Listener>> Adopt(event_base* base, ListenSocket socket,
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
