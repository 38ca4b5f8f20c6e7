// Traffic listener sockets. Each worker binds its own socket to the same address with
// SO_REUSEPORT, so the kernel spreads connections across workers without a shared accept
// lock or a thundering herd.
//
// A Listener stops accepting for two reasons, and resumes only when neither holds:
// - the owner paused it (Pause/Resume: its connection budget is spent). Clients wait in the
//   kernel's backlog rather than being accepted and closed (HAProxy's maxconn);
// - accept() failed for want of a resource (EMFILE, ENFILE, ENOBUFS, ENOMEM). A level-
//   triggered listen socket would wake the loop again at once and spin the CPU, so the
//   listener backs off for kAcceptBackoff and then tries again. It logs once per burst of
//   failures (a burst ends after kBurstQuiet without one), with the count of the last burst.
// Loop affinity: a Listener, the loop it serves.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "absl/status/statusor.h"
#include "proxy/net/address.h"
#include "proxy/net/event.h"

namespace outrigger::net {

// Called on the worker's loop with an accepted, non-blocking socket and the peer address.
using AcceptFn = std::function<void(evutil_socket_t fd, const SocketAddress& peer)>;
// Called on the worker's loop each time accepting backs off for want of a resource.
using BackoffFn = std::function<void()>;

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
  static constexpr std::chrono::milliseconds kAcceptBackoff{100};
  static constexpr std::chrono::seconds kBurstQuiet{1};

  // Binds (ListenSocket::Bind) and serves `address` on `base`.
  static absl::StatusOr<std::unique_ptr<Listener>> Bind(event_base* base,
                                                        const SocketAddress& address,
                                                        AcceptFn on_accept,
                                                        BackoffFn on_backoff = nullptr);
  // Serves an already bound socket on `base` (the loop's own thread).
  static absl::StatusOr<std::unique_ptr<Listener>> Adopt(event_base* base, ListenSocket socket,
                                                         AcceptFn on_accept,
                                                         BackoffFn on_backoff = nullptr);

  // Stops (or restarts) taking connections from the backlog. Idempotent.
  void Pause();
  void Resume();
  bool paused() const { return paused_; }
  bool backing_off() const { return backing_off_; }

  // Stops accepting; the socket is closed. Connections already accepted are unaffected.
  void Close();

 private:
  Listener(AcceptFn on_accept, BackoffFn on_backoff)
      : on_accept_(std::move(on_accept)), on_backoff_(std::move(on_backoff)) {}
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* sa, int len, void* self);
  static void OnError(evconnlistener* l, void* self);
  static void OnBackoffOver(evutil_socket_t, short, void* self);
  void Apply();

  AcceptFn on_accept_;
  BackoffFn on_backoff_;
  ListenerPtr listener_;
  EventPtr backoff_timer_;
  bool paused_ = false;
  bool backing_off_ = false;
  int64_t last_failure_ns_ = 0;  // MonoNanos of the last accept failure (0: none yet)
  uint64_t burst_failures_ = 0;  // accept failures in the current (or last) burst
};

}  // namespace outrigger::net
